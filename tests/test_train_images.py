"""Training on images end to end: pictures, resume, conditional labels, the command line."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gankit import checkpoint, config
from gankit.cli import main
from gankit.errors import GankitError
from gankit.train import fit

from .images_util import fake_mnist


def tiny_images(tmp_path, *extra):
    path = fake_mnist(tmp_path / "data")
    return [f"data.path={path}", "data.resolution=8", "generator.width=4", "generator.z_dim=4",
            "discriminator.width=4", "train.batch_size=8", "train.steps=6", "train.log_every=2",
            "train.picture_every=3", "train.checkpoint_every=3", "train.device=cpu", *extra]


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_run_writes_sample_grids_an_animation_and_checkpoints(tmp_path):
    cfg = config.load("mnist", tiny_images(tmp_path))
    st = fit(cfg, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert st.step == 6
    shots = sorted(p.name for p in (run / "samples").glob("step_*.png"))
    assert shots == ["step_00000003.png", "step_00000006.png"]
    assert Image.open(run / "samples" / "step_00000006.png").size == (2 + 8 * 10,) * 2  # 8 x 8
    gif = Image.open(run / "samples" / "training.gif")
    assert gif.n_frames == 2
    assert (run / "pictures" / "curves.png").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6] and "d_real" in records[0]


def test_conditional_snapshots_show_one_row_per_class(tmp_path):
    cfg = config.load("mnist-conditional", tiny_images(tmp_path, "train.steps=3"))
    fit(cfg, tmp_path / "run", progress=False)
    assert Image.open(tmp_path / "run" / "samples.png").size == (2 + 10 * 10,) * 2


@pytest.mark.parametrize("preset, extra", [
    ("mnist-conditional", ["train.augment=color,translation,cutout",
                           "discriminator.conditioning=concat", "train.ema=0.9"]),
    ("stacked-mnist", ["discriminator.minibatch_std=true", "train.lr_decay=linear"]),
    ("folder", []),
])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, preset, extra):
    if preset == "folder":
        rng = np.random.default_rng(0)
        for i in range(6):
            (tmp_path / "photos").mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(
                tmp_path / "photos" / f"{i}.png")
        extra = [f"data.path={tmp_path / 'photos'}", "data.resolution=8", "generator.width=4",
                 "discriminator.width=4", "train.batch_size=8", "train.steps=6",
                 "train.picture_every=3", "train.checkpoint_every=3", "train.device=cpu"]
        cfg = config.load(preset, extra)
    else:
        cfg = config.load(preset, tiny_images(tmp_path, *extra))
    fit(cfg, tmp_path / "straight", progress=False)
    fit(cfg, tmp_path / "split", until=4, progress=False)
    fit(cfg, tmp_path / "split", resume=True, progress=False)
    a, _ = checkpoint.load(tmp_path / "straight" / "checkpoints")
    b, _ = checkpoint.load(tmp_path / "split" / "checkpoints")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_conditional_players_get_labels_drawn_like_the_data(tmp_path, monkeypatch):
    import gankit.train as train

    seen = {"d": [], "g": []}
    real_d, real_g = train.d_step, train.g_step
    monkeypatch.setattr(train, "d_step", lambda st, x, y, *a: seen["d"].append(y) or
                        real_d(st, x, y, *a))
    monkeypatch.setattr(train, "g_step", lambda st, y, *a: seen["g"].append(y) or
                        real_g(st, y, *a))
    fit(config.load("mnist-conditional", tiny_images(tmp_path, "train.steps=3")), tmp_path / "r",
        progress=False)
    for y in seen["d"] + seen["g"]:
        assert y is not None and y.shape == (8,) and y.min() >= 0 and y.max() < 10


def test_networks_must_fit_the_data(tmp_path):
    cfg = config.from_dict({"data": {"kind": "mnist", "path": str(fake_mnist(tmp_path / "d"))},
                            "generator": {"net": "mlp"}, "train": {"device": "cpu"}})
    with pytest.raises(GankitError, match="generator.net='mlp' does not fit.*'dcgan' for images"):
        fit(cfg, tmp_path / "run", progress=False)
    cfg = config.from_dict({"data": {"kind": "ring"}, "generator": {"net": "dcgan"},
                            "train": {"device": "cpu"}})
    with pytest.raises(GankitError, match="generator.net='dcgan' does not fit.*no dim"):
        fit(cfg, tmp_path / "run2", progress=False)


def test_unreadable_files_are_listed_in_the_run_folder(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.new("RGB", (10, 10), (i, 0, 0)).save(photos / f"{i}.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    cfg = config.load("folder", [f"data.path={photos}", "data.resolution=8", "train.steps=1",
                                 "generator.width=4", "discriminator.width=4",
                                 "train.batch_size=4", "train.device=cpu"])
    fit(cfg, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "skipped_files.txt").read_text().strip().endswith("broken.jpg")


def test_sample_interpolate_and_eval_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    code, text = cli("train", "mnist-conditional", *tiny_images(tmp_path), "--out", run,
                     "--quiet")
    assert code == 0, text
    code, text = cli("sample", run, "-n", 12, "--out", tmp_path / "s.npy", "--class", 7)
    assert code == 0, text
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (12, 8, 8, 1) and x.dtype == np.uint8
    assert cli("sample", run, "-n", 9, "--out", tmp_path / "g.png")[0] == 0
    assert Image.open(tmp_path / "g.png").size == (2 + 3 * 10,) * 2
    assert cli("sample", run, "-n", 3, "--out", tmp_path / "each")[0] == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [
        "000000.png", "000001.png", "000002.png"]
    # upper-case suffixes are the same files; a folder's name may hold a dot
    assert cli("sample", run, "-n", 2, "--out", tmp_path / "S.NPY")[0] == 0
    assert np.load(tmp_path / "S.NPY").shape == (2, 8, 8, 1)
    assert cli("sample", run, "-n", 4, "--out", tmp_path / "G.PNG")[0] == 0
    assert Image.open(tmp_path / "G.PNG").size == (2 + 2 * 10,) * 2
    assert cli("sample", run, "-n", 1, "--out", tmp_path / "v1.2")[0] == 0
    assert (tmp_path / "v1.2" / "000000.png").is_file()
    assert cli("sample", run, "-n", 1, "--out", f"{tmp_path / 'model.v2b'}/")[0] == 0
    assert (tmp_path / "model.v2b" / "000000.png").is_file()  # a trailing slash: a folder
    assert cli("interpolate", run, "--out", tmp_path / "W.GIF", "--frames", 2, "-n", 1)[0] == 0

    code, text = cli("interpolate", run, "--out", tmp_path / "w.gif", "--seeds", "1,2,3",
                     "--frames", 4, "-n", 3)
    assert code == 0, text
    gif = Image.open(tmp_path / "w.gif")
    assert gif.n_frames == 12 and gif.size == (2 + 3 * 10, 2 + 10 * 10)  # a row per class
    # a walk from a seed to itself: Pillow keeps one frame for the whole time, and says so
    code, text = cli("interpolate", run, "--out", tmp_path / "s.gif", "--seeds", "5,5",
                     "--frames", 3, "-n", 1)
    assert code == 0 and "walk of 6 frames (1 in the GIF" in text, text
    assert Image.open(tmp_path / "s.gif").n_frames == 1

    code, text = cli("eval", run, "-n", 200)
    assert code == 0, text
    scores, _ = json.JSONDecoder().raw_decode(text)
    assert scores["n"] == 200 and 0 <= scores["class_match"] <= 1
    assert {"classes", "class_kl", "confident", "mnist_score"} <= scores.keys()


@pytest.mark.parametrize("args, match", [
    (["sample", "{run}", "--out", "{tmp}/x.npy", "--class", "sandal"], "unknown class 'sandal'"),
    (["sample", "{run}", "--out", "{tmp}/x.jpg"], "FILE.npy, grid.png or a folder"),
    (["sample", "{run}", "--out", "{tmp}/grid.svg"], "FILE.npy, grid.png or a folder"),
    (["sample", "{run}", "--out", "{tmp}/grid.pgn"], "FILE.npy, grid.png or a folder"),
    (["interpolate", "{run}", "--out", "{tmp}/w.png"], "animated .gif"),
    (["interpolate", "{run}", "--out", "{tmp}/w.gif", "--seeds", "1"], "at least two seeds"),
    (["interpolate", "{run}", "--out", "{tmp}/w.gif", "--seeds", "a,b"], "integers"),
    (["interpolate", "{run}", "--out", "{tmp}/nope/w.gif"], "folder '{tmp}/nope' does not exist"),
    (["sample", "{run}", "--out", "{tmp}/run/taken"], "is a file"),
    (["arithmetic", "{run}", "7", "7", "1", "--out", "{tmp}/a.xyz"], "an image extension"),
    (["arithmetic", "{run}", "7", "7", "1", "--out", "{tmp}/nope/a.png"], "does not exist"),
    (["sample", "{run}", "--out", "{tmp}/x.npy", "--seed", str(2**64)], "--seed"),
    (["eval", "{run}", "--seed", str(-2**63 - 1)], "--seed"),
    (["arithmetic", "{run}", "7", "7", "1", "--out", "{tmp}/a.png", "--seed", str(2**70)],
     "--seed"),
    (["interpolate", "{run}", "--out", "{tmp}/w.gif", "--seeds", f"0,{2**70}"], "-2**63..2**63-1"),
    # a picture format Pillow cannot write digits in is refused before the work, not after it
    (["arithmetic", "{run}", "7", "7", "1", "--out", "{tmp}/a.xbm"], "in grey and in colour"),
    (["arithmetic", "{run}", " ", "7", "1", "--out", "{tmp}/a.png"], "' ' names no attribute"),
    # paths the system refuses: one line naming the path, not a traceback
    (["interpolate", "{run}", "--out", "{tmp}/" + "w" * 300 + ".gif"], "File name too long"),
    (["sample", "{run}", "--out", "{tmp}/" + "x" * 300 + ".png"], "File name too long"),
])
def test_image_command_errors(tmp_path, args, match):
    run = tmp_path / "run"
    cli("train", "mnist-conditional", *tiny_images(tmp_path, "train.steps=1"), "--out", run,
        "--quiet")
    (run / "taken").write_text("a file where a folder of samples was asked for")
    code, text = cli(*[a.format(run=run, tmp=tmp_path) for a in args])
    assert code == 2 and match.format(tmp=tmp_path) in text, text


def test_a_refused_write_names_the_output_file(tmp_path, monkeypatch):
    # errors from inside an open file carry no file name: a full disk said only "No space left"
    import errno

    import gankit.viz.images as images

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    run = tmp_path / "run"
    cli("train", "mnist-conditional", *tiny_images(tmp_path, "train.steps=1"), "--out", run,
        "--quiet")
    monkeypatch.setattr(images, "save_walk", full)
    monkeypatch.setattr(images, "save_arithmetic", full)
    for args, out in ((["interpolate", run], "w.gif"),
                      (["arithmetic", run, "7", "7", "1"], "a.png")):
        code, text = cli(*args, "--out", tmp_path / out)
        assert code == 2 and f"{tmp_path / out}': cannot write there (No space left" in text, text


def test_class_of_an_unconditional_run_is_an_error(tmp_path):
    run = tmp_path / "run"
    cli("train", "mnist", *tiny_images(tmp_path, "train.steps=1"), "--out", run, "--quiet")
    code, text = cli("sample", run, "--out", tmp_path / "x.npy", "--class", "3")
    assert code == 2 and "not conditional" in text


def test_arithmetic_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    cli("train", "mnist-conditional", *tiny_images(tmp_path, "train.steps=2"), "--out", run,
        "--quiet")
    code, text = cli("arithmetic", run, "7 thick", "7", "1", "-n", 400, "--out",
                     tmp_path / "a.png")
    assert code == 0, text
    report = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert report["class"] == 1 and report["operands"] == ["+ 7 thick", "- 7", "+ 1"]
    assert 0 <= report["ink_high_rate"] <= 1 and 0 <= report["class_rate"] <= 1
    assert Image.open(tmp_path / "a.png").size == (2 + 8 * 10, 2 + 4 * 10)  # A, B, C, result
    code, text = cli("arithmetic", run, "7 bold", "7", "1", "--out", tmp_path / "b.png")
    assert code == 2 and "unknown attribute 'bold'" in text


def test_resume_refuses_data_whose_classes_changed(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(
                tmp_path / "photos" / cls / f"{i}.png")
    cfg = config.load("folder", [f"data.path={tmp_path / 'photos'}", "data.resolution=8",
                                 "data.conditional=true", "generator.width=4",
                                 "discriminator.width=4", "train.batch_size=4", "train.steps=4",
                                 "train.augment=", "train.picture_every=0", "train.device=cpu"])
    fit(cfg, tmp_path / "run", until=2, progress=False)
    (tmp_path / "photos" / "dogs").rename(tmp_path / "photos" / "wolves")  # same count, renamed
    with pytest.raises(GankitError, match=r"trained on classes \['cats', 'dogs'\].*'wolves'"):
        fit(cfg, tmp_path / "run", resume=True, progress=False)
    # the same images in a moved folder resume (their digest is in the checkpoint) ...
    (tmp_path / "photos" / "wolves").rename(tmp_path / "photos" / "dogs")
    (tmp_path / "photos").rename(tmp_path / "moved")
    moved = config.load(tmp_path / "run" / "config.toml", [f"data.path={tmp_path / 'moved'}"])
    fit(moved, tmp_path / "run", resume=True, until=3, progress=False)
    # ... other images do not, moved or not
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(
        tmp_path / "moved" / "cats" / "new.png")
    with pytest.raises(GankitError, match="differ from those the run was trained on"):
        fit(moved, tmp_path / "run", resume=True, progress=False)


def test_snapshots_show_every_class():
    from gankit.viz.images import snapshot_labels

    assert snapshot_labels(12, per_class=10).unique().tolist() == list(range(12))
    assert len(snapshot_labels(1000, per_class=10)) == 400  # capped: 40 rows of 10
