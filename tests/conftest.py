import pytest

from gankit import config

TINY = [
    "generator.width=16", "generator.depth=2", "discriminator.width=16",
    "discriminator.depth=2", "train.batch_size=32", "train.steps=20", "train.log_every=5",
    "train.picture_every=0", "train.checkpoint_every=10", "train.device=cpu",
]


def tiny_config(preset: str = "ring", *overrides: str) -> config.Config:
    """A preset shrunk to seconds: small nets, small batches, few steps."""
    return config.load(preset, TINY + list(overrides))


@pytest.fixture
def tiny():
    return tiny_config
