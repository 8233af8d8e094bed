"""GPU checks: skipped where no CUDA device is present (CI never has one)."""

import pytest
import torch

from gankit.train import fit

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
