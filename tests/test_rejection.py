"""Discriminator rejection sampling against known density ratios, and through the CLI."""

import json

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from gankit import config
from gankit.errors import GankitError
from gankit.nets.dcgan import _minibatch_std
from gankit.rejection import Sampler, drs, log_ratio

from .conftest import TINY
from .test_cli import run


class Shift(nn.Module):
    """G(z) = z + y: N(y, 1) samples, (B, 1); the class shifts a conditional draw."""

    def __init__(self, n_classes: int = 0):
        super().__init__()
        self.z_dim, self.dim, self.n_classes = 1, 1, n_classes
        self.anchor = nn.Parameter(torch.zeros(()))  # a device to run on

    def forward(self, z, y=None):
        return z if y is None else z + y[:, None].float()


class Ratio(nn.Module):
    """D's logit = the exact log ratio of N(y + 1, 1) to N(y, 1): (x - y) - 1/2, summed over
    a pack of `pack` samples (PacGAN: the pack's samples are independent)."""

    def __init__(self, pack: int = 1, conditional: bool = False):
        super().__init__()
        self.pack, self.conditional = pack, conditional
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x, y=None):
        r = x[:, 0] - (0 if y is None else y.float()) - 0.5
        return r.reshape(-1, self.pack).sum(1)


class GroupedRatio(Ratio):
    """The exact ratio as a D with the minibatch standard deviation, trained on groups of 4,
    knows it only within such groups: a sample whose group shows no spread looks fake."""

    minibatch_std = True

    def __init__(self):
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x, y=None):
        self.batches.append(len(x))
        std = _minibatch_std(x[:, :, None, None])[:, 0, 0, 0]  # (B,): its group's spread
        return super().forward(x, y) - 50.0 * (std < 1e-3)


def normal_fit(x: np.ndarray, mean: float) -> float:
    """KS p-value of x against N(mean, 1)."""
    return stats.kstest(x, "norm", args=(mean, 1.0)).pvalue


def test_drs_turns_the_proposal_into_the_target_the_ratio_names():
    # G draws N(0, 1); D knows the exact ratio to N(1, 1): DRS must draw N(1, 1)
    out = drs(Shift(), Ratio(), 20_000, seed=0, loss="nonsaturating")
    x = out.x[:, 0].numpy()
    assert out.x.shape == (20_000, 1)
    assert abs(x.mean() - 1.0) < 0.03 and abs(x.std() - 1.0) < 0.03
    assert normal_fit(x, 1.0) > 0.01 and normal_fit(x, 0.0) < 1e-6
    # acceptance = E_G[r] / M = 1 / exp(max log r), with M from 10,000 burn-in draws
    assert 0.005 < out.accept_rate < 0.1
    assert out.proposals > 20_000 and out.log_m > 2.5


def test_a_lower_quantile_keeps_more_and_stays_near_the_target():
    exact = drs(Shift(), Ratio(), 5000, seed=1, loss="nonsaturating")
    loose = drs(Shift(), Ratio(), 5000, seed=1, loss="nonsaturating", quantile=0.9)
    assert loose.accept_rate > 3 * exact.accept_rate and loose.log_m < exact.log_m
    # every sample above the quantile is kept: the target is N(0, 1) x min(1, r(x) / M)
    grid = np.linspace(-8, 10, 20_001)
    weight = stats.norm.pdf(grid) * np.minimum(1.0, np.exp(grid - 0.5 - loose.log_m))
    expected = (grid * weight).sum() / weight.sum()
    assert 0.6 < expected < 0.9 and abs(loose.x.mean().item() - expected) < 0.04


def test_packs_are_kept_whole_and_their_samples_follow_the_target():
    out = drs(Shift(), Ratio(pack=2), 10_001, seed=2, loss="nonsaturating")
    x = out.x[:, 0].numpy()
    assert len(x) == 10_001 and out.proposals % 2 == 0
    assert abs(x.mean() - 1.0) < 0.04 and normal_fit(x, 1.0) > 0.01


