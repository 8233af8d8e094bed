"""The weight average's batch-norm statistics, re-estimated from G's own samples."""

import json

import numpy as np
import torch

from gankit.ema import standing_stats
from gankit.nets import DCGANGenerator, MLPGenerator

from .images_util import fake_mnist


def _bns(G):
    return [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_standing_stats_are_the_average_of_g_own_batch_statistics():
    torch.manual_seed(0)
    G = DCGANGenerator(channels=1, resolution=16, z_dim=8, width=8)
    first = _bns(G)[0]
    first.running_mean.fill_(5.0)  # stale statistics, as copied from another G's weights
    seen = []
    hook = first.register_forward_hook(
        lambda m, inp, out: seen.append((inp[0].mean((0, 2, 3)), inp[0].var((0, 2, 3)))))
    assert standing_stats(G, batches=3, batch=16, seed=1) == len(_bns(G)) > 0
    hook.remove()
    assert not G.training and first.momentum == 0.1  # the layer's own momentum is back
    # a cumulative average over the three batches, not a momentum-weighted one
    assert torch.allclose(first.running_mean, torch.stack([m for m, _ in seen]).mean(0),
                          atol=1e-6)
    assert torch.allclose(first.running_var, torch.stack([v for _, v in seen]).mean(0),
                          atol=1e-5)
    assert first.num_batches_tracked == 3


def test_standing_stats_are_reproducible_and_feed_a_conditional_g_every_class():
    torch.manual_seed(0)
    G = DCGANGenerator(channels=1, resolution=16, z_dim=8, width=8, n_classes=3)
    labels = []
    G.embed.register_forward_hook(lambda m, inp, out: labels.append(inp[0]))
    standing_stats(G, batches=2, batch=4, seed=1)
    assert sorted(torch.cat(labels).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2]  # 8 slots in turn
    a = [b.running_mean.clone() for b in _bns(G)]
    standing_stats(G, batches=2, batch=4, seed=1)
    assert all(torch.equal(x, b.running_mean) for x, b in zip(a, _bns(G)))


def test_a_g_without_batch_norm_is_left_alone():
    G = MLPGenerator(dim=2, z_dim=4, width=8, depth=2, norm="none")
    before = [p.clone() for p in G.parameters()]
    assert standing_stats(G, batches=2, batch=4) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters()))


def _tiny_run(tmp_path, *extra):
    from .test_train_images import cli, tiny_images

    run = tmp_path / "run"
    code, text = cli("train", "mnist", *tiny_images(tmp_path, "train.ema=0.9", *extra), "--out",
                     run, "--quiet")
    assert code == 0, text
    return run


def test_runs_load_with_standing_stats_where_sample_bn_stats_says(tmp_path):
    from gankit import config
    from gankit.load import load_run

    assert config.load("mnist", []).sample.bn_stats == "standing"  # the preset's choice
    run = _tiny_run(tmp_path, "sample.bn_stats=saved")
    saved, standing = load_run(run), load_run(run, bn_stats="standing")
    assert (saved.bn_stats, standing.bn_stats) == ("saved", "standing")
    by_hand = load_run(run)
    standing_stats(by_hand.G)
    for a, b, c in zip(_bns(saved.G), _bns(standing.G), _bns(by_hand.G)):
        assert torch.equal(b.running_mean, c.running_mean)  # the same fixed-seed estimate
        assert not torch.equal(a.running_mean, b.running_mean)
    assert load_run(tmp_path / "run", bn_stats=None).bn_stats == "saved"


def test_eval_and_sample_take_the_run_choice_or_the_flag(tmp_path):
    from .test_train_images import cli

    run = _tiny_run(tmp_path)  # the mnist preset: standing
    outs = {}
    for flag in ([], ["--bn-stats", "saved"], ["--bn-stats", "standing"]):
        code, text = cli("sample", run, "-n", 6, "--out", tmp_path / "s.npy", *flag)
        assert code == 0, text
        outs[tuple(flag)] = np.load(tmp_path / "s.npy")
    assert np.array_equal(outs[()], outs[("--bn-stats", "standing")])
    assert not np.array_equal(outs[()], outs[("--bn-stats", "saved")])
    fake_mnist(tmp_path / "data", split="test")
    code, text = cli("eval", run, "--metrics", "fid", "--features", "digits", "-n", 20)
    assert code == 0, text
    assert json.JSONDecoder().raw_decode(text)[0]["bn_stats"] == "standing"
    code, text = cli("eval", run, "--metrics", "fid", "--features", "digits", "-n", 20,
                     "--bn-stats", "saved")
    assert code == 0 and "bn_stats" not in json.JSONDecoder().raw_decode(text)[0]
    code, text = cli("sample", run, "-n", 2, "--out", tmp_path / "x.npy", "--bn-stats", "x")
    assert code == 2 and "'x' is not one of 'saved', 'standing'" in text


def test_runs_saved_before_bn_stats_resume_and_the_choice_is_kept(tmp_path):
    from .test_train_images import cli, tiny_images

    run = _tiny_run(tmp_path, "train.steps=3", "sample.bn_stats=saved")
    for meta in (run / "checkpoints").glob("*.json"):  # as checkpoints were written before
        saved = json.loads(meta.read_text())
        saved["config"]["sample"] = {"rejection": "none", "quantile": 1.0}
        meta.write_text(json.dumps(saved))
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace('bn_stats = "saved"\n', ""))
    assert "bn_stats" not in toml.read_text()
    code, text = cli("train", "mnist", *tiny_images(tmp_path, "train.ema=0.9",
                                                    "sample.bn_stats=saved"),
                     "--out", run, "--resume", "--quiet")
    assert code == 0, text
    code, text = cli("train", "mnist", *tiny_images(tmp_path, "train.ema=0.9"), "--out", run,
                     "--resume", "--quiet")  # the preset's standing is a change
    assert code == 2 and "sample.bn_stats" in text


def test_standing_stats_move_nothing_but_the_batch_norm_statistics():
    torch.manual_seed(0)
    G = DCGANGenerator(channels=1, resolution=16, z_dim=8, width=8, spectral_norm=True,
                       hidden=16)
    bn_keys = {f"{name}.{b}" for name, m in G.named_modules() if m in _bns(G)
               for b in ("running_mean", "running_var", "num_batches_tracked")}
    before = {k: v.clone() for k, v in G.state_dict().items()}
    standing_stats(G, batches=2, batch=8)
    after = G.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in bn_keys)
    assert all(torch.equal(before[k], after[k]) for k in before if k not in bn_keys)
