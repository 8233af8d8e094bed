"""The command line end to end on tiny settings."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gankit import config as config_lib
from gankit.cli import main

from .conftest import TINY


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_presets_lists_one_line_each():
    code, out = run("presets")
    assert code == 0
    lines = out.strip().splitlines()
    assert {line.split()[0] for line in lines} >= {"ring", "grid", "gaussian1d", "sequence"}
    assert all(len(line.split()) > 2 for line in lines)


def test_train_sample_eval(tmp_path):
    out = tmp_path / "run"
    code, text = run("train", "ring", *TINY, "--out", out, "--seed", 3, "--quiet")
    assert code == 0, text
    assert (out / "config.toml").read_text().count("seed = 3") == 1
    assert (out / "pictures" / "world.png").is_file()
    assert (out / "pictures" / "curves.png").is_file()

    code, text = run("sample", out, "-n", 123, "--seed", 1, "--out", tmp_path / "s.npy")
    assert code == 0, text
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (123, 2) and x.dtype == np.float32
    run("sample", out, "-n", 123, "--seed", 1, "--out", tmp_path / "t.npy")
    assert np.array_equal(x, np.load(tmp_path / "t.npy"))  # same seed, same samples

    code, text = run("eval", out)
    assert code == 0, text
    printed, _ = json.JSONDecoder().raw_decode(text)  # the JSON; a table follows on stderr
    assert printed["n"] == 2500 and printed["step"] == 20
    assert {"modes", "high_quality", "reverse_kl"} <= printed.keys()
    run("eval", out, "-n", 100)
    lines = (out / "eval.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["n"] == 100


def test_resume_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    code, _ = run("train", "ring", *TINY, "train.steps=10", "--out", out, "--until", 4, "--quiet")
    assert code == 0
    code, text = run("train", "--resume", "--out", out, "--quiet")
    assert code == 0, text
    assert json.loads((out / "checkpoints" / "step_00000010.json").read_text())["step"] == 10


@pytest.mark.parametrize("args,match", [
    (["train", "rign"], "did you mean ring"),
    (["train", "ring", "train.stepz=3"], "did you mean steps"),
    (["train", "ring", "train.steps=lots"], "train.steps must be an integer"),
    (["train", "--resume", "--out", "nowhere"], "config.toml"),
    (["eval", "nowhere"], "no checkpoint in 'nowhere"),
])
def test_bad_input_exits_2_with_one_line(args, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text = run(*args)
    assert code == 2
    assert match in text and len(text.strip().splitlines()) == 1


def test_console_script_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "gaussian1d", *TINY,
                           "--out", str(tmp_path / "g"), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "nope"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "unknown preset 'nope'" in proc.stderr


def test_points_run_samples_without_its_file_and_refuses_changed_data(tmp_path):
    pts = tmp_path / "pts.csv"
    rng = np.random.default_rng(0)
    pts.write_text("\n".join(f"{a},{b}" for a, b in rng.normal(5, 2, size=(200, 2))))
    out = tmp_path / "run"
    code, text = run("train", "points", f"data.path={pts}", *TINY, "--out", out, "--until", 10,
                     "--quiet")
    assert code == 0, text
    code, text = run("eval", out)
    assert code == 0 and "sliced_w1" in text
    pts.write_text("\n".join(f"{a},{b}" for a, b in rng.normal(0, 1, size=(200, 2))))
    code, text = run("train", "--resume", "--out", out, "--quiet")
    assert code == 2 and "data's mean and scale differ" in text
    pts.unlink()
    code, text = run("sample", out, "-n", 500, "--out", tmp_path / "s.npy")
    assert code == 0, text
    x = np.load(tmp_path / "s.npy")
    assert abs(x.mean() - 5) < 3  # in data units, around the data's mean of 5
    code, text = run("eval", out)
    assert code == 2 and "pts.csv" in text


def test_a_points_run_saved_with_one_common_scale_goes_on_with_it(tmp_path):
    # runs before 2026-11-27 scaled every column by the mean of the columns' stds
    import hashlib

    from safetensors.torch import load_file, save_file

    pts = tmp_path / "pts.npy"
    np.save(pts, np.random.default_rng(0).normal(5, [1, 3], size=(200, 2)).astype(np.float32))
    out = tmp_path / "run"
    code, text = run("train", "points", f"data.path={pts}", *TINY, "--out", out, "--until", 10,
                     "--quiet")
    assert code == 0, text
    path = out / "checkpoints" / "step_00000010.safetensors"
    tensors = load_file(str(path))
    common = float(np.load(pts).std(0).mean())
    tensors["data.scale"] = torch.full((2,), common)
    save_file(tensors, str(path))
    meta = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps(
        meta | {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}))
    code, text = run("eval", out)
    assert code == 0 and "worst_column" in text, text
    code, text = run("train", "--resume", "--out", out, "--quiet")
    assert code == 0, text
    scale = load_file(str(out / "checkpoints" / "step_00000020.safetensors"))["data.scale"]
    assert torch.equal(scale, torch.full((2,), common))


@pytest.mark.parametrize("args,match", [
    (["train", "ring", "generator.z_dim=0"], "generator.z_dim must be >= 1"),
    (["train", "ring", "generator.activation=rellu"], "did you mean relu"),
    (["train", "mixture1d", "data.means=[[1, 2], [3]]"], "data.means must be"),
])
def test_bad_net_or_data_options_fail_before_a_run_folder_exists(args, match, tmp_path):
    code, text = run(*args, "--out", tmp_path / "r")
    assert code == 2 and match in text
    assert not (tmp_path / "r").exists()


def test_sample_into_a_missing_folder_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    assert run("train", "ring", *TINY, "train.steps=2", "--out", out, "--quiet")[0] == 0
    code, text = run("sample", out, "--out", tmp_path / "nope" / "x.npy")
    assert code == 2 and "does not exist" in text


def _stopped_at_3_of_6(out, *overrides):
    """A ring run stopped halfway, to be resumed: its config.toml."""
    assert run("train", "ring", *TINY, "train.steps=6", *overrides, "--out", out, "--until", 3,
               "--quiet")[0] == 0
    return out / "config.toml"


def test_resume_refuses_an_edited_config_toml(tmp_path):
    out = tmp_path / "run"
    toml = _stopped_at_3_of_6(out, "train.lr_decay=none")
    toml.write_text(toml.read_text().replace('name = "nonsaturating"', 'name = "hinge"'))
    code, text = run("train", "--resume", "--out", out, "--quiet")
    assert code == 2 and "trained with, in loss.name" in text
    # how long to train is the run's to extend (no schedule is tied to it here): in config.toml
    toml.write_text(toml.read_text().replace('name = "hinge"', 'name = "nonsaturating"')
                    .replace("steps = 6", "steps = 8"))
    code, text = run("train", "--resume", "--out", out, "--until", 7, "--quiet")
    assert code == 0 and "stopped at step 7 of 8" in text, text
    code, text = run("train", "--resume", "--out", out, "train.steps=9", "--quiet")  # or here
    assert code == 0 and "done: step 9" in text, text
    code, text = run("train", "--resume", "--out", out, "train.steps=5", "--quiet")
    assert code == 2 and "below the checkpoint's step 9" in text


def test_resume_keeps_train_steps_where_a_schedule_hangs_on_it(tmp_path):
    out = tmp_path / "run"
    _stopped_at_3_of_6(out, "train.lr_decay=linear")
    code, text = run("train", "--resume", "--out", out, "train.steps=60", "--quiet")
    assert code == 2 and "train.steps" in text  # the decay would jump back up
    assert "learning-rate decay or instance-noise schedule runs over it" in text  # and says so


def test_eval_prints_strict_json_when_a_metric_is_infinite(tmp_path):
    out = tmp_path / "run"
    # a G that never learned: no sample near a mode, so reverse KL is infinite
    assert run("train", "ring", *TINY, "train.steps=1", "train.lr_g=1e-9", "--out", out,
               "--quiet")[0] == 0
    code, text = run("eval", out)
    assert code == 0, text
    record, _ = json.JSONDecoder().raw_decode(text)
    assert record["reverse_kl"] == "inf" and "Infinity" not in text
    assert json.loads((out / "eval.jsonl").read_text().splitlines()[-1])["reverse_kl"] == "inf"


def test_an_unwritable_out_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    code, text = run("train", "ring", *TINY, "--out", tmp_path / "afile" / "run")
    assert code == 2 and "cannot create the run folder" in text


def test_mixture_weights_and_stds_take_lists(tmp_path):
    code, text = run("train", "mixture1d", *TINY, "train.steps=2", "data.weights=[1,2,3]",
                     "data.std=[0.5,1,2]", "--out", tmp_path / "run", "--quiet")
    assert code == 0, text
    saved = config_lib.tomllib.loads((tmp_path / "run" / "config.toml").read_text())["data"]
    assert saved["weights"] == [1, 2, 3] and saved["std"] == [0.5, 1, 2]
    code, text = run("train", "mixture1d", "data.weights=[1,2]", "--out", tmp_path / "r2")
    assert code == 2 and "data.weights must be 3 positive numbers" in text
    code, text = run("train", "ring", "data.n_modes=[4,8]", "--out", tmp_path / "r3")
    assert code == 2 and "data.n_modes must be an integer" in text  # lists only where declared


def test_any_seed_torch_takes_is_taken(tmp_path):
    code, text = run("train", "ring", *TINY, "train.steps=1", "--seed", -1, "--out",
                     tmp_path / "run", "--quiet")
    assert code == 0, text
    code, text = run("train", "ring", "--seed", 2**64, "--out", tmp_path / "r2")
    assert code == 2 and "--seed" in text and "not in the range" in text
    code, text = run("train", "ring", "train.seed=-9223372036854775809", "--out", tmp_path / "r3")
    assert code == 2 and "train.seed must be in" in text


def test_an_unavailable_eval_device_names_the_option(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "run"
    assert run("train", "ring", *TINY, "train.steps=1", "--out", out, "--quiet")[0] == 0
    code, text = run("eval", out, "--device", "cuda")
    assert code == 2 and "--device='cuda' but no CUDA device" in text
    code, text = run("train", "ring", *TINY, "train.steps=3", "--out", tmp_path / "r2",
                     "--until", 2, "--quiet")
    assert "stopped at step 2 of 3" in text and "gankit train --resume --out" in text


def test_a_run_resumes_from_a_moved_data_file_but_not_from_other_data(tmp_path):
    rng = np.random.default_rng(0)
    text = "\n".join(f"{a},{b}" for a, b in rng.normal(5, 2, size=(200, 2)))
    (tmp_path / "a.csv").write_text(text)
    out = tmp_path / "run"
    assert run("train", "points", f"data.path={tmp_path / 'a.csv'}", *TINY, "--out", out,
               "--until", 5, "--quiet")[0] == 0
    (tmp_path / "a.csv").rename(tmp_path / "b.csv")  # moved, as to another machine
    code, text = run("train", "--resume", "--out", out, f"data.path={tmp_path / 'b.csv'}",
                     "--until", 10, "--quiet")
    assert code == 0 and "stopped at step 10" in text, text
    (tmp_path / "c.csv").write_text("\n".join(f"{a},{b}" for a, b in rng.normal(size=(200, 2))))
    code, text = run("train", "--resume", "--out", out, f"data.path={tmp_path / 'c.csv'}",
                     "--quiet")
    assert code == 2 and "data's mean and scale differ" in text


def test_a_resume_that_trains_longer_is_recorded_in_config_toml(tmp_path):
    out = tmp_path / "run"
    toml = _stopped_at_3_of_6(out, "train.lr_decay=none")
    toml.write_text(toml.read_text().replace('description = "', 'description = "longer: '))
    code, text = run("train", "--resume", "--out", out, "train.steps=12", "--until", 8, "--quiet")
    assert code == 0 and "stopped at step 8 of 12" in text, text
    saved = config_lib.tomllib.loads((out / "config.toml").read_text())
    assert saved["train"]["steps"] == 12 and saved["description"].startswith("longer: ")
    code, text = run("train", "--resume", "--out", out, "--quiet")  # as the hint says
    assert code == 0 and "done: step 12" in text, text


def test_out_must_be_new_empty_or_a_run_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.toml").write_text("# my own file")
    code, text = run("train", "ring", *TINY, "--out", mine)
    assert code == 2 and "other files in it" in text
    assert (mine / "config.toml").read_text() == "# my own file"
    other = tmp_path / "other"  # another tool's folder that happens to hold checkpoints/
    (other / "checkpoints").mkdir(parents=True)
    (other / "checkpoints" / "model.ckpt").write_text("weights")
    (other / "metrics.jsonl").write_text('{"epoch": 1}\n')
    code, text = run("train", "ring", *TINY, "--out", other)
    assert code == 2 and "other files in it" in text
    assert (other / "metrics.jsonl").read_text() == '{"epoch": 1}\n'
    # a run that stopped before its first checkpoint may be started again, afresh
    left = tmp_path / "left"
    assert run("train", "ring", *TINY, "train.steps=2", "train.checkpoint_every=100",
               "--out", left, "--until", 1, "--quiet")[0] == 0  # --until saves a checkpoint:
    for p in (left / "checkpoints").iterdir():  # take it away, as a crash before it would
        p.unlink()
    (left / "pictures" / "world_00009999.png").write_bytes(b"old")
    (left / "pictures" / "my_notes.png").write_bytes(b"mine")  # not a name gankit writes
    code, text = run("train", "ring", *TINY, "train.steps=2", "--out", left, "--quiet")
    assert code == 0 and f"pictures in {left / 'pictures'}" in text, text
    assert not (left / "pictures" / "world_00009999.png").exists()
    assert (left / "pictures" / "my_notes.png").read_bytes() == b"mine"
    # a finished run whose checkpoints were deleted is not an unfinished one: its results stay
    for p in (left / "checkpoints").iterdir():
        p.unlink()
    (left / "eval.jsonl").write_text('{"step": 2}\n')
    code, text = run("train", "ring", *TINY, "--out", left)
    assert code == 2 and "other files in it" in text and (left / "eval.jsonl").exists()
    # another tool's folder whose config.toml happens to parse
    tool = tmp_path / "tool"
    (tool / "checkpoints").mkdir(parents=True)
    (tool / "checkpoints" / "step_1000.pt").write_text("weights")
    (tool / "config.toml").write_text("[train]\nsteps = 1000\n")
    code, text = run("train", "ring", *TINY, "--out", tool)
    assert code == 2 and "other files in it" in text
    (tool / "checkpoints" / "step_1000.pt").unlink()
    assert run("train", "ring", *TINY, "--out", tool)[0] == 2  # its config is not gankit's


def test_paths_saved_before_they_were_absolute_still_match(monkeypatch):
    from gankit.run import resume_changes

    monkeypatch.setenv("HOME", "/home/me")

    def changes(old, new):
        return resume_changes({"data": {"kind": "folder", "path": old}, "train": {}},
                              {"data": {"kind": "folder", "path": new}, "train": {}})

    assert changes("~/photos", "/home/me/photos") == []
    assert changes(".photos", "/home/me/.photos") == []
    assert changes("./photos", "/home/me/photos") == []
    assert changes("photos", "/home/me/other") == ["data.path"]
    assert changes("/a/photos", "/b/photos") == ["data.path"]


def test_image_data_may_move_only_where_its_digest_is_checked():
    from gankit.run import resume_changes

    saved = {"data": {"kind": "folder", "path": "/a/photos"}, "train": {}}
    new = {"data": {"kind": "folder", "path": "/b/photos"}, "train": {}}
    assert resume_changes(saved, new, contents_checked=True) == []
    assert resume_changes(saved, new) == ["data.path"]  # a checkpoint from before the digest
    old = {"data": {"kind": "folder", "path": "photos"}, "train": {}}  # relative, as once saved
    assert resume_changes(old, {"data": {"kind": "folder", "path": "/home/me/photos"},
                                "train": {}}) == []


@pytest.mark.parametrize("error", [
    MemoryError("Unable to allocate 63.0 GiB for an array"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory"),
])
def test_a_size_the_machine_cannot_hold_is_one_line(monkeypatch, tmp_path, error):
    import gankit.train

    def too_big(*a, **k):
        raise error

    monkeypatch.setattr(gankit.train, "fit", too_big)
    code, text = run("train", "ring", "--out", tmp_path / "r")
    assert code == 2 and text.count("\n") <= 2 and "out of memory" in text
    assert "train.batch_size" in text and "Traceback" not in text


def test_other_runtime_errors_are_not_called_out_of_memory(monkeypatch, tmp_path):
    import gankit.train

    monkeypatch.setattr(gankit.train, "fit", lambda *a, **k: 1 / 0)
    result = CliRunner().invoke(main, ["train", "ring", "--out", str(tmp_path / "r")])
    assert isinstance(result.exception, ZeroDivisionError)  # a bug stays a visible traceback
