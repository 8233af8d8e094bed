"""Checkpoints: atomic, verified, pickle-free, and resume equals never stopping."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from gankit import checkpoint
from gankit.errors import GankitError
from gankit.train import fit


def weights(run_dir):
    tensors, meta = checkpoint.load(run_dir / "checkpoints")
    return tensors, meta


@pytest.mark.parametrize("extra", [
    [],
    ["train.ema=0.9", "loss.name=wasserstein", "loss.penalty=gradient_penalty",
     "train.n_critic=2", "train.instance_noise=0.1", "discriminator.spectral_norm=true",
     "generator.norm=batch", "train.d_pretrain=3", "loss.penalty_every=3"],
    ["discriminator.norm=batch", "generator.norm=batch", "train.lr_decay=linear",
     "discriminator.pack=2", "loss.name=least_squares", "loss.label_smoothing=0.1",
     "train.eval_every=3"],
    ["train.share_fake=true", "train.n_critic=2", "loss.name=minimax", "train.monitor_every=5",
     "train.monitor_after=5"],
])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(tiny, tmp_path, extra):
    cfg = tiny("ring", "train.steps=20", "train.checkpoint_every=7", *extra)
    fit(cfg, tmp_path / "straight", progress=False)
    fit(cfg, tmp_path / "split", until=11, progress=False)  # off a log step (every 5)
    _, meta = weights(tmp_path / "split")
    assert meta["step"] == 11 and meta["loop"]["stats"]["g_loss"][1] == 1  # step 11, unlogged
    fit(cfg, tmp_path / "split", resume=True, progress=False)
    a, meta_a = weights(tmp_path / "straight")
    b, meta_b = weights(tmp_path / "split")
    assert meta_a["step"] == meta_b["step"] == 20
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    logs = [[{k: v for k, v in json.loads(line).items() if k != "time"}
             for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
            for run in ("straight", "split")]
    # the stop's record at step 11 is replaced: the next one averages steps 11-15
    assert logs[0] == logs[1]
    # and its picture goes (the tiny runs draw only at the end): the same frames
    frames = [sorted(p.name for p in (tmp_path / run / "pictures").glob("world_*.png"))
              for run in ("straight", "split")]
    assert frames[0] == frames[1] == ["world_00000020.png"]


def test_checkpoint_files_are_safetensors_and_json_with_retention(tiny, tmp_path):
    fit(tiny("ring", "train.steps=20", "train.checkpoint_every=4", "train.keep_checkpoints=2",
             "train.ema=0.5"), tmp_path, progress=False)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000016.json", "step_00000016.safetensors",
                     "step_00000020.json", "step_00000020.safetensors"]
    meta = json.loads((tmp_path / "checkpoints" / "step_00000020.json").read_text())
    assert meta["step"] == 20 and meta["config"]["train"]["steps"] == 20
    tensors = load_file(str(tmp_path / "checkpoints" / "step_00000020.safetensors"))
    prefixes = {k.split(".")[0] for k in tensors}
    assert prefixes == {"G", "D", "G_ema", "opt_g", "opt_d", "rng", "data"}


@pytest.mark.parametrize("key,value", [("bad_steps", "x"), ("bad_steps", None),
                                       ("bad_steps", 2.7), ("rollbacks", "1")])
def test_a_non_integer_count_is_a_clear_error(tiny, tmp_path, key, value):
    fit(tiny("ring", "train.steps=4", "train.checkpoint_every=4"), tmp_path, progress=False)
    meta_path = tmp_path / "checkpoints" / "step_00000004.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {key: value}))
    with pytest.raises(GankitError, match=f"'{key}' must be an integer"):
        checkpoint.load(tmp_path / "checkpoints")


def test_a_missing_step_lists_the_steps_there_are(tiny, tmp_path):
    fit(tiny("ring", "train.steps=8", "train.checkpoint_every=4"), tmp_path, progress=False)
    with pytest.raises(GankitError, match="no checkpoint of step 5 .*its steps: 4, 8"):
        checkpoint.load(tmp_path / "checkpoints", 5)


def test_truncated_or_corrupt_checkpoint_is_a_clear_error(tiny, tmp_path):
    fit(tiny("ring", "train.steps=5", "train.checkpoint_every=5"), tmp_path, progress=False)
    st = tmp_path / "checkpoints" / "step_00000005.safetensors"
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(GankitError, match="step_00000005.safetensors.*truncated or corrupt"):
        fit(tiny("ring", "train.steps=5", "train.checkpoint_every=5"), tmp_path, resume=True,
            progress=False)
    js = st.with_suffix(".json")
    js.write_text("{not json")
    with pytest.raises(GankitError, match="step_00000005.json.*corrupt"):
        checkpoint.load(tmp_path / "checkpoints")


def test_resume_with_a_changed_config_names_the_keys(tiny, tmp_path):
    fit(tiny("ring", "train.steps=5"), tmp_path, progress=False)
    with pytest.raises(GankitError, match="differs .* in loss.name, train.lr_d"):
        fit(tiny("ring", "train.steps=5", "train.lr_d=0.1", "loss.name=hinge"), tmp_path,
            resume=True, progress=False)


def test_resume_of_a_missing_run_is_an_error_not_a_fresh_start(tiny, tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        fit(tiny("ring"), tmp_path / "nope", resume=True, progress=False)
    assert not (tmp_path / "nope").exists()
    fit(tiny("ring", "train.steps=5"), tmp_path / "done", progress=False)
    with pytest.raises(GankitError, match="already holds a run"):
        fit(tiny("ring", "train.steps=5"), tmp_path / "done", progress=False)


def test_config_toml_is_written_before_step_zero(tiny, tmp_path, monkeypatch):
    import gankit.train as train

    seen = []
    real = train.d_step
    monkeypatch.setattr(train, "d_step",
                        lambda *a: seen.append((tmp_path / "config.toml").is_file()) or real(*a))
    fit(tiny("ring", "train.steps=2"), tmp_path, progress=False)
    assert seen and all(seen)


SAVE_FOREVER = """
import sys, torch
from gankit import checkpoint
big = {"x": torch.zeros(4_000_000)}
step = 1
while True:
    checkpoint.save(sys.argv[1], step, big, {}, keep=2)
    step += 1