def test_a_conditional_draw_keeps_the_classes_asked_for():
    labels = torch.tensor([0, 5] * 3000)
    out = drs(Shift(2), Ratio(conditional=True), 6000, seed=3, loss="nonsaturating",
              labels=labels)
    x = out.x[:, 0]
    for c in (0, 5):  # each slot: N(c + 1, 1), in the order asked
        xc = x[labels == c].numpy()
        assert abs(xc.mean() - (c + 1)) < 0.06 and normal_fit(xc, c + 1.0) > 0.01
    # by default the classes come in turn, as gankit.sampling.generate draws them
    default = drs(Shift(2), Ratio(conditional=True), 4000, seed=3, loss="nonsaturating").x[:, 0]
    assert abs(default[1::2].mean() - default[::2].mean() - 1.0) < 0.1


def test_a_minibatch_std_d_scores_every_sample_within_a_whole_group():
    # alone (the last pending slot), a sample's group has no spread: were it scored so, D
    # would reject it every time, and DRS would give up
    for n in (1, 3, 501):
        D = GroupedRatio()
        out = drs(Shift(), D, n, seed=6, loss="nonsaturating")
        assert len(out.x) == n and all(b % 4 == 0 for b in D.batches)
        if n < 4:  # after the burn-in's one batch: filled up to one group, not to a batch
            assert set(D.batches[1:]) == {4}
    x = drs(Shift(), GroupedRatio(), 10_000, seed=6, loss="nonsaturating").x[:, 0].numpy()
    assert abs(x.mean() - 1.0) < 0.04 and normal_fit(x, 1.0) > 0.01


def test_draws_are_reproducible_and_leave_the_nets_modes_alone():
    G, D = Shift(), Ratio()
    G.train()
    a = drs(G, D, 500, seed=4, loss="nonsaturating").x
    b = drs(G, D, 500, seed=4, loss="nonsaturating").x
    assert torch.equal(a, b) and G.training and D.training
    assert not torch.equal(a, drs(G, D, 500, seed=5, loss="nonsaturating").x)


def test_least_squares_output_is_read_as_d_star():
    t = torch.tensor([-3.0, 0.0, 2.0])  # log ratios
    d_star = torch.sigmoid(t)  # p / (p + q), what an LSGAN D with targets 0/1 estimates
    assert torch.allclose(log_ratio(d_star, "least_squares"), t, atol=1e-5)
    assert torch.equal(log_ratio(t, "minimax"), t)
    # outputs outside (0, 1) are clipped, not NaN
    assert torch.isfinite(log_ratio(torch.tensor([-0.5, 1.5]), "least_squares")).all()


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
def test_critics_estimate_no_ratio_and_are_refused(loss):
    with pytest.raises(GankitError, match="density ratio"):
        drs(Shift(), Ratio(), 10, seed=0, loss=loss)
    with pytest.raises(GankitError, match="sample.rejection='drs'.*minimax"):
        config.load("ring", ["sample.rejection=drs", f"loss.name={loss}", "loss.clip=0.01"])


def test_the_sample_section_is_checked():
    with pytest.raises(GankitError, match="sample.rejection 'dsr' is unknown .did you mean drs"
                                          ".*valid: drs, none"):
        config.load("ring", ["sample.rejection=dsr"])
    with pytest.raises(GankitError, match="sample.bn_stats 'standin' is unknown .did you mean "
                                          "standing.*valid: saved, standing"):
        config.load("ring", ["sample.bn_stats=standin"])
    with pytest.raises(GankitError, match=r"sample.quantile must be in \(0, 1\], got 0.0"):
        config.load("ring", ["sample.quantile=0"])
    with pytest.raises(GankitError, match=r"unknown key train.quantile \(quantile is a "
                                          r"\[sample\] key"):
        config.load("ring", ["train.quantile=0.9"])


def test_a_ratio_too_peaked_to_sample_is_a_clear_error():
    class Peaked(Ratio):
        def forward(self, x, y=None):
            return 200.0 * x[:, 0]  # M set by one sample in the burn-in's far tail

    with pytest.raises(GankitError, match="lower the quantile"):
        drs(Shift(), Peaked(), 100, seed=0, loss="nonsaturating")
    with pytest.raises(GankitError, match="all NaN"):
        drs(Shift(), type("Nan", (Ratio,), {"forward": lambda s, x, y=None: x[:, 0] * np.nan})(),
            10, seed=0, loss="nonsaturating")


