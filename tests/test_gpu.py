"""GPU checks: skipped where no CUDA device is present (CI never has one)."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gankit import config
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import inception
from gankit.train import fit

from .images_util import fake_mnist

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_fit_on_cuda_resumes_and_matches_shapes(tiny, tmp_path):
    cfg = tiny("ring", "train.device=cuda", "train.steps=10", "train.ema=0.9",
               "loss.penalty=r1", "discriminator.spectral_norm=true")
    st = fit(cfg, tmp_path / "a", until=5, progress=False)
    assert next(st.G.parameters()).is_cuda
    st = fit(cfg, tmp_path / "a", resume=True, progress=False)
    assert st.step == 10
    assert all(torch.isfinite(p).all() for p in st.G.parameters())


def test_same_seed_gives_close_results_on_cpu_and_cuda(tiny, tmp_path):
    a = fit(tiny("ring", "train.device=cpu", "train.steps=5"), tmp_path / "cpu", progress=False)
    b = fit(tiny("ring", "train.device=cuda", "train.steps=5"), tmp_path / "gpu", progress=False)
    for p, q in zip(a.G.parameters(), b.G.parameters()):
        assert torch.allclose(p, q.cpu(), atol=1e-3)


def test_conditional_image_gan_trains_resumes_samples_and_evaluates_on_cuda(tmp_path):
    data = fake_mnist(tmp_path / "data", n=60)
    cfg = config.load("mnist-conditional", [
        f"data.path={data}", "data.resolution=16", "generator.width=8", "generator.z_dim=8",
        "discriminator.width=8", "discriminator.spectral_norm=true",
        "discriminator.minibatch_std=true", "train.augment=color,translation,cutout",
        "train.ema=0.9", "train.batch_size=8", "train.steps=6", "train.log_every=2",
        "train.picture_every=3", "train.checkpoint_every=3", "train.device=cuda"])
    run = tmp_path / "run"
    st = fit(cfg, run, until=3, progress=False)
    assert next(st.D.parameters()).is_cuda
    st = fit(cfg, run, resume=True, progress=False)
    assert st.step == 6 and all(torch.isfinite(p).all() for p in st.G.parameters())
    result = CliRunner().invoke(main, ["sample", str(run), "-n", "5", "--class", "7",
                                       "--device", "cuda", "--out", str(tmp_path / "s.npy")])
    assert result.exit_code == 0, result.output
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (5, 16, 16, 1) and x.dtype == np.uint8
    result = CliRunner().invoke(main, ["eval", str(run), "-n", "40", "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert json.JSONDecoder().raw_decode(result.output)[0]["n"] == 40


def test_inception_features_on_cuda_equal_the_cpu_ones():
    try:
        inception.locate()
    except GankitError as e:
        pytest.skip(f"no InceptionV3 weights: {e}")
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1), dtype=np.uint8)
    cpu = inception.InceptionFeatures(batch=3)(images)
    gpu = inception.InceptionFeatures(device="cuda", batch=3)(images)
    # float32 on both sides (TF32 off): agreement to float32 rounding
    assert np.abs(gpu - cpu).max() <= 1e-4 * np.abs(cpu).max()
    assert torch.backends.cudnn.allow_tf32  # the switch is put back afterwards


def test_drs_samples_on_cuda_as_on_the_cpu(tiny, tmp_path):
    from gankit.load import load_run

    cfg = tiny("grid", "train.device=cuda", "train.steps=20", "discriminator.pack=2")
    fit(cfg, tmp_path / "run", progress=False)
    on = {d: load_run(tmp_path / "run", d).sampler("drs")(64, seed=3) for d in ("cpu", "cuda")}
    assert on["cuda"].x.device.type == "cpu" and on["cuda"].x.shape == (64, 2)
    # the same z and the same uniforms: only float rounding can differ between the devices
    assert abs(on["cuda"].accept_rate - on["cpu"].accept_rate) < 0.05
    result = CliRunner().invoke(main, ["sample", str(tmp_path / "run"), "-n", "30",
                                       "--rejection", "drs", "--device", "cuda",
                                       "--out", str(tmp_path / "s.npy")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (30, 2)


def test_standing_stats_on_cuda():
    from gankit.ema import standing_stats
    from gankit.nets import DCGANGenerator

    G = DCGANGenerator(channels=1, resolution=16, z_dim=8, width=8).cuda()
    assert standing_stats(G, batches=3, batch=16) > 0
    bn = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.running_mean.is_cuda and not G.training
