"""The game's rules: what each step may change, and the stabilisers doing what they say."""

import copy
import json
import signal

import numpy as np
import pytest
import torch

from gankit import checkpoint
from gankit.data import build
from gankit.errors import DivergenceError, GankitError
from gankit.losses import LOSSES, GANLoss
from gankit.train import build_state, d_step, fit, g_step, make_fake


def setup(tiny, *overrides):
    cfg = tiny("ring", *overrides)
    data = build(cfg.data.kind, cfg.data.options)
    return cfg, data, build_state(cfg, data, torch.device("cpu"))


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("d_opts", [[], ["discriminator.norm=batch",
                                             "discriminator.spectral_norm=true"]])
def test_g_step_never_changes_d_nor_leaves_gradients_on_it(tiny, d_opts):
    cfg, data, st = setup(tiny, *d_opts)
    d_step(st, data.sample(32, st.rng), None, cfg, 0.0)  # D has Adam state and maybe grads
    st.opt_d.zero_grad(set_to_none=True)
    before_d, before_g = params(st.D), params(st.G)
    d_state = {k: v.clone() for k, v in st.D.state_dict().items()}  # weights and buffers
    out = g_step(st, None, 32, cfg, 0.0)
    assert same(before_d, params(st.D))
    assert all(torch.equal(v, st.D.state_dict()[k]) for k, v in d_state.items())
    assert all(p.grad is None for p in st.D.parameters())
    assert all(p.requires_grad for p in st.D.parameters())  # unfrozen again afterwards
    assert not same(before_g, params(st.G))
    assert out["g_grad_norm"] > 0


def test_d_step_changes_only_d_and_sees_detached_fakes(tiny):
    cfg, data, st = setup(tiny)
    before_g, before_d = params(st.G), params(st.D)
    d_step(st, data.sample(32, st.rng), None, cfg, 0.0)
    assert same(before_g, params(st.G))
    assert all(p.grad is None for p in st.G.parameters())
    assert not same(before_d, params(st.D))


def test_a_shared_fake_batch_runs_g_once_for_both_steps(tiny):
    cfg, data, st = setup(tiny, "train.share_fake=true")
    calls = []
    st.G.register_forward_hook(lambda *_: calls.append(1))
    before_d = params(st.D)
    fake = make_fake(st, 32, None)
    d_step(st, data.sample(32, st.rng), None, cfg, 0.0, (), fake)
    assert all(p.grad is None for p in st.G.parameters())  # D's step saw the fakes detached
    after_d, before_g = params(st.D), params(st.G)
    g_step(st, None, 32, cfg, 0.0, (), fake)
    assert len(calls) == 1
    assert not same(before_d, after_d) and same(after_d, params(st.D))
    assert not same(before_g, params(st.G))


def count_d_steps(tiny, tmp_path, monkeypatch, *overrides):
    import gankit.train as train

    calls = []
    real = train.d_step
    monkeypatch.setattr(train, "d_step", lambda *a, **k: calls.append(1) or real(*a, **k))
    fit(tiny("ring", *overrides), tmp_path, progress=False)
    return len(calls)


def test_n_critic_and_d_pretraining(tiny, tmp_path, monkeypatch):
    assert count_d_steps(tiny, tmp_path / "a", monkeypatch, "train.steps=4") == 4
    assert count_d_steps(tiny, tmp_path / "b", monkeypatch, "train.steps=4",
                         "train.n_critic=5") == 20
    assert count_d_steps(tiny, tmp_path / "c", monkeypatch, "train.steps=4", "train.n_critic=2",
                         "train.d_pretrain=7") == 15


def test_weight_clipping_bounds_every_d_parameter(tiny):
    cfg, data, st = setup(tiny, "loss.name=wasserstein", "loss.clip=0.01", "train.lr_d=0.1")
    for _ in range(3):
        d_step(st, data.sample(32, st.rng), None, cfg, 0.0)
    assert max(p.abs().max().item() for p in st.D.parameters()) <= 0.01


