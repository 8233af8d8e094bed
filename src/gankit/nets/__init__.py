"""Network families by name. Each family is one class per player; data shape is a parameter."""

from __future__ import annotations

from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.registry import Registry

GENERATORS = Registry("generator net")
DISCRIMINATORS = Registry("discriminator net")
GENERATORS["mlp"] = MLPGenerator
DISCRIMINATORS["mlp"] = MLPDiscriminator
GENERATORS["dcgan"] = DCGANGenerator
DISCRIMINATORS["dcgan"] = DCGANDiscriminator

__all__ = ["GENERATORS", "DISCRIMINATORS", "DCGANDiscriminator", "DCGANGenerator", "MLPGenerator",
           "MLPDiscriminator"]
