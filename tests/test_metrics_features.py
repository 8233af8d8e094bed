"""FID, KID, Inception Score, precision/recall and density/coverage against their formulas."""

import numpy as np
import pytest
import scipy.linalg

from gankit.metrics.density_coverage import density_coverage
from gankit.metrics.fid import fid, fid_from_statistics, statistics
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, mmd2_unbiased
from gankit.metrics.precision_recall import precision_recall


def reference_fid(x, y):
    """pytorch-fid's computation: scipy's sqrtm of S1 S2, real part, with its epsilon retry."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * covmean.real))


@pytest.mark.parametrize("n, d", [(500, 16), (300, 64), (100, 40)])  # last: singular covariances
def test_fid_equals_the_scipy_reference(n, d):
    rng = np.random.default_rng(d)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    y = rng.normal(0.3, 1.5, size=(n, d)) @ rng.normal(size=(d, d))
    assert fid(x, y) == pytest.approx(reference_fid(x, y), rel=1e-6, abs=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_gaussians_follow_the_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 32))
    assert abs(fid(x, x)) < 1e-8
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    a, b = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
    assert fid_from_statistics(mu1, a, mu2, b) == pytest.approx(9 + (1 + 0 + 4))
    mu, s = statistics(x)
    assert mu.shape == (32,) and s.shape == (32, 32)
    with pytest.raises(ValueError):
        statistics(x[:1])


def test_unbiased_mmd_matches_the_sum_over_pairs():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 5)), rng.normal(1, 1, size=(9, 5))

    def k(a, b):
        return (a @ b / 5 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(600, 20)), rng.normal(size=(600, 20))
    same = kid(x, y, subsets=20, subset_size=200)
    other = kid(x, rng.normal(0.5, 1, size=(600, 20)), subsets=20, subset_size=200)
    assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3
    assert other["kid"] > 10 * max(same["kid_std"], 1e-3)
    assert kid(x, y, subsets=5, subset_size=100, seed=3) == kid(x, y, subsets=5,
                                                                subset_size=100, seed=3)


def test_kid_of_sets_smaller_than_a_subset_has_no_spread_to_report():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 8)), rng.normal(0.3, 1, size=(300, 8))
    assert kid(x, y) == {"kid": pytest.approx(mmd2_unbiased(x, y)), "kid_std": None}
    assert kid(x, rng.normal(size=(400, 8)))["kid_std"] > 0  # subsets of the larger set differ


@pytest.mark.parametrize("metric", [fid, kid, precision_recall, density_coverage])
def test_feature_metrics_refuse_nan(metric):
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    fake[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metric(real, fake)


def test_inception_score_splits_as_the_reference_code():
    logits = np.random.default_rng(7).normal(size=(1005, 10)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    parts = [p[i * 1005 // 10:(i + 1) * 1005 // 10] for i in range(10)]  # the reference's slices
    scores = [np.exp((q * (np.log(q) - np.log(q.mean(0)))).sum(1).mean()) for q in parts]
    assert inception_score(logits) == pytest.approx({"is": np.mean(scores),
                                                     "is_std": np.std(scores)})


def test_inception_score_spans_one_to_the_number_of_classes():
    assert inception_score(np.zeros((100, 10)))["is"] == pytest.approx(1.0)
    confident = np.eye(10)[np.arange(1000) % 10] * 50  # each sample sure, classes balanced
    score = inception_score(confident)
    assert score["is"] == pytest.approx(10.0, rel=1e-6) and score["is_std"] < 1e-6
    one_class = np.eye(10)[np.zeros(1000, int)] * 50
    assert inception_score(one_class)["is"] == pytest.approx(1.0, abs=1e-6)


def brute_radii(x, k):
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def test_precision_recall_and_density_coverage_match_brute_force():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(80, 3)), rng.normal(0.7, 1.2, size=(60, 3))
    d = np.linalg.norm(fake[:, None] - real[None], axis=2)  # (fake, real)
    r_real, r_fake = brute_radii(real, 3), brute_radii(fake, 3)
    precision = (d <= r_real[None]).any(1).mean()
    recall = (r_fake[None] >= d.T).any(1).mean()
    assert precision_recall(real, fake, k=3) == pytest.approx(
        {"precision": precision, "recall": recall})
    r5 = brute_radii(real, 5)
    density = (d < r5[None]).sum() / (5 * len(fake))  # Naeem et al.: strictly inside
    coverage = (d < r5[None]).any(0).mean()
    assert density_coverage(real, fake, k=5) == pytest.approx(
        {"density": density, "coverage": coverage})


def test_precision_recall_separate_quality_from_diversity():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(1000, 8))
    same = precision_recall(real, rng.normal(size=(1000, 8)))
    assert same["precision"] > 0.8 and same["recall"] > 0.8  # k-NN balls: not quite 1 in 8-D
    collapsed = real[rng.integers(0, 1000, 1000) % 5] + 0.01 * rng.normal(size=(1000, 8))
    pr = precision_recall(real, collapsed)
    assert pr["precision"] > 0.95 and pr["recall"] < 0.05  # realistic but not diverse
    dc = density_coverage(real, collapsed)
    assert dc["coverage"] < 0.05
    far = precision_recall(real, rng.normal(10, 1, size=(1000, 8)))
    assert far["precision"] == 0 and far["recall"] == 0
    assert density_coverage(real, real) == {"density": 1.0, "coverage": 1.0}
    matched = density_coverage(real, rng.normal(size=(5000, 8)))
    assert 0.8 < matched["density"] < 1.2 and matched["coverage"] > 0.95
