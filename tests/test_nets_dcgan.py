"""Contract tests for the convolutional family at every supported resolution."""

import inspect

import pytest
import torch

from gankit import checkpoint
from gankit.errors import GankitError
from gankit.nets import DISCRIMINATORS, GENERATORS
from gankit.nets.dcgan import ladder

RESOLUTIONS = [8, 16, 28, 32, 64, 128]
# every registered image net (its factory takes a resolution), not only the ones known today
IMAGE_NETS = sorted(n for n in GENERATORS
                    if "resolution" in inspect.signature(GENERATORS[n]).parameters)
VARIANTS = [
    {},
    {"norm": "none", "spectral_norm": True},
    {"norm": "layer"},
    {"hidden": 8},  # the fully connected layer of Lucic et al.'s MNIST nets
    {"hidden": 8, "norm": "none", "spectral_norm": True},
    {"hidden": 8, "norm": "layer"},
]


def _all_grads(net):
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("net", IMAGE_NETS)
@pytest.mark.parametrize("res", RESOLUTIONS)
def test_shapes_and_gradients_at_every_resolution(res, net):
    G = GENERATORS[net](z_dim=5, channels=3, resolution=res, width=4)
    D = DISCRIMINATORS[net](channels=3, resolution=res, width=4)
    x = G(torch.randn(4, 5))
    assert x.shape == (4, 3, res, res) and x.abs().max() < 1  # tanh output
    logits = D(x)
    assert logits.shape == (4,)
    logits.sum().backward()  # reaches G through D
    _all_grads(G)
    _all_grads(D)


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_conditional_nets_use_the_label_and_train_every_parameter(kw, conditioning):
    G = GENERATORS["dcgan"](z_dim=5, channels=1, resolution=16, width=4, n_classes=3, **kw)
    D = DISCRIMINATORS["dcgan"](channels=1, resolution=16, width=4, n_classes=3,
                                conditioning=conditioning, minibatch_std=True, **kw)
    z, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    x = G(z, y)
    D(x, y).sum().backward()
    _all_grads(G)
    _all_grads(D)
    G.eval()
    D.eval()
    with torch.no_grad():  # the label changes both players' outputs
        assert not torch.allclose(G(z, y), G(z, (y + 1) % 3))
        assert not torch.allclose(D(x, y), D(x, (y + 1) % 3))


def test_conditional_and_unconditional_calls_are_checked():
    G = GENERATORS["dcgan"](z_dim=5, resolution=8, width=4, n_classes=3)
    with pytest.raises(GankitError, match="needs class labels"):
        G(torch.randn(2, 5))
    D = DISCRIMINATORS["dcgan"](resolution=8, width=4)
    with pytest.raises(GankitError, match="takes none"):
        D(torch.randn(2, 1, 8, 8), torch.tensor([0, 1]))


def test_packing_concatenates_consecutive_images():
    D = DISCRIMINATORS["dcgan"](channels=1, resolution=8, width=4, pack=2)
    D.eval()
    x = torch.randn(4, 1, 8, 8)
    assert D(x).shape == (2,)
    assert torch.allclose(D(x[[2, 3, 0, 1]]), D(x).flip(0))


def test_minibatch_std_sees_the_batch_spread():
    D = DISCRIMINATORS["dcgan"](channels=1, resolution=8, width=4, norm="none",
                                minibatch_std=True)
    same = torch.randn(1, 1, 8, 8).expand(4, -1, -1, -1)
    spread = same + torch.randn(4, 1, 8, 8)
    # each logit depends on the other samples of its group only through the std channel
    assert not torch.allclose(D(same)[:1], D(torch.cat([same[:1], spread[1:]]))[:1])


