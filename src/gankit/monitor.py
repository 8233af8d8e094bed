"""The mode-collapse monitor: cheap checks during training that say, in plain words, what is going
wrong and what to try.

Every `train.monitor_every` steps (from step `train.monitor_after` on) the monitor looks at the last
logging window's statistics and at `SAMPLES` fresh samples of G:
- `d_wins`: D classifies >= 99 % of real and fake samples correctly (losses with a decision
  boundary): the game is lost for G and its learning signal fades.
- `g_gradient`: G's gradient norm has fallen 100-fold below its peak in this run while D tells
  real from fake (accuracy >= 75 %; at equilibrium a flat D leaves G no gradient either).
- `coverage` (mixtures): the samples miss whole modes (PacGAN's protocol, 2,500 samples).
- `classes` (MNIST and Stacked MNIST digits): the shipped classifier finds a digit (in any colour
  channel) in under a quarter of its fair share of the samples, or the digits' histogram is
  lopsided (KL to uniform above 0.15 nats).
- `modes` (Stacked MNIST): the samples hold under half the distinct digit triples that a sampler
  of all 1,000 would show in as many draws.
- `duplicates` (any images): many samples have a near-copy among the others (nearest neighbour
  closer than a quarter of the typical real nearest-neighbour distance, in 16x16 pixel space).
- `recall` (any images): few real images lie near any sample (Kynkäänniemi et al.'s recall,
  k = 3, in the same pixel space) compared with two real sets of the same size.
Each alarm is a dict {"check", "message"}; fit() writes them into metrics.jsonl and prints them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from gankit.metrics.neighbours import kth_radii
from gankit.metrics.precision_recall import precision_recall
from gankit.sampling import generate

SAMPLES = 500  # per image check: a fraction of a second on 2 cores
SEED = 7  # fixed latent samples, so successive checks see the same z
RARE = 0.25  # a digit is missing below a quarter of its fair share (500 samples: under 13)
LOPSIDED = 0.15  # nats of KL(class histogram || uniform): 500 real digits score ~0.01
WINNING = 0.75  # D accuracy above which a vanished G gradient means D wins
CHANNELS = ("red", "green", "blue")
TRY = {
    "collapse": "try PacGAN packing (discriminator.pack=4), a lower D learning rate "
                "(train.lr_d), the Wasserstein loss with a gradient penalty "
                "(loss.name=wasserstein loss.penalty=gradient_penalty, with "
                "sample.rejection=none where the run samples by DRS) or R1 (loss.penalty=r1 "
                "loss.penalty_every=4, with discriminator.norm=none where D has batch norm)",
}


def d_wins_advice(loss: str) -> str:
    """What to try when D wins, for this loss (label smoothing only where it has a meaning)."""
    tips = ["a lower D learning rate (train.lr_d)"]
    if loss != "nonsaturating":
        tips.append("the non-saturating loss (loss.name=nonsaturating)")
    tips.append("instance noise (train.instance_noise=0.1)")
    if loss in ("minimax", "nonsaturating", "least_squares"):
        tips.append("one-sided label smoothing (loss.label_smoothing=0.1)")
    tips.append("R1 (loss.penalty=r1, with discriminator.norm=none where D has batch norm)")
    return "try " + ", ".join(tips[:-1]) + " or " + tips[-1]


def _alarm(check: str, message: str) -> dict:
    return {"check": check, "message": message}


def pixel_features(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) -> (N, <= 16*16*C) in [0, 1]: average-pooled, cheap, resolution-free."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.flatten(1).double().numpy()


def nearest_distances(features: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest other point in the set."""
    return kth_radii(features, 1)


