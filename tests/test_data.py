"""Toy worlds: shapes, the published layouts, model space, and the user's own points."""

import numpy as np
import pytest
import torch

from gankit.data import DATASETS, build
from gankit.errors import GankitError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind,dim", [("gaussian1d", 1), ("mixture1d", 1), ("ring", 2),
                                      ("grid", 2), ("sequence", 5)])
def test_every_world_draws_reproducible_batches_in_model_space(kind, dim):
    data = build(kind, {})
    a, b = data.sample(64, gen(1)), data.sample(64, gen(1))
    assert a.shape == (64, dim) and a.dtype == torch.float32 and torch.equal(a, b)
    x = data.draw(64, gen(2))
    assert torch.allclose(data.to_data(data.to_model(x)), x, atol=1e-5)
    # model space is roughly standardised, so one learning rate suits every world
    assert data.sample(4000, gen(3)).std(0).max() < 3


def test_ring_and_grid_are_pacgans():
    ring = build("ring", {})
    assert np.allclose(np.linalg.norm(ring.means, axis=1), 1) and len(ring.means) == 8
    assert np.allclose(ring.means[2], [0, 1], atol=1e-12) and ring.stds[0] == 0.01
    grid = build("grid", {})
    assert sorted(set(grid.means[:, 0])) == [-4, -2, 0, 2, 4] and len(grid.means) == 25
    assert grid.stds[0] == 0.05


def test_gaussian_parameters_are_honoured():
    x = build("gaussian1d", {"mean": -2.0, "std": 0.5}).draw(20_000, gen()).numpy()
    assert x.mean() == pytest.approx(-2, abs=0.02) and x.std() == pytest.approx(0.5, abs=0.01)


def test_sequence_rows_follow_the_rule():
    x = build("sequence", {}).draw(1000, gen()).numpy()
    assert np.allclose(x[:, 3], x[:, 2] + 1) and np.allclose(x[:, 4], x[:, 2] + 2)
    assert x[:, :3].min() >= 0 and x[:, :3].max() <= 10


