"""`gankit eval`: the world's own protocol and feature-space metrics of a trained run.

Metric names (`--metrics`, comma-separated):
- `world`: the data's own protocol: mixture modes / high quality / reverse KL (PacGAN, 2,500
  samples), sequence validity, 1-D distances, digit-classifier scores, Stacked MNIST modes and
  KL (26,000 samples).
- `fid`, `kid`, `pr` (precision/recall, k = 3), `dc` (density/coverage, k = 5), `is` (Inception
  Score): image runs only, on features of `n` generated images (default 10,000) against the
  reference set: the test split for MNIST, Fashion-MNIST and Stacked MNIST (10,000 images, the
  protocol of Lucic et al. 2018), the training images otherwise. Features come from InceptionV3
  (`inception`, the published protocol) or the shipped digit classifier (`digits`, grey 28x28
  digit data only; fast, not comparable with published figures). Real features are cached.
"""

from __future__ import annotations

import time

import numpy as np

from gankit.data import build as build_data
from gankit.errors import GankitError, closest
from gankit.metrics import fid as fid_lib
from gankit.metrics import kid as kid_lib
from gankit.metrics.cache import cached_features
from gankit.metrics.density_coverage import density_coverage
from gankit.metrics.inception_score import SPLITS, inception_score
from gankit.metrics.neighbours import min_points
from gankit.metrics.precision_recall import precision_recall
from gankit.sampling import evaluate as world_metrics

FEATURE_METRICS = ("fid", "kid", "pr", "dc", "is")
METRICS = ("world", *FEATURE_METRICS)
EXTRACTORS = ("inception", "digits")
TEST_SPLIT = ("mnist", "fashion-mnist", "stacked-mnist")  # data with a held-out test set
FID_N = 10_000
PR_K, DC_K = 3, 5  # neighbours: Kynkäänniemi et al.'s and Naeem et al.'s
# the fewest images each metric takes: (generated, real). Density/coverage draw balls around
# the real images only; the Inception Score uses none.
MIN_IMAGES = {"fid": (fid_lib.MIN_SAMPLES,) * 2, "kid": (kid_lib.MIN_SAMPLES,) * 2,
              "pr": (min_points(PR_K),) * 2, "dc": (1, min_points(DC_K)), "is": (SPLITS, 0)}


def parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in METRICS:
            raise GankitError(f"unknown metric {m!r}{closest(m, METRICS)}")
    if not names:
        raise GankitError(f"--metrics is empty; valid: {', '.join(METRICS)}")
    return list(dict.fromkeys(names))


def extractor(name: str, inception: str | None = None, device: str = "cpu"):
    if name == "inception":
        from gankit.metrics.inception import InceptionFeatures
        return InceptionFeatures(inception, device)
    if name == "digits":
        from gankit.metrics.classifier import DigitFeatures
        return DigitFeatures()
    raise GankitError(f"unknown feature extractor {name!r}{closest(name, EXTRACTORS)}")


def reference_images(cfg, data, n: int) -> np.ndarray:
    """The real images generated ones are compared with: (N, R, R, C) uint8."""
    if cfg.data.kind in TEST_SPLIT:
        if cfg.data.options.get("split") == "test":
            raise GankitError(f"this run trained on {cfg.data.kind}'s test split, the images "
                              "its scores compare against (the published protocol), so they "
                              "would mean nothing; train on data.split='train' to measure it")
        test = build_data(cfg.data.kind, {**cfg.data.options, "split": "test"})
        return test.reference(len(test) if cfg.data.kind != "stacked-mnist" else n)
    return data.reference(n)


def feature_metrics(real: np.ndarray, fake: np.ndarray, names: list[str], feats,
                    fake_images: np.ndarray | None = None) -> dict:
    """The feature-space metrics `names` of real and generated features (N, D)."""
    out: dict = {}
    if "fid" in names:
        out["fid"] = fid_lib.fid(real, fake)
    if "kid" in names:
        out |= kid_lib.kid(real, fake)
    if "pr" in names:
        out |= precision_recall(real, fake, k=PR_K)
    if "dc" in names:
        out |= density_coverage(real, fake, k=DC_K)
    if "is" in names:
        _need_logits(feats)
        out |= inception_score(feats.logits(fake_images))
    return out


def _need_logits(feats) -> None:
    if getattr(feats, "logits", None) is None:
        raise GankitError(f"the Inception Score needs class logits, which the {feats.name} "
                          "extractor's weights do not hold (the FID InceptionV3 file ends "
                          "at the pool layer); on digit data use --features digits")


def _check_before_extraction(wanted: list[str], feats, n: int, n_real: int) -> None:
    """Refuse what cannot be computed before the (slow) feature extraction, not after it."""
    if "is" in wanted:
        _need_logits(feats)
    for m in wanted:
        least, least_real = MIN_IMAGES[m]
        if n < least:
            raise GankitError(f"-n {n}: {m} needs at least {least} generated images")
        if n_real < least_real:
            raise GankitError(f"the reference set holds {n_real} real images; {m} needs at "
                              f"least {least_real} (train on more images to evaluate {m})")


def evaluate_run(loaded, names: list[str], n: int | None = None, seed: int = 2024,
                 features: str = "inception", inception: str | None = None,
                 device: str = "cpu", rejection: str | None = None,
                 quantile: float | None = None) -> dict:
    """Metrics `names` of a loaded run (gankit.load.LoadedRun) as one flat dict.

    Samples are drawn as the run's [sample] config says (`rejection`, `quantile` override it):
    with `drs`, the result names it, with the share of G's samples kept; G's re-estimated
    batch-norm statistics (load_run's `bn_stats`) are named too."""
    data = loaded.data
    draw = loaded.sampler(rejection, quantile)
    drs = draw.rejection == "drs"
    out: dict = {"rejection": "drs", "quantile": draw.quantile} if drs else {}
    if loaded.bn_stats != "saved":
        out["bn_stats"] = loaded.bn_stats
    if "world" in names:
        out |= world_metrics(loaded.G, data, n, seed, to_data=loaded.to_data, draw=draw)
    wanted = [m for m in names if m in FEATURE_METRICS]
    if not wanted:
        return out
    if not loaded.is_image:
        raise GankitError(f"metrics {', '.join(wanted)} need image data; this run learns "
                          f"{loaded.cfg.data.kind!r} vectors, for which only 'world' applies")
    if features == "digits" and data.name != "mnist":  # the classifier knows digits only
        raise GankitError(f"--features digits is the MNIST digit classifier; this run learns "
                          f"{data.name!r}, for which its features mean nothing (use --features "
                          "inception)")
    feats = extractor(features, inception, device)
    n = n or FID_N
    real_images = reference_images(loaded.cfg, data, n)
    _check_before_extraction(wanted, feats, n, len(real_images))
    start = time.perf_counter()
    # a conditional G draws its classes in turn, as the balanced test sets hold them
    drawn = draw(n, seed)
    fake_images = loaded.to_data(drawn.x).numpy()
    if drs:
        out["accept_rate"] = round(drawn.accept_rate, 4)
    fake = feats(fake_images)
    fake_s = time.perf_counter() - start
    real = cached_features(real_images, feats)
    out |= feature_metrics(real, fake, wanted, feats, fake_images)
    return out | {"features": features, "n_fake": n, "n_real": len(real),
                  "fake_features_s": round(fake_s, 1)}
