"""Each loss against its formula on hand-made logits, and the seed's point about minimax."""

import math

import pytest
import torch

from gankit.losses import LOSSES

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])
sig = torch.sigmoid


def test_registry_holds_the_five_losses():
    assert set(LOSSES) == {"minimax", "nonsaturating", "wasserstein", "hinge", "least_squares"}


def test_minimax_matches_goodfellow():
    d = LOSSES["minimax"].d(REAL, FAKE, 1.0)
    # D's loss is the sum of the two expectations, each a mean over its batch.
    ref_d = -torch.log(sig(REAL)).mean() - torch.log(1 - sig(FAKE)).mean()
    assert torch.allclose(d, ref_d, atol=1e-6)
    g = LOSSES["minimax"].g(FAKE)
    assert torch.allclose(g, torch.log(1 - sig(FAKE)).mean(), atol=1e-6)


def test_nonsaturating_g_is_minus_log_d():
    assert torch.allclose(LOSSES["nonsaturating"].g(FAKE), -torch.log(sig(FAKE)).mean(), atol=1e-6)
    assert torch.allclose(LOSSES["nonsaturating"].d(REAL, FAKE, 1.0),
                          LOSSES["minimax"].d(REAL, FAKE, 1.0))


def test_one_sided_label_smoothing_targets_real_only():
    t = 0.9
    d = LOSSES["nonsaturating"].d(REAL, FAKE, t)
    ref = (-(t * torch.log(sig(REAL)) + (1 - t) * torch.log(1 - sig(REAL)))).mean() \
        - torch.log(1 - sig(FAKE)).mean()
    assert torch.allclose(d, ref, atol=1e-6)
    ls = LOSSES["least_squares"].d(REAL, FAKE, t)
    assert torch.allclose(ls, 0.5 * ((REAL - t) ** 2).mean() + 0.5 * (FAKE**2).mean())


def test_wasserstein_hinge_least_squares_formulas():
    assert torch.allclose(LOSSES["wasserstein"].d(REAL, FAKE, 1.0), FAKE.mean() - REAL.mean())
    assert torch.allclose(LOSSES["wasserstein"].g(FAKE), -FAKE.mean())
    hinge = torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean()
    assert torch.allclose(LOSSES["hinge"].d(REAL, FAKE, 1.0), hinge)
    assert torch.allclose(LOSSES["hinge"].g(FAKE), -FAKE.mean())
    ls = 0.5 * ((REAL - 1) ** 2).mean() + 0.5 * (FAKE**2).mean()
    assert torch.allclose(LOSSES["least_squares"].d(REAL, FAKE, 1.0), ls)
    assert torch.allclose(LOSSES["least_squares"].g(FAKE), 0.5 * ((FAKE - 1) ** 2).mean())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_finite_with_finite_gradients_at_extreme_logits(name):
    loss = LOSSES[name]
    real = torch.tensor([-200.0, 0.0, 200.0], requires_grad=True)
    fake = torch.tensor([200.0, 0.0, -200.0], requires_grad=True)
    d = loss.d(real, fake, 1.0)
    g = loss.g(fake)
    assert d.dim() == 0 and g.dim() == 0
    assert torch.isfinite(d) and torch.isfinite(g)
    gr, gf = torch.autograd.grad(d + g, (real, fake))
    assert torch.isfinite(gr).all() and torch.isfinite(gf).all()


def test_bce_losses_are_stable_where_log_sigmoid_overflows():
    # log(sigmoid(-200)) is -inf in float32; softplus gives the exact value 200.
    big = torch.tensor([200.0])
    assert math.isinf(torch.log(sig(-big)).item())
    assert LOSSES["nonsaturating"].g(-big).item() == pytest.approx(200.0)


def test_minimax_gradient_vanishes_when_d_wins_but_nonsaturating_does_not():
    """At D(G(z)) ~ 0 (fake logit -10), G's minimax loss is flat; the non-saturating one is not."""
    for name, expect_small in (("minimax", True), ("nonsaturating", False)):
        fake = torch.tensor([-10.0], requires_grad=True)
        (grad,) = torch.autograd.grad(LOSSES[name].g(fake), fake)
        # d/dl log(1 - sigmoid(l)) = -sigmoid(l) ~ -4.5e-5
        # d/dl -log sigmoid(l) = sigmoid(l) - 1 ~ -1
        if expect_small:
            assert abs(grad.item()) < 1e-4
        else:
            assert abs(grad.item()) > 0.99
    # Both push the fake logit up (negative gradient of the loss): same direction, other scale.
