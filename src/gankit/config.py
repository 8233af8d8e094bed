"""Run configuration: frozen dataclasses, loaded from a preset or a TOML file plus overrides.

A config file has the sections [data], [generator], [discriminator], [loss] and [train]. `data.kind`
and the `net` of each player pick a registered factory; their other keys are that factory's
keyword arguments, checked against its signature. Every key and every value of the config's own
sections is checked at load time; the values of a net's or a dataset's arguments are checked
when `fit` builds them, before the run folder exists. Either way a typo fails before training with
a message naming the key and the valid choices.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from gankit.config_checks import validate
from gankit.errors import GankitError, closest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_DIR = Path(__file__).parent / "presets"
# Network constructor arguments the trainer fills in from the data; a config may not set them.
INJECTED = {"dim", "channels", "resolution", "n_classes"}


@dataclass(frozen=True)
class DataConfig:
    kind: str = "ring"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NetConfig:
    net: str = "mlp"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LossConfig:
    name: str = "nonsaturating"
    penalty: str = "none"
    penalty_weight: float = 10.0
    penalty_every: int = 1  # lazy (Karras et al. 2020): on every k-th G step, weighted k times
    clip: float = 0.0  # WGAN weight clipping of D's parameters to [-clip, clip]; 0 = off
    label_smoothing: float = 0.0  # one-sided: D's target for real data is 1 - label_smoothing


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 5000  # generator steps
    max_minutes: float = 0.0  # wall-time budget of one fit() call, checkpointed at the end; 0 = off
    batch_size: int = 256
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_decay: str = "none"  # "linear": both learning rates fall linearly to 0 at the last step
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1  # D steps per G step
    d_pretrain: int = 0  # extra D steps before the first G step
    ema: float = 0.0  # decay of an exponential moving average of G; 0 = off
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, annealed to 0 over training
    share_fake: bool = False  # the G step reuses the last D step's fake batch: one G pass, not two
    augment: str = ""  # DiffAugment policy for images, e.g. "color,translation,cutout"
    seed: int = 0
    device: str = "auto"
    log_every: int = 100
    eval_every: int = 0  # steps between metric evaluations written to metrics.jsonl; 0 = off
    monitor_every: int = 500  # steps between mode-collapse checks (gankit.monitor); 0 = off
    monitor_after: int = 1000  # no checks before this step: early samples are noise anyway
    picture_every: int = 1000  # 0 = pictures only at the end
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    max_bad_steps: int = 3  # non-finite losses in a row before the run goes back to a checkpoint
    max_rollbacks: int = 2  # such returns (with no good checkpoint between) before the run stops


@dataclass(frozen=True)
class SampleConfig:
    """How `gankit sample` and `gankit eval` draw from a trained run (training never reads it)."""

    rejection: str = "none"  # "drs": discriminator rejection sampling (gankit.rejection)
    quantile: float = 1.0  # DRS: log M is this quantile of D's logits on a burn-in; 1 = max
    bn_stats: str = "saved"  # "standing": G's batch-norm statistics re-estimated on loading


@dataclass(frozen=True)
class Config:
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    generator: NetConfig = field(default_factory=NetConfig)
    discriminator: NetConfig = field(default_factory=NetConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    def to_dict(self) -> dict:
        def section(obj):
            d = {k: v for k, v in dataclasses.asdict(obj).items() if k != "options"}
            d |= getattr(obj, "options", {})
            return {k: v for k, v in d.items() if v is not None}  # TOML has no null

        out: dict[str, Any] = {"description": self.description} if self.description else {}
        for name in ("data", "generator", "discriminator", "loss", "train", "sample"):
            out[name] = section(getattr(self, name))
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def presets() -> dict[str, str]:
    """Preset name -> its one-line description."""
    out = {}
    for p in sorted(PRESET_DIR.glob("*.toml")):
        out[p.stem] = tomllib.loads(p.read_text()).get("description", "")
    return out


def load(target: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """A preset name or a .toml path, then `section.key=value` overrides, validated."""
    raw = _read_target(target)
    for item in overrides:
        _apply_override(raw, item)
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        data["path"] = str(Path(data["path"]).expanduser().absolute())  # runs work from anywhere
    return from_dict(raw, where=str(target))


def from_dict(raw: dict, where: str = "config") -> Config:
    raw = dict(raw)
    top = {f.name for f in fields(Config)}
    for key in raw:
        if key not in top:
            raise GankitError(f"{where}: unknown section {key!r}{closest(key, top)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise GankitError(f"{where}: description must be a string, got {description!r}")
    from gankit.data import DATASETS
    from gankit.nets import DISCRIMINATORS, GENERATORS

    data = _factory_section(raw.get("data", {}), "data", "kind", DATASETS, DataConfig, where)
    gen = _factory_section(raw.get("generator", {}), "generator", "net", GENERATORS, NetConfig,
                           where, INJECTED)
    disc = _factory_section(raw.get("discriminator", {}), "discriminator", "net", DISCRIMINATORS,
                            NetConfig, where, INJECTED)
    loss = _plain_section(raw.get("loss", {}), "loss", LossConfig, where)
    train = _plain_section(raw.get("train", {}), "train", TrainConfig, where)
    sample = _plain_section(raw.get("sample", {}), "sample", SampleConfig, where)
    cfg = Config(description, data, gen, disc, loss, train, sample)
    validate(cfg, where)
    return cfg


# --- reading -----------------------------------------------------------------------------------


def _read_target(target: str | Path) -> dict:
    path = Path(target)
    if path.suffix == ".toml" or path.is_file():
        if path.is_dir():
            raise GankitError(f"{str(path)!r} is a folder, not a config file")
        if not path.is_file():
            raise GankitError(f"config file not found: {str(path)!r}")
    else:
        names = presets()
        if str(target) not in names:
            raise GankitError(f"unknown preset {str(target)!r}{closest(str(target), names)} "
                              "(or give a path to a .toml file)")
        path = PRESET_DIR / f"{target}.toml"
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise GankitError(f"{path}: not valid TOML ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GankitError(f"{path}: cannot read ({e})") from None


def parse_value(text: str) -> Any:
    """TOML literal if it parses (1e-4, true, [1, 2], "s"), else the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_override(raw: dict, item: str) -> None:
    key, sep, value = item.partition("=")
    if sep and key.strip() == "description":  # the one key outside a section
        raw["description"] = parse_value(value.strip())
        return
    parts = key.strip().split(".")
    if not sep or len(parts) != 2 or not all(parts):
        raise GankitError(f"override {item!r} must look like section.key=value, "
                          "for example train.steps=2000")
    section, name = parts
    if not isinstance(raw.get(section, {}), dict):
        raise GankitError(f"override {item!r}: {section!r} is not a section")
    raw.setdefault(section, {})[name] = parse_value(value.strip())