def test_label_smoothing_changes_only_the_real_target(tiny):
    cfg, data, st = setup(tiny, "loss.label_smoothing=0.2")
    seen = []
    original = LOSSES["nonsaturating"]

    def spy(real, fake, target):
        seen.append(target)
        return original.d(real, fake, target)

    LOSSES["nonsaturating"] = GANLoss(spy, original.g, True, "")
    try:
        d_step(st, data.sample(32, st.rng), None, cfg, 0.0)
    finally:
        LOSSES["nonsaturating"] = original
    assert seen == [pytest.approx(0.8)]


def test_instance_noise_blurs_d_inputs(tiny):
    cfg, data, st = setup(tiny)
    seen = []
    forward = st.D.forward
    st.D.forward = lambda x: seen.append(x.detach().clone()) or forward(x)
    real = data.sample(32, st.rng)
    d_step(st, real, None, cfg, 0.5)
    assert (seen[0] - real).std() == pytest.approx(0.5, rel=0.3)
    seen.clear()
    d_step(st, real, None, cfg, 0.0)
    assert torch.equal(seen[0], real)


def test_ema_generator_trails_the_generator(tiny, tmp_path):
    st = fit(tiny("ring", "train.ema=0.9", "train.steps=10"), tmp_path, progress=False)
    ema, g = params(st.G_ema), params(st.G)
    assert not same(ema, g)
    assert st.G_eval is st.G_ema
    assert all(not p.requires_grad for p in st.G_ema.parameters())


def test_ema_update_formula():
    from torch import nn

    from gankit.ema import ema_update

    ema, model = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        ema.weight.fill_(1.0)
        model.weight.fill_(3.0)
    ema_update(ema, model, 0.9)
    assert torch.allclose(ema.weight, torch.full((1, 2), 0.9 * 1.0 + 0.1 * 3.0))


def test_linear_lr_decay_and_instance_noise_annealing(tiny, tmp_path, monkeypatch):
    import gankit.train as train

    noise = []
    real = train.d_step
    monkeypatch.setattr(train, "d_step",
                        lambda st, r, y, c, s, *a: noise.append(s) or real(st, r, y, c, s, *a))
    st = fit(tiny("ring", "train.steps=10", "train.lr_decay=linear", "train.lr_g=1e-3",
                  "train.instance_noise=0.2"), tmp_path, progress=False)
    # the last step (index 9) ran at lr * (1 - 9/10)
    assert st.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert noise == pytest.approx([0.2 * (1 - i / 10) for i in range(10)])


def test_wall_time_budget_stops_with_a_checkpoint(tiny, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import gankit.train as train

    clock = iter(range(0, 10**6, 7))  # every reading of the clock is 7 s later
    monkeypatch.setattr(train, "time", SimpleNamespace(time=lambda: next(clock)))
    st = fit(tiny("ring", "train.steps=1000", "train.max_minutes=1",
                  "train.checkpoint_every=500"), tmp_path, progress=False)
    assert 1 < st.step < 20  # stopped after about 60 s of the fake clock, not at step 1,000
    assert (tmp_path / "checkpoints" / f"step_{st.step:08d}.json").exists()
    # the stop's record (off the log steps, every 5) is marked: a resume replaces it
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == st.step and last["stopped"] is True


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny, tmp_path,
                                                                          monkeypatch, capsys):
    import gankit.train as train

    g_calls = []
    real_g = train.g_step
    monkeypatch.setattr(train, "g_step", lambda *a: g_calls.append(1) or real_g(*a))
    original = LOSSES["nonsaturating"]
    cfg = tiny("ring", "train.steps=30", "train.checkpoint_every=10")
    calls = {"n": 0}

    def breaks_at_step_15(real, fake, target):
        calls["n"] += 1
        loss = original.d(real, fake, target)
        return loss * float("nan") if calls["n"] > 15 else loss

    LOSSES["nonsaturating"] = GANLoss(breaks_at_step_15, original.g, True, "")
    try:
        # steps 15-17 fail: back to step 10, twice (train.max_rollbacks), failing each time
        with pytest.raises(DivergenceError, match=r"step 12: .*NaN/Inf for 3 steps in a row "
                           r"after 2 return\(s\) to step 10, .*\(last good checkpoint: step 10\)"):
            fit(cfg, tmp_path, progress=False)
    finally:
        LOSSES["nonsaturating"] = original
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.json")) == [
        "step_00000010.json"]
    assert len(g_calls) == 15  # no G step against a D whose step failed (from step 16 on)
    err = capsys.readouterr().err
    assert "warning at step 17: the loss was NaN/Inf for 3 steps in a row; went back to " \
        "the checkpoint of step 10 (return 1 of at most 2)" in err
    assert "warning at step 12:" in err and "(return 2 of at most 2)" in err
    with pytest.raises(DivergenceError, match=r"step 17: .*NaN/Inf for 3 steps in a row, so "
                       r"training stopped \(last good checkpoint: step 10\)"):
        calls["n"] = 0
        LOSSES["nonsaturating"] = GANLoss(breaks_at_step_15, original.g, True, "")
        try:  # without returns to a checkpoint, the first 3 failures stop the run
            fit(tiny("ring", "train.steps=30", "train.max_rollbacks=0"), tmp_path / "b",
                progress=False)
        finally:
            LOSSES["nonsaturating"] = original


