"""Contract tests for the MLP family (the convolutional family: test_nets_dcgan.py)."""

import copy

import pytest
import torch

from gankit import checkpoint
from gankit.errors import GankitError
from gankit.nets import DISCRIMINATORS, GENERATORS
from gankit.nets.layers import ACTIVATIONS

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


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_in_place_activations_give_the_same_gradients_as_out_of_place_ones(act, norm):
    """The trunk's activations overwrite their input (speed); first and second derivatives (a
    gradient penalty differentiates D's input gradient) must equal those of a copy that does not."""
    torch.manual_seed(0)
    D = DISCRIMINATORS["mlp"](dim=2, width=8, depth=2, activation=act, norm=norm, pack=2)
    assert any(getattr(m, "inplace", False) for m in D.modules()) == (act not in ("gelu", "tanh"))
    plain = copy.deepcopy(D)
    for m in plain.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    x = torch.randn(8, 2)
    grads = []
    for net in (D, plain):
        xi = x.clone().requires_grad_()
        g, = torch.autograd.grad(net(xi).sum(), xi, create_graph=True)
        g.square().sum().backward()
        grads.append([g.detach()] + [p.grad for p in net.parameters()])
    for a, b in zip(*grads):  # None: a parameter the input gradient does not depend on
        assert (a is None and b is None) or torch.allclose(a, b, atol=1e-6)


def test_no_bias_before_batch_norm():
    def biases(norm):
        G = GENERATORS["mlp"](width=8, depth=3, norm=norm)
        return [m.bias is not None for m in G.modules() if isinstance(m, torch.nn.Linear)]

    assert biases("batch") == [False, False, False, True]  # the output layer keeps its bias
    assert biases("layer") == biases("none") == [True] * 4  # layer norm does not cancel it


def test_bad_architecture_values_are_clear_errors():
    with pytest.raises(GankitError, match="activation 'rellu'.*relu"):
        GENERATORS["mlp"](activation="rellu")
    with pytest.raises(GankitError, match="norm 'btach'.*batch"):
        DISCRIMINATORS["mlp"](norm="btach")
    with pytest.raises(GankitError, match="output activation"):
        GENERATORS["mlp"](out="softmax")
    with pytest.raises(GankitError, match="width: must be >= 1"):
        GENERATORS["mlp"](width=0)


@pytest.mark.parametrize("override,match", [
    ("generator.activation=foo", "generator.activation: unknown activation 'foo'"),
    ("discriminator.norm=group", "discriminator.norm: unknown norm 'group'"),
    ("generator.width=0", "generator.width: must be >= 1, got 0"),
    ("generator.out=softmax", "generator.out: unknown output activation"),
])
def test_net_errors_name_the_full_key(override, match, tmp_path):
    from gankit import config
    from gankit.train import fit

    with pytest.raises(GankitError, match=match):
        fit(config.load("ring", [override]), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_every_registered_family_has_contract_tests():
    assert set(GENERATORS) == set(DISCRIMINATORS) == {"mlp", "dcgan"}