def test_points_from_csv_with_header_and_npy(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    csv = tmp_path / "p.csv"
    csv.write_text("x,y,z\n" + "\n".join(",".join(map(str, r)) for r in pts))
    npy = tmp_path / "p.npy"
    np.save(npy, pts)
    for path in (csv, npy):
        data = build("points", {"path": str(path)})
        assert data.dim == 3
        assert np.allclose(data.points.numpy(), pts, atol=1e-6)
        batch = data.draw(200, gen()).numpy()
        # every drawn row is one of the user's rows
        assert all(np.isclose(pts, r, atol=1e-6).all(1).any() for r in batch)
    one_d = tmp_path / "one.npy"
    np.save(one_d, np.arange(10.0))
    assert build("points", {"path": str(one_d)}).dim == 1
    upper = tmp_path / "P.NPY"
    with open(upper, "wb") as f:  # np.save(path) would name it P.NPY.npy
        np.save(f, pts)
    assert build("points", {"path": str(upper)}).dim == 3
    bom = tmp_path / "excel.csv"  # "CSV UTF-8" from a spreadsheet: a byte-order mark first
    bom.write_text("1,2\n3,4\n", encoding="utf-8-sig")
    assert build("points", {"path": str(bom)}).points.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("kind,options,match", [
    ("ring", {"radius": 0.0}, "data.radius > 0"), ("grid", {"spacing": 0.0}, "data.spacing > 0"),
])
def test_a_layout_of_one_point_is_refused(kind, options, match):
    with pytest.raises(GankitError, match=match):  # all modes in one place: nothing to cover
        build(kind, options)


def test_points_columns_in_other_units_each_get_their_own_scale(tmp_path):
    # age in years beside income in dollars: one common scale left age nearly constant in model
    # space, and G did not learn it (a 2,000-step run: age W1 3.1 standard deviations)
    rng = np.random.default_rng(0)
    pts = np.stack([rng.normal(40, 12, 2000), rng.normal(50_000, 15_000, 2000),
                    np.full(2000, 7.0)], 1)  # and a constant column
    np.save(tmp_path / "m.npy", pts)
    data = build("points", {"path": str(tmp_path / "m.npy")})
    x = data.sample(4000, gen()).numpy()
    assert np.allclose(x[:, :2].std(0), 1, atol=0.05) and np.allclose(x.mean(0), 0, atol=0.05)
    assert np.isfinite(x).all() and data.scale[2] == 1
    # G's worst column is named, in that column's standard deviations
    fake = pts + [0, 0, 0]
    fake[:, 0] += 6.0  # half a standard deviation of age: nothing next to incomes in dollars
    scores = data.metrics(fake)
    assert scores["worst_column"] == 0 and abs(scores["worst_column_w1_std"] - 0.5) < 0.01


def test_points_reference_rows_are_drawn_from_the_whole_file(tmp_path):
    # a file grouped by cluster: the first rows are all one cluster
    pts = np.concatenate([np.full((300, 2), -5.0), np.full((300, 2), 5.0)])
    np.save(tmp_path / "g.npy", pts)
    ref = build("points", {"path": str(tmp_path / "g.npy")}).reference(200, seed=1)
    assert len(ref) == 200 and 60 < (ref[:, 0] > 0).sum() < 140


@pytest.mark.parametrize("content,match", [
    (None, "no such file"),
    ("1,2\n3,x\n", "line 2: 'x' is not a number"),
    ("x,y\n1,2\n\n3,4\n5,oops\n", "line 5: 'oops'"),  # the file's lines, header included
    ("1,x\n3,4\n", "line 1: 'x' is not a number"),  # a typo, not a header: never dropped
    ("1,2\n3\n", "line 2 holds 1 values"),
    ("x,y\n", "holds no lines of numbers"),
    ("# only a comment\n", "holds no lines of numbers"),
    ("1,2\n", "at least 2 points"),
    ("1,2\nnan,3\n4,5\n", "NaN or Inf"),
])
def test_bad_points_files_are_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(GankitError, match=match) as e:
        build("points", {"path": str(path)})
    assert str(path) in str(e.value)


def test_csv_comments_are_skipped(tmp_path):
    pts = np.arange(8.0).reshape(4, 2)
    np.savetxt(tmp_path / "c.csv", pts, delimiter=",", header="x,y\nunits: m", footer="end")
    with open(tmp_path / "c.csv", "a") as f:
        f.write("8,9  # an outlier?\n")
    data = build("points", {"path": str(tmp_path / "c.csv")})
    assert np.allclose(data.points.numpy(), np.vstack([pts, [8, 9]]))
    (tmp_path / "h.csv").write_text("# exported\nx,y\n1,2\n3,4\n")  # a header after comments
    assert build("points", {"path": str(tmp_path / "h.csv")}).points.shape == (2, 2)


def test_complex_points_are_refused(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((4, 2), complex))
    with pytest.raises(GankitError, match="expected numbers of shape"):
        build("points", {"path": str(tmp_path / "c.npy")})


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)
    with pytest.raises(GankitError, match="obj.npy"):
        build("points", {"path": str(path)})


def test_unknown_world_suggests_the_closest():
    with pytest.raises(GankitError, match="did you mean ring"):
        build("rign", {})
    assert set(DATASETS) >= {"gaussian1d", "mixture1d", "ring", "grid", "sequence", "points"}


@pytest.mark.parametrize("options,match", [
    ({"means": []}, "at least one mode"),
    ({"means": [[1, 2], [3]]}, "data.means must be"),
    ({"weights": "abc"}, "data.weights"),
    ({"std": -1.0}, "data.std must be > 0"),
    ({"weights": [1, 0, 1]}, "positive numbers"),  # real data would score a missing mode
    ({"weights": [1, float("inf"), 1]}, "positive numbers"),
])
def test_bad_mixture_options_are_clear_errors(options, match):
    with pytest.raises(GankitError, match=match):
        build("mixture1d", options)