def test_skipped_steps_are_counted_and_reported(tiny, tmp_path, capsys, monkeypatch):
    # every other D update fails, never 3 in a row: the run goes on
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at(set(range(2, 21, 2))))
    st = fit(tiny("ring", "train.steps=20"), tmp_path, progress=False)
    assert st.step == 20
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(r.get("skipped", 0) for r in records) == 10
    assert capsys.readouterr().err.count("were skipped because a loss was NaN/Inf") == 4


def test_a_skipped_step_leaves_the_nets_statistics_as_they_were(tiny, tmp_path, monkeypatch):
    # one Inf in one real batch: D's batch norm saw it in its forward pass, but the step is
    # skipped, so its running statistics must not keep it (the run used to die at the next save)
    cfg = tiny("ring", "train.steps=10", "discriminator.norm=batch", "generator.norm=batch")
    data = build(cfg.data.kind, cfg.data.options)
    calls = {"n": 0}
    batch = type(data).batch

    def one_bad_batch(self, n, rng):
        x, y = batch(self, n, rng)
        calls["n"] += 1
        if calls["n"] == 3:
            x = x.clone()
            x[0, 0] = float("inf")
        return x, y

    monkeypatch.setattr(type(data), "batch", one_bad_batch)
    st = fit(cfg, tmp_path, progress=False)
    assert st.step == 10 and checkpoint.list_steps(tmp_path / "checkpoints")[-1] == 10
    assert all(torch.isfinite(b).all() for b in [*st.D.buffers(), *st.G.buffers()])
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert sum(r.get("skipped", 0) for r in records) == 1


def test_no_checkpoint_of_non_finite_weights_and_which_is_kept(tiny, tmp_path):
    cfg, data, st = setup(tiny)
    with torch.no_grad():
        next(st.G.parameters()).fill_(float("inf"))
    from gankit.state_io import save_checkpoint

    with pytest.raises(DivergenceError, match="non-finite.*no checkpoint was saved before"):
        save_checkpoint(st, cfg, tmp_path)
    st.step = 5
    with torch.no_grad():
        next(st.G.parameters()).fill_(0.0)
    save_checkpoint(st, cfg, tmp_path)
    with torch.no_grad():
        next(st.G.parameters()).fill_(float("inf"))
    st.step = 6
    with pytest.raises(DivergenceError, match=r"the last good checkpoint \(step 5\) is kept"):
        save_checkpoint(st, cfg, tmp_path)


