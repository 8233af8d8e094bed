"""Metrics: perfect samples score perfectly, a collapsed generator is caught, references agree."""

import numpy as np
import pytest
import torch
from scipy import stats

from gankit.data import build
from gankit.metrics import column_w1, mixture_metrics, sequence_metrics, univariate_metrics


def draw(kind, n, seed=0, **options):
    data = build(kind, options)
    return data, data.draw(n, torch.Generator().manual_seed(seed)).numpy()


@pytest.mark.parametrize("kind,modes", [("ring", 8), ("grid", 25)])
def test_real_samples_score_perfectly(kind, modes):
    data, x = draw(kind, 2500)
    m = data.metrics(x)
    assert m["modes"] == modes
    # 3 sigma holds 1 - exp(-4.5) = 98.9% of a 2-D Gaussian's mass
    assert m["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.006)
    assert m["reverse_kl"] < 0.01


def test_exact_means_score_exactly():
    data = build("grid", {})
    x = np.repeat(data.means, 100, axis=0)
    m = data.metrics(x)
    assert (m["modes"], m["high_quality"], m["reverse_kl"]) == (25, 1.0, pytest.approx(0.0))


def test_collapsed_generator_is_caught():
    data = build("ring", {})
    collapsed = np.repeat(data.means[:1], 2500, axis=0) + 0.001
    m = data.metrics(collapsed)
    assert m["modes"] == 1 and m["reverse_kl"] == pytest.approx(np.log(8))
    half = np.repeat(data.means[:4], 625, axis=0)
    assert data.metrics(half)["reverse_kl"] == pytest.approx(np.log(2))


def test_off_mode_samples_are_low_quality():
    data = build("ring", {})
    between = np.zeros((100, 2))  # the ring's centre: far from every mode
    m = data.metrics(between)
    assert m["high_quality"] == 0 and m["modes"] == 0 and m["reverse_kl"] == float("inf")


def test_reverse_kl_by_hand():
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    x = np.array([[0.0, 0.0]] * 3 + [[10.0, 0.0]])
    m = mixture_metrics(x, means, 1.0)
    p = np.array([0.75, 0.25])
    assert m["reverse_kl"] == pytest.approx(np.sum(p * np.log(p / 0.5)))


def test_modes_of_different_widths_are_assigned_in_their_own_standard_deviations():
    # PacGAN's MetricLogger: the nearest mode in std units, high quality below 3 of them
    means, stds = np.array([[0.0], [1.0]]), np.array([0.05, 1.0])
    x = np.array([[0.3], [0.0], [1.0]])  # 0.3: 6 stds from mode 0, 0.7 from mode 1
    m = mixture_metrics(x, means, stds)
    p = np.array([1 / 3, 2 / 3])  # 0.0 to mode 0; 0.3 and 1.0 to mode 1
    assert m["high_quality"] == 1.0 and m["reverse_kl"] == pytest.approx(np.sum(p * np.log(2 * p)))
    data, real = draw("mixture1d", 2500, means=[0, 1], std=[0.05, 1.0])
    assert data.metrics(real)["high_quality"] > 0.99  # the target itself scores as the target


def test_univariate_against_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(4, 1.25, 5000)
    m = univariate_metrics(x, stats.norm(4, 1.25), 1.25)
    # KS by hand: the largest gap between the empirical CDF (just before/after each point) and F
    f = stats.norm(4, 1.25).cdf(np.sort(x))
    i = np.arange(1, len(x) + 1)
    assert m["ks"] == pytest.approx(max((i / len(x) - f).max(), (f - (i - 1) / len(x)).max()))
    big = stats.norm(4, 1.25).rvs(400_000, random_state=1)
    assert m["w1"] == pytest.approx(stats.wasserstein_distance(x, big), abs=5e-3)
    assert m["w1_std"] < 0.05
    shifted = univariate_metrics(x + 0.5, stats.norm(4, 1.25), 1.25)
    assert shifted["w1"] == pytest.approx(0.5, abs=0.03)
    collapsed = univariate_metrics(np.full(5000, 4.0), stats.norm(4, 1.25), 1.25)
    assert collapsed["ks"] > 0.45 and collapsed["w1_std"] > 0.7


def test_column_w1_against_scipy():
    rng = np.random.default_rng(0)
    ref, x = rng.normal(0, [1, 100], (500, 2)), rng.normal(0.5, [1, 100], (400, 2))
    out = column_w1(x, ref)
    for j in range(2):
        assert out[j] == pytest.approx(stats.wasserstein_distance(x[:, j], ref[:, j])
                                       / ref[:, j].std())


def test_sequence_metrics():
    data, x = draw("sequence", 10_000)
    m = data.metrics(x)
    assert m["valid"] == 1.0 and max(m["ks_a"], m["ks_b"], m["ks_c"]) < 0.02
    broken = x.copy()
    broken[:5000, 4] += 0.5
    assert sequence_metrics(broken)["valid"] == pytest.approx(0.5)
    collapsed = np.tile(x[:1], (1000, 1))
    m = sequence_metrics(collapsed)
    assert m["valid"] == 1.0 and m["ks_a"] > 0.2  # valid but not diverse: KS catches it


def test_gaussian1d_real_samples_meet_the_target():
    data, x = draw("gaussian1d", 10_000)
    m = data.metrics(x)
    assert m["w1_std"] < 0.03 and m["ks"] < 0.02