class Monitor:
    """Holds what the checks compare against: G's gradient peak and real-data baselines."""

    def __init__(self, data, loss: str = "nonsaturating"):
        self.data, self.loss = data, loss
        self.grad_peak = 0.0
        self.is_image = hasattr(data, "resolution")
        self._baselines = None  # image data: computed at the first check, not at start-up

    def baselines(self) -> dict | None:
        """Pixel features of real images and what two disjoint real sets score against each
        other; None when the data has too few images for them."""
        if self._baselines is None:
            real = self.data.reference(2 * SAMPLES, seed=SEED)
            # a small set comes back whole and in file order (class folders one after the
            # other): mixed, or the "two real sets" would be two classes and recall 0
            real = real[np.random.default_rng(SEED).permutation(len(real))]
            if len(real) < 20:
                self._baselines = {}
            else:
                half = len(real) // 2
                a, b = pixel_features(real[:half]), pixel_features(real[half:2 * half])
                nearest = nearest_distances(a)
                median = float(np.median(nearest))
                self._baselines = {"real": a, "nn": median,
                                   "dup": float((nearest < median / 4).mean()),
                                   "recall": precision_recall(a, b, k=3)["recall"]}
        return self._baselines or None

    def observe(self, record: dict) -> None:
        """Follow every metrics.jsonl record (replayed on resume, so checks resume exactly)."""
        grad = record.get("g_grad_norm")
        if isinstance(grad, float) and math.isfinite(grad):
            self.grad_peak = max(self.grad_peak, grad)

    def replay(self, records: list[dict]) -> None:
        """Follow metrics.jsonl afresh: a resume, or a return to a checkpoint, replays it."""
        self.grad_peak = 0.0
        for record in records:
            self.observe(record)

    def stats_checks(self, record: dict) -> list[dict]:
        """Checks on a logging window's means: D accuracy and G's gradient norm."""
        self.observe(record)
        alarms = []
        acc = record.get("d_acc")
        if acc is not None and acc >= 0.99:
            alarms.append(_alarm("d_wins", (
                f"D wins: it classifies {acc:.1%} of real and generated samples correctly, so "
                f"G learns little from it (with the minimax loss its gradient vanishes); "
                f"{d_wins_advice(self.loss)}")))
        grad = record.get("g_grad_norm")
        # a flat D at equilibrium (D(x) = D(G(z)) = 1/2) also gives G no gradient: only a
        # vanished gradient while D tells real from fake is the failure
        d_ahead = acc is None or acc >= WINNING
        if (isinstance(grad, float) and math.isfinite(grad) and grad < self.grad_peak / 100
                and d_ahead):
            alarms.append(_alarm("g_gradient", (
                f"G's gradient has vanished: its norm is {grad:.2g}, "
                f"{self.grad_peak / max(grad, 1e-30):.0f}x below its peak {self.grad_peak:.2g} "
                "in this run, so G has stopped learning; usually D wins (see d_wins) or the "
                "minimax loss saturates: try the non-saturating loss "
                "(loss.name=nonsaturating), a lower D learning rate (train.lr_d) or R1")))
        return alarms

    def sample_checks(self, G, to_data) -> list[dict]:
        """Checks on fresh samples of G, suited to the data."""
        data = self.data
        if not self.is_image:  # vectors: only mixtures have modes to count
            if not hasattr(data, "means"):
                return []
            x = to_data(generate(G, data.default_eval_n, SEED)).numpy()
            scores = data.metrics(x)
            if scores["modes"] < scores["n_modes"]:
                return [_alarm("coverage", (
                    f"G's samples cover only {scores['modes']} of the {scores['n_modes']} modes "
                    f"({data.default_eval_n:,} samples): mode collapse if it lasts; "
                    f"{TRY['collapse']}"))]
            return []
        images = to_data(generate(G, SAMPLES, SEED)).numpy()  # conditional: classes in turn
        return self._digit_check(images) + self._image_checks(images)

    def _digit_check(self, images: np.ndarray) -> list[dict]:
        if self.data.name not in ("mnist", "stacked-mnist"):
            return []
        from gankit.metrics.classifier import classify
        from gankit.metrics.images import kl_to_uniform
        n, alarms = len(images), []
        # Stacked MNIST: one digit per colour channel, each classified on its own.
        digits = [classify(images[..., c]).argmax(1) for c in range(images.shape[-1])]
        for c, d in enumerate(digits):
            counts = np.bincount(d, minlength=10)
            p = counts / n
            kl = kl_to_uniform(counts)
            rare = [str(i) for i in range(10) if counts[i] < RARE * n / 10]
            where = f" in the {CHANNELS[c]} channel" if len(digits) > 1 else ""
            if rare:
                alarms.append(_alarm("classes", (
                    f"mode collapse: among {n} samples the digit classifier finds only "
                    f"{10 - len(rare)} of 10 digits{where} (rare or absent: {', '.join(rare)}; "
                    f"each should hold about {n // 10}); {TRY['collapse']}")))
            elif kl > LOPSIDED:
                top = int(counts.argmax())
                alarms.append(_alarm("classes", (
                    f"partial mode collapse: the digits{where} are lopsided (KL to uniform "
                    f"{kl:.2f} nats; {top}s are {p[top]:.0%} of {n} samples, about 10 % each "
                    f"expected); {TRY['collapse']}")))
        if len(digits) == 3:  # the channels' digits may each be balanced yet tied together
            modes = len(np.unique(100 * digits[0] + 10 * digits[1] + digits[2]))
            expected = 1000 * (1 - (1 - 1 / 1000) ** n)  # distinct triples of a uniform sampler
            if modes < expected / 2:
                alarms.append(_alarm("modes", (
                    f"mode collapse: {n} samples hold {modes} distinct digit triples, where a "
                    f"sampler of all 1,000 would show about {expected:.0f}; {TRY['collapse']}")))
        return alarms

    def _image_checks(self, images: np.ndarray) -> list[dict]:
        base = self.baselines()
        if base is None:  # too few real images to compare with
            return []
        fake = pixel_features(images)
        alarms = []
        dup = float((nearest_distances(fake) < base["nn"] / 4).mean())
        if dup > max(0.1, 3 * base["dup"]):
            alarms.append(_alarm("duplicates", (
                f"G repeats itself: {dup:.0%} of {len(images)} samples have a near-copy among "
                f"the others (real images: {base['dup']:.0%}), so it ignores much of z; "
                f"{TRY['collapse']}")))
        recall = precision_recall(base["real"], fake, k=3)["recall"]
        if recall < 0.3 * base["recall"]:
            alarms.append(_alarm("recall", (
                f"G covers little of the data: recall {recall:.2f} in pixel space (two real "
                f"sets of the same size: {base['recall']:.2f}); {TRY['collapse']}")))
        return alarms
