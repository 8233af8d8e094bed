"""DiffAugment: shapes, gradients, reproducibility and what each augmentation does."""

import pytest
import torch

from gankit.augment import AUGMENTS, apply, color, cutout, policy, translation
from gankit.errors import GankitError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(AUGMENTS))
def test_shape_gradient_and_reproducible(name):
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    y = AUGMENTS[name](x, gen())
    assert y.shape == x.shape
    y.sum().backward()  # differentiable: G learns through the augmentation
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(AUGMENTS[name](x, gen(1)), AUGMENTS[name](x, gen(1)))
    assert not torch.equal(AUGMENTS[name](x, gen(1)), AUGMENTS[name](x, gen(2)))


def test_translation_moves_content_by_at_most_an_eighth():
    x = torch.zeros(200, 1, 16, 16)
    x[:, :, 8, 8] = 1
    y = translation(x, gen())
    pos = y[:, 0].flatten(1).argmax(1)
    dy, dx = pos // 16 - 8, pos % 16 - 8
    assert y.sum((1, 2, 3)).eq(1).all()  # the pixel moved, never duplicated
    assert dy.abs().max() == 2 and dx.abs().max() == 2 and len(set(dy.tolist())) == 5


def test_cutout_zeroes_a_square_of_half_the_size():
    y = cutout(torch.ones(200, 1, 16, 16), gen())
    zeros = (y == 0).sum((1, 2, 3))
    assert zeros.max() == 64 and zeros.min() >= 16  # 8 x 8, clipped at the borders


def test_color_changes_brightness_per_image():
    x = torch.zeros(100, 3, 4, 4)
    means = color(x, gen()).mean((1, 2, 3))
    assert means.min() < -0.3 and means.max() > 0.3


def test_policy_names():
    assert policy("") == [] and len(policy("color, translation,cutout")) == 3
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(apply(x, [], gen()), x)
    with pytest.raises(GankitError, match="'colour'.*color"):
        policy("colour")


@pytest.mark.parametrize("augmented", [False, True])
def test_both_steps_show_d_augmented_images(augmented):
    from gankit import config
    from gankit.data.images import ImageData
    from gankit.train import build_state, d_step, g_step, make_fake

    images = torch.randint(0, 256, (16, 8, 8, 3), dtype=torch.uint8, generator=gen()).numpy()
    cfg = config.load("folder", ["data.path=unused", "data.resolution=8", "generator.width=4",
                                 "discriminator.width=4",
                                 f"train.augment={'translation,cutout' if augmented else ''}"])
    data = ImageData(images)
    st = build_state(cfg, data, torch.device("cpu"))
    seen = []
    st.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    real, _ = data.batch(8, st.rng)
    fake = make_fake(st, 8, None)
    functions = policy(cfg.train.augment) if augmented else []
    d_step(st, real, None, cfg, 0.0, functions, fake)  # the G step below reuses these fakes
    g_step(st, None, 8, cfg, 0.0, functions, fake)
    d_real, d_fake, g_fake = seen  # D's inputs: real and fake in the D step, fake in the G step
    assert torch.equal(d_real, real) != augmented
    assert torch.equal(d_fake, fake.detach()) != augmented
    assert torch.equal(g_fake, fake.detach()) != augmented
    if augmented:  # cutout blanks a square: zeros that the raw batches do not hold
        assert (d_real == 0).all(1).sum() > (real == 0).all(1).sum()