@pytest.mark.parametrize("loss,penalty", [
    ("minimax", "none"), ("nonsaturating", "r1"), ("wasserstein", "gradient_penalty"),
    ("hinge", "none"), ("least_squares", "none"),
])
def test_every_loss_trains_end_to_end(tiny, tmp_path, loss, penalty):
    cfg = tiny("grid", f"loss.name={loss}", f"loss.penalty={penalty}", "discriminator.norm=layer",
               "sample.rejection=none")  # the preset's DRS reads D as a ratio: no critic
    data = build(cfg.data.kind, cfg.data.options)
    g0, d0 = (params(m) for m in (build_state(cfg, data, torch.device("cpu")).G,
                                  build_state(cfg, data, torch.device("cpu")).D))
    st = fit(cfg, tmp_path, progress=False)
    assert st.step == 20
    assert not same(g0, params(st.G)) and not same(d0, params(st.D))  # both players moved
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert all(np.isfinite([r["d_loss"], r["g_loss"], r["penalty"]]).all() for r in records)
    if penalty != "none":
        assert all(r["penalty"] > 0 for r in records)


def test_a_lazy_penalty_is_left_out_or_weighted_by_its_interval(tiny):
    """loss.penalty_every=k: a skipped step is the unpenalised update; a penalised one uses
    penalty_weight * k (Karras et al. 2020)."""
    def updated(*overrides, penalise=True):
        cfg, data, st = setup(tiny, "discriminator.norm=layer", *overrides)
        real, fake = data.sample(32, st.rng), make_fake(st, 32, None)
        d_step(st, real, None, cfg, 0.0, (), fake, penalise=penalise)
        return params(st.D)

    lazy = ("loss.penalty=r1", "loss.penalty_weight=10", "loss.penalty_every=4")
    assert same(updated(*lazy, penalise=False), updated())  # no penalty at all
    assert same(updated(*lazy), updated("loss.penalty=r1", "loss.penalty_weight=40"))
    assert not same(updated(*lazy), updated())


def test_fit_penalises_only_every_kth_step(tiny, tmp_path):
    cfg = tiny("grid", "loss.penalty=r1", "loss.penalty_every=3", "discriminator.norm=layer",
               "train.log_every=1", "sample.rejection=none")
    fit(cfg, tmp_path, progress=False)
    records = _records(tmp_path)
    # A record of step s averages G step s - 1 (0-based), penalised where (s - 1) % 3 == 0.
    assert [r["step"] for r in records if "penalty" in r] == list(range(1, 21, 3))
    assert all(r["penalty"] > 0 for r in records if "penalty" in r)


def test_fit_learns_a_gaussian(tiny, tmp_path):
    """A real (short) training run moves G's samples onto the target."""
    from gankit.sampling import evaluate

    cfg = tiny("gaussian1d", "train.steps=600", "train.batch_size=128", "train.lr_g=2e-3",
               "train.lr_d=2e-3", "generator.width=32", "discriminator.width=32",
               "train.checkpoint_every=1000")
    data = build(cfg.data.kind, cfg.data.options)
    st0 = build_state(cfg, data, torch.device("cpu"))
    before = evaluate(st0.G, data)["w1_std"]
    st = fit(cfg, tmp_path, progress=False)
    after = evaluate(copy.deepcopy(st.G), data)["w1_std"]
    assert after < 0.25 < before


