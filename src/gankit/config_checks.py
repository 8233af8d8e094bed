"""Checks of a whole config that need more than one key, a registry or the data's shape.

`gankit.config` reads and types a config; these functions decide whether its values make sense
together, each failure a one-line GankitError naming the key and what would be valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gankit.device import DEVICE_NAME
from gankit.errors import GankitError, closest

if TYPE_CHECKING:
    from gankit.config import Config

BN_STATS = ("saved", "standing")  # sample.bn_stats (gankit.ema.standing_stats)


def validate(cfg: Config, where: str) -> None:
    """Checks that need more than one key or a registry."""
    from gankit.losses import LOSSES
    from gankit.penalties import PENALTIES

    LOSSES.get_or_fail(cfg.loss.name, f"{where}: loss.name")
    PENALTIES.get_or_fail(cfg.loss.penalty, f"{where}: loss.penalty")
    t = cfg.train
    positive = {"steps": t.steps, "batch_size": t.batch_size, "n_critic": t.n_critic,
                "log_every": t.log_every, "checkpoint_every": t.checkpoint_every,
                "keep_checkpoints": t.keep_checkpoints, "max_bad_steps": t.max_bad_steps}
    for key, value in positive.items():
        if value < 1:
            raise GankitError(f"{where}: train.{key} must be >= 1, got {value}")
    for key in ("lr_g", "lr_d"):
        if getattr(t, key) <= 0:
            raise GankitError(f"{where}: train.{key} must be > 0, got {getattr(t, key)}")
    for key in ("beta1", "beta2", "ema"):
        if not 0 <= getattr(t, key) < 1:
            raise GankitError(f"{where}: train.{key} must be in [0, 1), got {getattr(t, key)}")
    for key in ("d_pretrain", "eval_every", "max_rollbacks", "picture_every", "monitor_every",
                "monitor_after", "instance_noise", "max_minutes"):
        if getattr(t, key) < 0:
            raise GankitError(f"{where}: train.{key} must be >= 0, got {getattr(t, key)}")
    from gankit.augment import AUGMENTS

    for name in filter(None, (a.strip() for a in t.augment.split(","))):
        AUGMENTS.get_or_fail(name, f"{where}: train.augment")
    from gankit.data import IMAGE_KINDS

    if t.augment.strip() and cfg.data.kind not in IMAGE_KINDS:
        raise GankitError(f"{where}: train.augment (DiffAugment) works on images; data.kind="
                          f"{cfg.data.kind!r} is vectors, so leave train.augment empty")
    resolution = cfg.data.options.get("resolution")
    if "dcgan" in (cfg.generator.net, cfg.discriminator.net) and isinstance(resolution, int) \
            and resolution:  # 0: an array's own size, checked when the data is read
        from gankit.nets.dcgan import ladder

        try:
            ladder(resolution)
        except GankitError:
            raise GankitError(f"{where}: data.resolution={resolution} does not fit the dcgan "
                              "nets, which need 4 to 7 times a power of two (valid: 8, 16, 28, "
                              "32, 64, 128, ...)") from None
    pack = cfg.discriminator.options.get("pack", 1)
    if pack < 1:
        raise GankitError(f"{where}: discriminator.pack must be >= 1, got {pack}")
    if t.batch_size % pack:
        raise GankitError(f"{where}: train.batch_size={t.batch_size} must be a multiple of "
                          f"discriminator.pack={pack}")
    # 1-D batch norm (MLP layers, DCGAN hidden layers) cannot train on a batch of one sample
    for role, net, n in (("generator", cfg.generator, t.batch_size),
                         ("discriminator", cfg.discriminator, t.batch_size // pack)):
        if n < 2 and _batch_norm_1d(net):
            raise GankitError(f"{where}: train.batch_size={t.batch_size} gives {role} {n} "
                              f"sample(s) per batch, too few for {role}.norm='batch' (needs >= 2);"
                              f" raise train.batch_size or use norm 'layer' or 'none'")
    s = cfg.loss.label_smoothing
    if not 0 <= s < 1:
        raise GankitError(f"{where}: loss.label_smoothing must be in [0, 1), got {s}")
    if s and cfg.loss.name in ("wasserstein", "hinge"):
        raise GankitError(f"{where}: loss.label_smoothing has no meaning for loss "
                          f"{cfg.loss.name!r}; use it with minimax, nonsaturating or least_squares")
    if (every := cfg.loss.penalty_every) < 1:
        raise GankitError(f"{where}: loss.penalty_every must be >= 1, got {every}")
    for key in ("clip", "penalty_weight"):
        if getattr(cfg.loss, key) < 0:
            raise GankitError(f"{where}: loss.{key} must be >= 0, got {getattr(cfg.loss, key)}")
    if cfg.loss.name == "wasserstein" and not cfg.loss.clip and cfg.loss.penalty == "none":
        raise GankitError(f"{where}: loss.name=wasserstein needs a Lipschitz constraint: set "
                          "loss.clip (e.g. 0.01) or loss.penalty=gradient_penalty")
    if cfg.loss.penalty != "none" and cfg.discriminator.options.get("norm") == "batch":
        raise GankitError(f"{where}: loss.penalty={cfg.loss.penalty} needs per-sample gradients, "
                          "which batch norm in D mixes; use discriminator.norm=layer or none")
    if not -2**63 <= t.seed < 2**63:  # TOML's integers; torch's generators take them all
        raise GankitError(f"{where}: train.seed must be in -2**63..2**63-1, got {t.seed}")
    if t.lr_decay not in ("none", "linear"):
        raise GankitError(f"{where}: train.lr_decay {t.lr_decay!r} is not one of none, linear")
    check_sampling(cfg.sample.rejection, cfg.sample.quantile, cfg.loss.name, f"{where}: sample")
    check_bn_stats(cfg.sample.bn_stats, f"{where}: sample.bn_stats")
    if not DEVICE_NAME.match(t.device):
        raise GankitError(f"{where}: train.device {t.device!r} is not one of auto, cpu, cuda, "
                          "cuda:N, mps")


def check_sampling(rejection: str, quantile: float, loss: str, where: str) -> None:
    from gankit.rejection import METHODS, check_loss

    if rejection not in METHODS:
        raise GankitError(f"{where}.rejection {rejection!r} is unknown"
                          f"{closest(rejection, METHODS)}")
    if not 0 < quantile <= 1:
        raise GankitError(f"{where}.quantile must be in (0, 1], got {quantile}")
    if rejection == "drs":
        check_loss(loss, f"{where}.rejection='drs'")


def check_bn_stats(bn_stats: str, where: str) -> None:
    if bn_stats not in BN_STATS:
        raise GankitError(f"{where} {bn_stats!r} is unknown{closest(bn_stats, BN_STATS)}")


def _batch_norm_1d(net) -> bool:
    """Whether a player's config builds 1-D batch norm layers."""
    o = net.options
    return o.get("norm") == "batch" and (net.net == "mlp" or o.get("hidden", 0) > 0)