@pytest.mark.parametrize("kw", VARIANTS)
def test_save_load_round_trip(kw):
    make = lambda: GENERATORS["dcgan"](z_dim=5, resolution=28, width=4, n_classes=2, **kw)  # noqa: E731
    G1, G2 = make(), make()
    G1(torch.randn(4, 5), torch.tensor([0, 1, 1, 0]))  # moves BN statistics, SN vectors
    checkpoint.unflatten_module("G", checkpoint.flatten_module("G", G1), G2, "test")
    G1.eval()
    G2.eval()
    z, y = torch.randn(3, 5), torch.tensor([1, 0, 1])
    assert torch.equal(G1(z, y), G2(z, y))
    make_d = lambda: DISCRIMINATORS["dcgan"](resolution=28, width=4, n_classes=2,  # noqa: E731
                                             minibatch_std=True, **kw)
    D1, D2 = make_d(), make_d()
    x = torch.randn(4, 1, 28, 28)
    D1(x, torch.tensor([0, 1, 1, 0]))
    checkpoint.unflatten_module("D", checkpoint.flatten_module("D", D1), D2, "test")
    D1.eval()
    D2.eval()
    assert torch.equal(D1(x[:2], y[:2]), D2(x[:2], y[:2]))


def test_dcgan_initialisation():
    G = GENERATORS["dcgan"](z_dim=100, resolution=64, width=64)
    w = G.net[3].weight  # first transposed convolution
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002


def test_ladder_and_bad_values():
    assert ladder(28) == (7, 2) and ladder(64) == (4, 4) and ladder(8) == (4, 1)
    for bad in (4, 9, 17, 36 * 9):
        with pytest.raises(GankitError, match="power of two"):
            ladder(bad)
    with pytest.raises(GankitError, match="pack = 1 with conditional"):
        DISCRIMINATORS["dcgan"](n_classes=10, pack=2)
    with pytest.raises(GankitError, match="conditioning 'projektion'.*projection"):
        DISCRIMINATORS["dcgan"](n_classes=10, conditioning="projektion")
    with pytest.raises(GankitError, match="width"):
        GENERATORS["dcgan"](width=1024, max_width=512)
    with pytest.raises(GankitError, match="discriminator.hidden must be >= 0"):
        DISCRIMINATORS["dcgan"](hidden=-1)
    with pytest.raises(GankitError, match="generator.hidden must be >= 0"):
        GENERATORS["dcgan"](hidden=-2)


@pytest.mark.parametrize("res", [16, 28])
def test_hidden_layer_shapes_and_parameters(res):
    G = GENERATORS["dcgan"](z_dim=5, resolution=res, width=4, hidden=32)
    D = DISCRIMINATORS["dcgan"](resolution=res, width=4, hidden=32, pack=2)
    x = G(torch.randn(4, 5))
    assert x.shape == (4, 1, res, res) and D(x).shape == (2,)
    D(x).sum().backward()
    _all_grads(G)
    _all_grads(D)
    assert G.hidden[0].weight.shape == (32, 5) and D.out[-1].weight.shape == (1, 32)
    # hidden = 0 keeps the parameter names of runs saved before the option existed
    names = set(checkpoint.flatten_module("D", DISCRIMINATORS["dcgan"](resolution=res, width=4)))
    assert {"D.out.weight", "D.out.bias"} <= names
    assert "G.project.weight" in checkpoint.flatten_module(
        "G", GENERATORS["dcgan"](z_dim=5, resolution=res, width=4))


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_bias_only_where_no_batch_norm_follows(norm):
    # Batch norm subtracts each channel's mean, cancelling a bias; layer norm (one group over
    # C, H, W) subtracts one mean for all channels, so a per-channel bias still matters.
    layers = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    shape = {"channels": 1, "resolution": 16, "width": 4, "hidden": 8, "norm": norm}
    for net in (GENERATORS["dcgan"](z_dim=5, **shape), DISCRIMINATORS["dcgan"](**shape)):
        before_norm = [m for m in net.modules() if isinstance(m, layers)][:-1]  # all but output
        if isinstance(net, DISCRIMINATORS["dcgan"]):
            before_norm = before_norm[1:]  # D's first layer has no normalisation after it
        assert before_norm and all((m.bias is None) == (norm == "batch") for m in before_norm)


@pytest.mark.parametrize("batch", [5, 7])  # no divisor in 2..4: the whole batch is one group
def test_minibatch_std_works_for_any_batch_size(batch):
    from gankit.nets.dcgan import _minibatch_std

    calm, wild = torch.randn(batch, 2, 4, 4) * 0.01, torch.randn(batch, 2, 4, 4) * 10
    assert _minibatch_std(wild).mean() > 100 * _minibatch_std(calm).mean()