def test_ctrl_c_while_pictures_are_drawn_still_checkpoints(tiny, tmp_path, monkeypatch):
    from gankit import viz

    cfg = tiny("ring", "train.steps=20", "train.picture_every=7", "train.checkpoint_every=5")
    real_save = viz.save_pictures

    def interrupted(state, *args, **kwargs):  # Ctrl-C lands while step 7's pictures are drawn
        real_save(state, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(viz, "save_pictures", interrupted)
    st = fit(cfg, tmp_path / "run", progress=False)
    assert st.step == 7 and checkpoint.list_steps(tmp_path / "run" / "checkpoints")[-1] == 7


def test_a_bounded_output_must_reach_the_data(tiny, tmp_path):
    with pytest.raises(GankitError, match="generator.out='tanh'.*spans"):
        fit(tiny("ring", "generator.out=tanh"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # refused before a run folder is made


def test_evaluate_refuses_a_generator_of_other_data_and_no_samples(tiny):
    from gankit.sampling import evaluate

    cfg, data, st = setup(tiny)  # the ring: 2-D
    g1 = tiny("gaussian1d")
    one_d = build(g1.data.kind, g1.data.options)
    with pytest.raises(GankitError, match=r"shape \(2,\); this data's are \(1,\)"):
        evaluate(st.G, one_d)
    for n in (0, -3):
        with pytest.raises(GankitError, match=f"n={n}: evaluate at least 1 sample"):
            evaluate(st.G, data, n=n)
    assert evaluate(st.G, data, n=5)["n"] == 5


def test_callbacks_see_every_logged_record(tiny, tmp_path):
    seen = []
    st = fit(tiny("ring"), tmp_path, progress=False,
             callbacks=[lambda state, record: seen.append((state.step, dict(record)))])
    logged = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r for _, r in seen] == logged and [s for s, _ in seen] == [5, 10, 15, 20]
    assert st.step == 20


_NONSATURATING = LOSSES["nonsaturating"]


def _nan_d_loss_at(calls_that_fail):
    original = _NONSATURATING  # not LOSSES[...]: it may hold an earlier patch, counting on
    calls = {"n": 0}

    def d(real, fake, target):
        calls["n"] += 1
        loss = original.d(real, fake, target)
        return loss * float("nan") if calls["n"] in calls_that_fail else loss

    return GANLoss(d, original.g, True, "")


def test_a_failed_d_step_ends_the_step_and_the_average_of_g_waits(tiny, tmp_path, monkeypatch):
    # n_critic 2, the first D update fails: the second must not run on top of it, and the EMA of
    # G must not move on a skipped step (G did not)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({1}))
    cfg = tiny("ring", "train.steps=1", "train.n_critic=2", "train.ema=0.5")
    data = build(cfg.data.kind, cfg.data.options)
    init = build_state(cfg, data, torch.device("cpu"))
    st = fit(cfg, tmp_path / "a", progress=False)
    assert same(params(init.D), params(st.D)) and same(params(init.G), params(st.G))
    # step 1 trains, step 2 is skipped: G's average stays where step 1 left it
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({2}))
    one = fit(tiny("ring", "train.steps=2", "train.ema=0.5"), tmp_path / "b", until=1,
              progress=False)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({2}))
    two = fit(tiny("ring", "train.steps=2", "train.ema=0.5"), tmp_path / "c", progress=False)
    assert same(params(one.G_ema), params(two.G_ema))


def test_the_count_of_bad_steps_in_a_row_survives_a_resume(tiny, tmp_path, monkeypatch):
    cfg = tiny("ring", "train.steps=10", "train.checkpoint_every=1", "train.max_rollbacks=0")
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({4, 5, 6}))
    with pytest.raises(DivergenceError, match="step 5: .*NaN/Inf for 3 steps"):
        fit(cfg, tmp_path / "straight", progress=False)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({4, 5, 6}))
    fit(cfg, tmp_path / "split", until=5, progress=False)  # steps 4 and 5 failed
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({1}))  # the resume's first
    with pytest.raises(DivergenceError, match="step 5: .*NaN/Inf for 3 steps"):
        fit(cfg, tmp_path / "split", resume=True, progress=False)


def _records(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_burst_of_failures_goes_back_to_the_last_checkpoint_and_on(tiny, tmp_path,
                                                                     monkeypatch):
    # steps 12-14 fail: the run returns to its checkpoint of step 12, the last from before them
    # (not 14's, written between failures), drops the later ones and trains on with other batches
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({13, 14, 15}))
    cfg = tiny("ring", "train.steps=20", "train.checkpoint_every=2", "train.keep_checkpoints=20")
    steps_before = []
    real_remove = checkpoint.remove_after
    monkeypatch.setattr(checkpoint, "remove_after", lambda folder, step: (
        steps_before.append((step, checkpoint.list_steps(folder))), real_remove(folder, step)))
    st = fit(cfg, tmp_path, progress=False)
    assert st.step == 20 and all(torch.isfinite(p).all() for p in st.G.parameters())
    assert steps_before == [(12, [2, 4, 6, 8, 10, 12, 14])]
    records = _records(tmp_path)
    assert [r["step"] for r in records] == [5, 10, 15, 20]  # one course, no step twice
    assert records[2]["rolled_back_from"] == 14 and records[2]["skipped"] == 3
    meta = json.loads((tmp_path / "checkpoints" / "step_00000020.json").read_text())
    assert meta["rollbacks"] == 0  # good checkpoints since: a later burst may go back again
    # from step 10 on, the batches differ from the first attempt's (a replay would fail again)
    monkeypatch.setitem(LOSSES, "nonsaturating", _NONSATURATING)
    clean = fit(cfg, tmp_path / "clean", progress=False)
    assert not same(params(clean.G), params(st.G))


