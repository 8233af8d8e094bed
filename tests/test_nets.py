"""Contract tests for the MLP family (the convolutional family: test_nets_dcgan.py)."""

import pytest
import torch

from gankit import checkpoint
from gankit.errors import GankitError
from gankit.nets import DISCRIMINATORS, GENERATORS

VARIANTS = [
    {},
    {"norm": "batch"},
    {"norm": "layer", "activation": "elu"},
    {"spectral_norm": True, "activation": "silu"},
]


@pytest.mark.parametrize("name", ["mlp"])
@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_generator_shape_and_gradients(name, kw, dim):
    G = GENERATORS[name](dim=dim, z_dim=3, width=8, depth=2, **kw)
    x = G(torch.randn(6, 3))
    assert x.shape == (6, dim)
    x.square().mean().backward()
    for pname, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", ["mlp"])
@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("pack", [1, 3])
def test_discriminator_shape_packing_and_gradients(name, kw, pack):
    D = DISCRIMINATORS[name](dim=2, width=8, depth=2, pack=pack, **kw)
    logits = D(torch.randn(6 * pack, 2))
    assert logits.shape == (6,)
    logits.sum().backward()
    for pname, p in D.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_packing_concatenates_consecutive_samples():
    D = DISCRIMINATORS["mlp"](dim=2, width=8, depth=1, pack=2)
    x = torch.randn(4, 2)
    # swapping the two packs swaps the two logits; D sees (x0, x1) and (x2, x3) as units
    assert torch.allclose(D(x[[2, 3, 0, 1]]), D(x).flip(0))


@pytest.mark.parametrize("kw", VARIANTS)
def test_save_load_round_trip(kw):
    G1 = GENERATORS["mlp"](dim=2, z_dim=2, width=8, depth=2, **kw)
    G1(torch.randn(4, 2))  # moves spectral-norm vectors and BN statistics
    G2 = GENERATORS["mlp"](dim=2, z_dim=2, width=8, depth=2, **kw)
    tensors = checkpoint.flatten_module("G", G1)
    checkpoint.unflatten_module("G", tensors, G2, "test")
    z = torch.randn(5, 2)
    G1.eval()
    G2.eval()
    assert torch.equal(G1(z), G2(z))


def test_bad_architecture_values_are_clear_errors():
    with pytest.raises(GankitError, match="activation 'rellu'.*relu"):
        GENERATORS["mlp"](activation="rellu")
    with pytest.raises(GankitError, match="norm 'btach'.*batch"):
        DISCRIMINATORS["mlp"](norm="btach")
    with pytest.raises(GankitError, match="output activation"):
        GENERATORS["mlp"](out="softmax")
    with pytest.raises(GankitError, match="width and depth"):
        GENERATORS["mlp"](width=0)


def test_every_registered_family_has_contract_tests():
    assert set(GENERATORS) == set(DISCRIMINATORS) == {"mlp", "dcgan"}