"""


def test_kill_mid_save_leaves_a_loadable_checkpoint(tmp_path):
    folder = tmp_path / "ck"
    checkpoint.save(folder, 0, {"x": torch.ones(3)}, {}, keep=2)
    # a separate interpreter (forking a process that holds torch's thread pool can deadlock)
    proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(folder)])
    deadline = time.time() + 60
    while not any(p.name.endswith(".tmp") for p in folder.iterdir()):  # busy writing
        assert time.time() < deadline, "the saving process never wrote a temporary file"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(p.name.endswith(".tmp") for p in folder.iterdir())  # killed mid-save
    tensors, meta = checkpoint.load(folder)  # the newest complete checkpoint loads, verified
    assert torch.equal(tensors["x"], torch.zeros(4_000_000) if meta["step"] else torch.ones(3))
    checkpoint.save(folder, 10**6, {"x": torch.ones(1)}, {}, keep=2)
    names = [p.name for p in folder.iterdir()]
    assert not any(n.endswith(".tmp") for n in names)  # stale temps removed
    assert len([n for n in names if n.endswith(".safetensors")]) == 2  # no orphans left


def test_a_full_disk_while_saving_is_an_os_error_naming_the_checkpoint(tmp_path, monkeypatch):
    from safetensors import SafetensorError

    def full(tensors, path):
        raise SafetensorError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full)
    with pytest.raises(OSError, match="No space left") as info:  # the CLI prints one line
        checkpoint.save(tmp_path, 1, {"x": torch.ones(3)}, {}, keep=2)
    assert info.value.filename == str(tmp_path / "step_00000001.safetensors")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_checkpoint_files_follow_the_umask(tmp_path):
    # safetensors creates its files 0600: a run folder shared with others was half unreadable
    old = os.umask(0o022)
    try:
        checkpoint.save(tmp_path, 1, {"x": torch.ones(3)}, {}, keep=2)
    finally:
        os.umask(old)
    for name in ("step_00000001.safetensors", "step_00000001.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_loading_never_unpickles(tmp_path, monkeypatch):
    import hashlib
    import pickle

    folder = tmp_path / "ck"
    checkpoint.save(folder, 1, {"x": torch.ones(3)}, {}, keep=1)
    path = folder / "step_00000001.safetensors"
    torch.save({"x": torch.ones(3)}, path)  # a pickle disguised as a checkpoint
    with pytest.raises(GankitError, match="truncated or corrupt"):
        checkpoint.load(folder)  # its hash does not match
    # with a matching hash it still reaches only safetensors' parser, never pickle
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix(".json").write_text(json.dumps(meta))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load"))
    with pytest.raises(GankitError, match="cannot be read"):
        checkpoint.load(folder)


def test_incomplete_checkpoint_metadata_is_a_clear_error(tiny, tmp_path):
    cfg = tiny("ring", "train.steps=5", "train.checkpoint_every=5")
    fit(cfg, tmp_path, progress=False)
    js = tmp_path / "checkpoints" / "step_00000005.json"
    meta = json.loads(js.read_text())
    del meta["opt_g"]
    js.write_text(json.dumps(meta))
    with pytest.raises(GankitError, match="lacks opt_g"):
        fit(cfg, tmp_path, resume=True, progress=False)


def test_ctrl_c_finishes_the_step_saves_and_resumes_exactly(tiny, tmp_path, monkeypatch):
    import gankit.train as train

    cfg = tiny("ring", "train.steps=12", "train.checkpoint_every=100")
    fit(cfg, tmp_path / "straight", progress=False)
    calls = []
    real = train.d_step

    def interrupted(*a):
        calls.append(1)
        if len(calls) == 5:  # Ctrl-C in the middle of step 5's update
            signal.raise_signal(signal.SIGINT)
        return real(*a)

    monkeypatch.setattr(train, "d_step", interrupted)
    st = fit(cfg, tmp_path / "split", progress=False)
    assert st.step == 5  # the step in flight was completed, not cut in half
    assert checkpoint.list_steps(tmp_path / "split" / "checkpoints") == [5]
    monkeypatch.setattr(train, "d_step", real)
    fit(cfg, tmp_path / "split", resume=True, progress=False)
    a, _ = weights(tmp_path / "straight")
    b, _ = weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_network_that_does_not_fit_names_the_keys_and_shapes():
    saved = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8))
    tensors = checkpoint.flatten_module("G", saved)
    no_bias = torch.nn.Sequential(torch.nn.Linear(2, 8, bias=False), torch.nn.BatchNorm1d(8))
    with pytest.raises(GankitError, match=r'step_9.safetensors: G does not fit .*"0.bias"'):
        checkpoint.unflatten_module("G", tensors, no_bias, "step_9.safetensors")
    wider = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16))
    with pytest.raises(GankitError, match=r"size mismatch for 0.weight"):
        checkpoint.unflatten_module("G", tensors, wider, "step_9.safetensors")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    from .conftest import tiny_config

    run_dir = tmp_path_factory.mktemp("saved") / "run"
    cfg = tiny_config("ring", "train.steps=8", "train.checkpoint_every=4")
    fit(cfg, run_dir, until=4, progress=False)
    return cfg, run_dir


def _tamper(run_dir, tensors=None, meta=None):
    """Rewrite checkpoint 4 with these changes and a matching SHA-256, as a person or another
    tool could: past the checksum, the contents themselves must be checked."""
    import hashlib

    from safetensors.torch import save_file

    path = run_dir / "checkpoints" / "step_00000004.safetensors"
    old = load_file(str(path))
    save_file({k: v for k, v in (old | (tensors or {})).items() if v is not None}, str(path))
    js = path.with_suffix(".json")
    new = json.loads(js.read_text()) | (meta or {})
    js.write_text(json.dumps(new | {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))


@pytest.mark.parametrize("change,match", [
    ({"tensors": lambda t: {"G.net.0.weight": t["G.net.0.weight"] * float("nan")}},
     r"holds NaN/Inf values in G\.net\.0\.weight"),
    ({"meta": {"step": 7}}, "says it is step 7, its name says 4"),
    ({"meta": {"bad_steps": -3}}, "'bad_steps' must be an integer >= 0"),
    ({"tensors": lambda t: {"foo.bar": torch.ones(2)}}, "tensors gankit does not know: foo.bar"),
    ({"tensors": lambda t: {"G.net.0.weight": t["G.net.0.weight"] > 0}},
     "G.net.0.weight is torch.bool, the network holds torch.float32"),
    ({"meta": {"config": "hello"}}, "'config' must be a JSON object"),
    ({"meta": {"net_shape": {"dim": "2"}}}, "'net_shape' must hold integers"),
    ({"meta": {"classes": ["a"]}}, "'classes' must list the 0 class names"),
    ({"tensors": lambda t: {"data.scale": None}}, "lacks data.scale"),
    ({"tensors": lambda t: {"data.shift": torch.zeros(3)}}, r"must be of shape \(2,\)"),
])
def test_a_tampered_checkpoint_is_refused_by_name(saved_run, tmp_path, change, match):
    import shutil

    from gankit.load import load_run

    cfg, base = saved_run
    run_dir = tmp_path / "run"
    shutil.copytree(base, run_dir)
    old = load_file(str(run_dir / "checkpoints" / "step_00000004.safetensors"))
    _tamper(run_dir, change.get("tensors", lambda t: {})(old), change.get("meta"))
    with pytest.raises(GankitError, match=match):
        load_run(run_dir)
    with pytest.raises(GankitError, match=match):
        fit(cfg, run_dir, resume=True, progress=False)


@pytest.mark.parametrize("change,match", [
    ({"tensors": lambda t: {"opt_d.state.0.exp_avg": torch.zeros(3)}},
     r"opt_d state does not fit \(exp_avg has shape \(3,\)"),
    ({"tensors": lambda t: {"rng.loop": torch.zeros(3, dtype=torch.uint8)}},
     "a random-number state does not fit"),
    ({"group": {"betas": [0.5]}}, "betas must be two numbers"),
    ({"group": {"lr": "x"}}, "lr must be a finite number"),
])
def test_a_tampered_optimizer_or_rng_state_is_refused_on_resume(saved_run, tmp_path, change,
                                                               match):
    import shutil

    cfg, base = saved_run
    run_dir = tmp_path / "run"
    shutil.copytree(base, run_dir)
    ck = run_dir / "checkpoints" / "step_00000004"
    meta = json.loads(ck.with_suffix(".json").read_text())
    for group in meta["opt_d"]["param_groups"]:
        group.update(change.get("group", {}))
    old = load_file(str(ck.with_suffix(".safetensors")))
    _tamper(run_dir, change.get("tensors", lambda t: {})(old), {"opt_d": meta["opt_d"]})
    with pytest.raises(GankitError, match=match):
        fit(cfg, run_dir, resume=True, progress=False)


def test_a_damaged_metrics_file_is_read_past_and_a_folder_in_its_place_named(saved_run,
                                                                              tmp_path):
    import shutil

    from gankit.stats import JsonLines

    cfg, base = saved_run
    run_dir = tmp_path / "run"
    shutil.copytree(base, run_dir)
    log = run_dir / "metrics.jsonl"
    log.write_bytes(b'{"step": 2, "d_loss": 1.0}\n5\n{"step": "abc"}\n{"step": null}\n'
                    b'\xff\xfe{"step": 3}\n[1, 2]\n')
    assert JsonLines(log).read() == [{"step": 2, "d_loss": 1.0}]
    st = fit(cfg, run_dir, resume=True, progress=False)  # the resume rewrites the good records
    assert st.step == 8 and [r["step"] for r in JsonLines(log).read()] == [2, 5, 8]
    (run_dir / "eval.jsonl").mkdir()
    with pytest.raises(GankitError, match="cannot write .*eval.jsonl"):
        JsonLines(run_dir / "eval.jsonl").append({"step": 8})


@pytest.mark.parametrize("loop,match", [
    ({"skipped": -1}, "'loop' holds"), ({"stats": {"d_loss": [1.0]}}, r"must be \[sum, count\]"),
    ({"stats": {"d_loss": [1.0, float("inf")]}}, r"must be \[sum, count\]"),
    ({"stats": {"d_loss": [10**400, 3]}}, r"must be \[sum, count\]"),
])
def test_tampered_unlogged_statistics_are_refused_on_resume(saved_run, tmp_path, loop, match):
    import shutil

    cfg, base = saved_run
    shutil.copytree(base, tmp_path / "run")
    _tamper(tmp_path / "run", meta={"loop": loop})
    with pytest.raises(GankitError, match=match):
        fit(cfg, tmp_path / "run", resume=True, progress=False)