@pytest.mark.parametrize("until,before,after", [
    (12, set(), {1, 2, 3}),  # stopped at step 12, then the resume's steps 12-14 fail
    (13, {13}, {1, 2}),  # stopped amid the failures: step 12 failed before the stop
])
def test_a_run_that_went_back_resumes_as_if_never_stopped(tiny, tmp_path, monkeypatch, until,
                                                          before, after):
    cfg = tiny("ring", "train.steps=20", "train.checkpoint_every=5")
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({13, 14, 15}))
    straight = fit(cfg, tmp_path / "straight", progress=False)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at(before))
    fit(cfg, tmp_path / "split", until=until, progress=False)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at(after))
    split = fit(cfg, tmp_path / "split", resume=True, progress=False)
    assert same(params(straight.G), params(split.G)) and same(params(straight.D), params(split.D))
    # the same records, skipped steps counted alike (the stop's record was dropped on the way)
    assert _records(tmp_path / "straight") == [
        {k: v for k, v in r.items() if k != "time"} | {"time": s["time"]}
        for r, s in zip(_records(tmp_path / "split"), _records(tmp_path / "straight"))]
    assert checkpoint.list_steps(tmp_path / "split" / "checkpoints") == [10, 15, 20]


def test_max_rollbacks_is_checked(tiny):
    with pytest.raises(GankitError, match="max_rollbacks.* must be >= 0"):
        tiny("ring", "train.max_rollbacks=-1")


def test_going_back_with_one_checkpoint_kept_or_none_saved(tiny, tmp_path, monkeypatch):
    # keep_checkpoints=1: the checkpoints written during the failures (steps 4 and 5) do not
    # push out the last one from before them (step 3), which the run goes back to
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({4, 5, 6}))
    cfg = tiny("ring", "train.steps=10", "train.checkpoint_every=1", "train.keep_checkpoints=1")
    st = fit(cfg, tmp_path / "one", progress=False)
    records = _records(tmp_path / "one")
    assert st.step == 10 and [r["step"] for r in records] == [5, 10]
    assert records[0]["rolled_back_from"] == 5 and records[0]["skipped"] == 3
    # failures before the first checkpoint: nothing to go back to
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({1, 2, 3}))
    with pytest.raises(DivergenceError, match=r"step 2: .* with no checkpoint from before it to "
                       r"go back to, "
                       r"so training stopped \(last good checkpoint: none\)"):
        fit(tiny("ring"), tmp_path / "none", progress=False)


def _nan_grad_d_loss_at(calls_that_fail):
    """A finite D loss whose gradient is NaN (0 * sqrt(0) backwards): D's weights turn NaN."""
    original, calls = _NONSATURATING, {"n": 0}

    def d(real, fake, target):
        calls["n"] += 1
        loss = original.d(real, fake, target)
        return loss + 0 * torch.sqrt(0 * fake.sum()) if calls["n"] in calls_that_fail else loss

    return GANLoss(d, original.g, True, "")


