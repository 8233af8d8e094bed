"""Pictures: each world draws, and drawing never touches the training state."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import build
from gankit.state_io import state_tensors
from gankit.train import build_state
from gankit.viz import save_pictures, world_figure
from gankit.viz.world import d_surface


@pytest.mark.parametrize("preset", ["gaussian1d", "ring", "sequence"])
def test_world_pictures_for_1d_2d_and_5d(tiny, tmp_path, preset):
    cfg = tiny(preset, "discriminator.spectral_norm=true")
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))
    before, _ = state_tensors(st, cfg)
    save_pictures(st, data, cfg, tmp_path)
    after, _ = state_tensors(st, cfg)
    assert all(torch.equal(before[k], after[k]) for k in before)
    img = np.asarray(Image.open(tmp_path / "pictures" / "world.png"))
    assert img.shape[0] > 200 and img.std() > 10  # a real picture, not a blank canvas


def test_heat_map_is_d_with_each_point_filling_the_pack(tiny):
    cfg = tiny("ring", "discriminator.pack=4", "train.batch_size=32")
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))
    pts = torch.randn(5, 2)
    surface = d_surface(st.D, pts, True)
    direct = torch.sigmoid(st.D(pts.repeat_interleave(4, 0))).detach().numpy()
    assert np.allclose(surface, direct, atol=1e-6)
    assert world_figure(st, data, cfg).axes  # draws with packing too


def test_many_coordinates_draw_the_first_eight(tiny, tmp_path):
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).normal(size=(100, 40)))
    cfg = tiny("points", f"data.path={tmp_path / 'wide.npy'}")
    data = build(cfg.data.kind, cfg.data.options)
    fig = world_figure(build_state(cfg, data, torch.device("cpu")), data, cfg, n=200)
    assert len(fig.axes) == 8 and "first 8 of 40" in fig._suptitle.get_text()


def test_real_and_generated_points_of_a_picture_are_independent_draws(tiny, monkeypatch):
    # gaussian1d has z_dim 1: with one seed for both, the two histograms matched spike for spike
    import gankit.viz.world as world

    cfg = tiny("gaussian1d")
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))
    seeds = {}
    real_generate, real_reference = world.generate, data.reference

    def generate(G, n, seed):
        seeds["fake"] = seed
        return real_generate(G, n, seed)

    def reference(n, seed):
        seeds["real"] = seed
        return real_reference(n, seed)

    monkeypatch.setattr(world, "generate", generate)
    monkeypatch.setattr(data, "reference", reference)
    world_figure(st, data, cfg)
    assert seeds["fake"] != seeds["real"]


def test_loss_curves_mark_skipped_steps():
    from gankit.viz.curves import curves_figure

    records = [{"step": s, "d_loss": 1.0, "g_loss": 0.7, "d_real": 0.5, "d_fake": 0.5}
               for s in (1, 2, 4)] + [{"step": 3, "skipped": 1}, {"step": 5, "skipped": 2}]
    ax = curves_figure(records).axes[0]
    marked = sorted(line.get_xdata()[0] for line in ax.lines if line.get_color() == "red")
    assert marked == [3, 5]
    assert "steps skipped (NaN/Inf loss)" in [t.get_text() for t in ax.get_legend().get_texts()]
    clean = curves_figure(records[:3]).axes[0]
    assert not [line for line in clean.lines if line.get_color() == "red"]


def test_loss_curves_leave_gaps_for_values_that_are_not_numbers():
    from gankit.viz.curves import curves_figure

    records = [{"step": 1, "d_loss": 1.0, "g_loss": "nan"}, {"step": 2, "d_loss": "x"},
               {"step": 3, "d_loss": 0.5, "g_loss": "inf"},  # "nan"/"inf": how NaN/Inf are logged
               {"step": 4, "d_loss": True, "g_loss": "0.3"},  # an edited file's other values
               {"step": 5, "d_loss": 10**400, "g_loss": 2}]
    d_line, g_line = curves_figure(records).axes[0].lines[:2]
    assert np.array_equal(d_line.get_ydata(), [1.0, np.nan, 0.5, np.nan, np.nan], equal_nan=True)
    assert np.array_equal(g_line.get_ydata(), [np.nan, np.nan, np.inf, np.nan, 2.0],
                          equal_nan=True)


def _heat_map_centres(fig) -> np.ndarray:
    """(rows, cols, 2) centres of the heat map's cells, in the axes' data units."""
    mesh = fig.axes[0].collections[0]
    corners = mesh.get_coordinates()  # (rows + 1, cols + 1, 2)
    return (corners[1:, 1:] + corners[:-1, :-1]) / 2


def test_heat_map_spans_each_column_of_points_in_other_units(tiny, tmp_path):
    # age 20-80 beside income ~50,000: one padding for both axes put no cell inside the ages
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ai.npy", np.stack([rng.uniform(20, 80, 500), rng.normal(5e4, 2e4, 500)], 1))
    cfg = tiny("points", f"data.path={tmp_path / 'ai.npy'}")
    data = build(cfg.data.kind, cfg.data.options)
    fig = world_figure(build_state(cfg, data, torch.device("cpu")), data, cfg, n=300)
    centres = _heat_map_centres(fig)
    ages = centres[0, :, 0]
    assert ((ages > 20) & (ages < 80)).sum() > 100  # most of 160 columns lie over the data
    assert fig.axes[0].get_aspect() == "auto"  # not one unit of age drawn as wide as a dollar
    ring = tiny("ring")
    ring_data = build(ring.data.kind, ring.data.options)
    assert world_figure(build_state(ring, ring_data, torch.device("cpu")), ring_data, ring,
                        n=300).axes[0].get_aspect() == 1.0  # a ring stays round


def test_generated_samples_stay_in_view_beside_a_constant_column(tiny, tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "c.npy", np.stack([rng.normal(0, 1, 500), np.full(500, 3.0)], 1))
    cfg = tiny("points", f"data.path={tmp_path / 'c.npy'}")
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))
    fig = world_figure(st, data, cfg, n=300)
    ax = fig.axes[0]
    fake = ax.collections[-1].get_offsets()  # the generated points, drawn last
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    inside = (fake[:, 0] > x0) & (fake[:, 0] < x1) & (fake[:, 1] > y0) & (fake[:, 1] < y1)
    assert inside.mean() > 0.9 and y1 - y0 > 0.01  # not a y-axis of 3 +- 1e-6
    assert ax.get_aspect() == "auto"


def test_a_picture_of_a_diverged_generator_counts_its_nan_samples(tiny):
    cfg = tiny("ring")
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))
    with torch.no_grad():
        last = [m for m in st.G.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight[0, 0] = float("nan")  # x of every sample NaN, y still finite
    fig = world_figure(st, data, cfg, n=300)
    assert "300 of 300 generated samples are NaN/Inf" in fig.axes[0].get_title()
    assert np.isfinite(_heat_map_centres(fig)).all()