FLOAT32_MAX = 3.4028234663852886e38  # gankit computes in float32: larger numbers become Inf


def _number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and abs(v) <= FLOAT32_MAX)


def _check_type(where: str, value: Any, default: Any, annotation: str = "") -> Any:
    """Value coerced to the default's type (int -> float allowed), or a clear error. A
    parameter annotated to take a list (per-mode stds, mixture weights) takes a list of
    numbers as well; a string only where the default or annotation is one."""
    lists = "list[" in annotation or isinstance(default, (list, tuple))
    strings = isinstance(default, str) or "str" in annotation
    kinds = [name for test, name in (
        (isinstance(default, bool), "true or false"),
        (type(default) is int, "an integer"), (type(default) is float, "a number"),
        (strings, "a string"), (lists, "a list of numbers")) if test]
    what = " or ".join(kinds)
    if isinstance(value, float) and not _number(value):
        raise GankitError(f"{where} must be a finite number (within +-3.4e38, float32), got "
                          f"{value!r}")
    if lists and isinstance(value, list):
        if value and all(_number(v) for v in value):
            return value
        raise GankitError(f"{where} must be {what} (finite, within +-3.4e38), got {value!r}")
    if isinstance(value, str) and strings:
        return value
    if type(default) is float and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > FLOAT32_MAX:
            raise GankitError(f"{where} must be within +-3.4e38 (float32), got {value!r}")
        return float(value)
    if default is not None and type(default) not in (list, tuple) and isinstance(
            value, type(default)) and not (type(default) is int and isinstance(value, bool)):
        return value
    raise GankitError(f"{where} must be {what}, got {value!r}")


def _plain_section(raw: dict, name: str, cls, where: str):
    if not isinstance(raw, dict):
        raise GankitError(f"{where}: [{name}] must be a table")
    valid = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in valid:
            home = [n for n, c in (("loss", LossConfig), ("train", TrainConfig),
                                   ("sample", SampleConfig))
                    if n != name and key in {f.name for f in fields(c)}]
            hint = f" ({key} is a [{home[0]}] key: {home[0]}.{key})" if home else \
                closest(key, valid)
            raise GankitError(f"{where}: unknown key {name}.{key}{hint}")
        default = valid[key].default
        kwargs[key] = _check_type(f"{where}: {name}.{key}", value, default,
                                  str(valid[key].type))
    return cls(**kwargs)


def _factory_section(raw: dict, name: str, pick: str, registry, cls, where: str,
                     injected: set | tuple = ()):
    if not isinstance(raw, dict):
        raise GankitError(f"{where}: [{name}] must be a table")
    raw = dict(raw)
    choice = raw.pop(pick, getattr(cls(), pick))
    if not isinstance(choice, str):
        raise GankitError(f"{where}: {name}.{pick} must be a name, got {choice!r}")
    factory = registry.get_or_fail(choice, f"{where}: {name}.{pick}")
    params = {
        k: p.default
        for k, p in inspect.signature(factory).parameters.items()
        if k not in injected and k != "self"
    }
    options = {}
    for key, value in raw.items():
        if key not in params:
            raise GankitError(f"{where}: unknown key {name}.{key} for {pick} {choice!r}"
                              f"{closest(key, params)}")
        annotation = str(inspect.signature(factory).parameters[key].annotation)
        options[key] = _check_type(f"{where}: {name}.{key}", value, params[key], annotation)
    # The resolved config spells out every default, so a run never depends on code defaults.
    resolved = {k: v for k, v in params.items() if v is not inspect.Parameter.empty}
    resolved = {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}
    return cls(choice, resolved | options)
