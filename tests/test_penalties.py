"""Penalties on a linear critic D(x) = w.x, whose input gradient is w everywhere."""

import pytest
import torch
from torch import nn

from gankit.penalties import PENALTIES


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w


def batches():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), g


def test_gradient_penalty_is_squared_distance_of_grad_norm_from_one():
    real, fake, g = batches()
    D = Linear([3.0, 4.0])  # ||w|| = 5
    assert PENALTIES["gradient_penalty"](D, real, fake, g).item() == pytest.approx(16.0, rel=1e-5)
    D = Linear([0.6, 0.8])  # ||w|| = 1: a 1-Lipschitz critic pays nothing
    assert PENALTIES["gradient_penalty"](D, real, fake, g).item() == pytest.approx(0, abs=1e-6)


def test_r1_is_squared_grad_norm_on_real_data():
    real, fake, g = batches()
    assert PENALTIES["r1"](Linear([3.0, 4.0]), real, fake, g).item() == pytest.approx(25.0)
    assert PENALTIES["none"](Linear([3.0, 4.0]), real, fake, g).item() == 0


@pytest.mark.parametrize("name", ["gradient_penalty", "r1"])
def test_penalty_gradient_reaches_d_parameters(name):
    real, fake, g = batches()
    D = Linear([3.0, 4.0])
    PENALTIES[name](D, real, fake, g).backward()
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_gradient_penalty_interpolates_between_real_and_fake():
    real, fake, g = batches()
    seen = []

    class Spy(Linear):
        def forward(self, x):
            seen.append(x.detach())
            return super().forward(x)

    PENALTIES["gradient_penalty"](Spy([1.0, 0.0]), real, fake, g)
    x = seen[0]
    # each interpolate lies on the segment from fake to real: x = e*real + (1-e)*fake
    e = (x - fake) / (real - fake)
    assert torch.allclose(e[:, 0], e[:, 1], atol=1e-4)
    assert ((e >= -1e-5) & (e <= 1 + 1e-5)).all()


def test_penalties_take_norms_over_packed_groups():
    from gankit.nets import DISCRIMINATORS

    torch.manual_seed(0)
    D = DISCRIMINATORS["mlp"](dim=2, width=8, depth=2, pack=2)
    real, fake, g = batches()  # 8 samples = 4 packed groups
    # reference: D as a function of the packed (4, 4) input
    packed = real.reshape(4, 4).requires_grad_(True)
    out = D.net(packed).sum()
    (grad,) = torch.autograd.grad(out, packed)
    r1 = PENALTIES["r1"](D, real, fake, g).item()
    assert r1 == pytest.approx(grad.pow(2).sum(1).mean().item(), rel=1e-5)
    seen = []
    forward = D.forward
    D.forward = lambda x: seen.append(x.detach()) or forward(x)
    PENALTIES["gradient_penalty"](D, real, fake, g)
    e = (seen[0] - fake) / (real - fake)  # one coefficient per packed group
    assert torch.allclose(e[0::2], e[1::2], atol=1e-4)