def test_weights_turned_nan_by_a_finite_loss_send_the_run_back_too(tiny, tmp_path, monkeypatch,
                                                                   capsys):
    cfg = tiny("ring", "train.steps=30", "train.max_bad_steps=5")
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_grad_d_loss_at({18}))
    straight = fit(cfg, tmp_path / "straight", progress=False)  # D's weights NaN from step 18
    assert straight.step == 30 and all(torch.isfinite(p).all() for p in straight.D.parameters())
    assert "step 19: the weights became NaN/Inf; went back to the checkpoint of step 10" in \
        capsys.readouterr().err  # due at step 20: no checkpoint of NaN weights
    # stopped with NaN weights: nothing is saved, and the resume replays from step 10
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_grad_d_loss_at({18}))
    fit(cfg, tmp_path / "split", until=19, progress=False)
    assert "with NaN/Inf weights, so no checkpoint was written" in capsys.readouterr().err
    assert checkpoint.list_steps(tmp_path / "split" / "checkpoints") == [10]
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_grad_d_loss_at({8}))
    split = fit(cfg, tmp_path / "split", resume=True, progress=False)
    assert same(params(straight.G), params(split.G)) and same(params(straight.D), params(split.D))


@pytest.mark.parametrize("keep,fails,until,resumed_fails", [
    (3, {7, 8, 9}, 5, {2, 3, 4}),  # no periodic checkpoint before the failures: both stop
    (1, {13, 14, 15}, 12, {1, 2, 3}),  # the stop's checkpoint must not push out step 10
])
def test_going_back_does_not_depend_on_where_a_run_was_stopped(tiny, tmp_path, monkeypatch, keep,
                                                                fails, until, resumed_fails):
    cfg = tiny("ring", "train.steps=20", f"train.keep_checkpoints={keep}")

    def finish(run_dir, **kw):
        try:
            return fit(cfg, run_dir, progress=False, **kw)
        except DivergenceError as e:
            return str(e)

    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at(fails))
    straight = finish(tmp_path / "straight")
    monkeypatch.setitem(LOSSES, "nonsaturating", _NONSATURATING)
    fit(cfg, tmp_path / "split", until=until, progress=False)
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at(resumed_fails))
    split = finish(tmp_path / "split", resume=True)
    if isinstance(straight, str):
        assert "no checkpoint from before it" in straight  # (the split run kept its stop's)
        assert split.split(" (last good")[0] == straight.split(" (last good")[0]
    else:
        assert same(params(straight.G), params(split.G)) and same(params(straight.D),
                                                                  params(split.D))
        assert checkpoint.list_steps(tmp_path / "split" / "checkpoints") == [20]


def test_checkpoints_written_on_skipped_steps_stay_targets(tiny, tmp_path, monkeypatch):
    # one step fails just before each checkpoint (bad_steps 1 in it), then a burst: the run
    # goes back to step 30 and retention kept keep_checkpoints of them
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({10, 20, 30, 34, 35, 36}))
    cfg = tiny("ring", "train.steps=40", "train.keep_checkpoints=3")
    st = fit(cfg, tmp_path, progress=False)
    assert st.step == 40 and _records(tmp_path)[-2]["rolled_back_from"] == 35
    assert checkpoint.list_steps(tmp_path / "checkpoints") == [20, 30, 40]


def test_a_changed_checkpoint_every_keeps_the_old_checkpoints_as_targets(tiny, tmp_path,
                                                                        monkeypatch):
    fit(tiny("ring", "train.steps=40"), tmp_path, until=20, progress=False)  # at 10, 20
    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_d_loss_at({3, 4, 5}))
    st = fit(tiny("ring", "train.steps=40", "train.checkpoint_every=15"), tmp_path, resume=True,
             progress=False)  # steps 22-24 fail: back to 20, written when every was 10
    assert st.step == 40 and checkpoint.list_steps(tmp_path / "checkpoints") == [20, 30, 40]


def test_the_command_says_when_a_stop_wrote_no_checkpoint(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gankit.cli import main

    from .conftest import TINY

    monkeypatch.setitem(LOSSES, "nonsaturating", _nan_grad_d_loss_at({2}))
    result = CliRunner().invoke(main, ["train", "ring", *TINY, "train.max_bad_steps=5",
                                       "--until", "3", "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "stopped at step 3 of 20, without a checkpoint (pictures" in result.output
    assert "--resume" not in result.output.splitlines()[-1]
