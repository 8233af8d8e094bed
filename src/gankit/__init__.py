"""gankit: train, see and measure Generative Adversarial Networks with PyTorch."""

from gankit.config import Config, presets
from gankit.config import load as load_config
from gankit.errors import DivergenceError, GankitError
from gankit.load import LoadedRun, load_run
from gankit.sampling import evaluate, generate
from gankit.train import GANState, d_step, fit, g_step

__all__ = [
    "Config", "DivergenceError", "GANState", "GankitError", "LoadedRun", "d_step", "evaluate",
    "fit", "g_step", "generate", "load_config", "load_run", "presets",
]