def test_the_plain_sampler_is_g_itself():
    from gankit.sampling import generate

    plain = Sampler(Shift(), None, "hinge")(50, 6)
    assert plain.log_m is None and plain.proposals == 50
    assert torch.equal(plain.x, generate(Shift(), 50, 6))


def test_cli_eval_and_sample_draw_by_drs(tmp_path):
    out = tmp_path / "run"
    assert run("train", "ring", *TINY, "--out", out, "--quiet")[0] == 0
    code, text = run("eval", out, "--rejection", "drs", "--quantile", "0.9")
    assert code == 0, text
    record, _ = json.JSONDecoder().raw_decode(text)
    assert record["rejection"] == "drs" and record["quantile"] == 0.9
    assert 0 < record["accept_rate"] <= 1 and record["n"] == 2500
    plain, _ = json.JSONDecoder().raw_decode(run("eval", out)[1])
    assert "rejection" not in plain and "accept_rate" not in plain
    code, text = run("sample", out, "-n", 40, "--rejection", "drs", "--out", tmp_path / "s.npy")
    assert code == 0 and "kept by DRS from" in text
    assert np.load(tmp_path / "s.npy").shape == (40, 2)


def test_a_run_samples_by_drs_by_default_and_keeps_that_choice_on_resume(tmp_path):
    out = tmp_path / "run"
    assert run("train", "ring", *TINY, "sample.rejection=drs", "--out", out, "--until", 10,
               "--quiet")[0] == 0
    record, _ = json.JSONDecoder().raw_decode(run("eval", out)[1])
    assert record["rejection"] == "drs"
    none, _ = json.JSONDecoder().raw_decode(run("eval", out, "--rejection", "none")[1])
    assert "rejection" not in none
    # sample/eval read the checkpoint's config, which a resume with no steps left never
    # rewrites: a changed [sample] is refused, and --rejection chooses per command instead
    code, text = run("train", "ring", *TINY, "--out", out, "--resume", "--quiet")
    assert code == 2 and "in sample.rejection" in text
    assert run("train", "--resume", "--out", out, "--quiet")[0] == 0
    record, _ = json.JSONDecoder().raw_decode(run("eval", out)[1])
    assert record["step"] == 20 and record["rejection"] == "drs"


def test_runs_saved_before_the_sample_section_resume(tmp_path):
    out = tmp_path / "run"
    assert run("train", "ring", *TINY, "--out", out, "--until", 10, "--quiet")[0] == 0
    for meta in (out / "checkpoints").glob("*.json"):  # as checkpoints were written before
        saved = json.loads(meta.read_text())
        del saved["config"]["sample"]
        meta.write_text(json.dumps(saved))
    toml = out / "config.toml"
    toml.write_text(toml.read_text().split("[sample]")[0])
    code, text = run("train", "--resume", "--out", out, "--quiet")
    assert code == 0, text
    record, _ = json.JSONDecoder().raw_decode(run("eval", out)[1])
    assert record["step"] == 20 and "rejection" not in record
    # such a run samples without rejection unless asked, and a grid preset's DRS is a change
    code, text = run("eval", out, "--quantile", "0.5")
    assert code == 2 and "add --rejection drs" in text


def test_accept_rate_counts_whole_packs():
    out = drs(Shift(), Ratio(pack=2), 7, seed=0, loss="nonsaturating", burn_in=10)
    # 4 packs of 2 kept for 7 slots: 8 samples kept of the proposals, not 7
    assert len(out.x) == 7 and out.proposals % 2 == 0
    assert out.accept_rate == 8 / out.proposals


def test_cli_refuses_drs_on_a_critic_in_one_line(tmp_path):
    out = tmp_path / "run"
    code, text = run("train", "grid", *TINY, "loss.name=hinge", "--out", out)  # grid: DRS
    assert code == 2 and "sample.rejection=none" in text and "Traceback" not in text
    assert run("train", "grid", *TINY, "loss.name=hinge", "sample.rejection=none", "--out", out,
               "--quiet")[0] == 0
    code, text = run("eval", out, "--rejection", "drs")
    assert code == 2 and "--rejection drs reads D's output as a density ratio" in text
    assert "Traceback" not in text
