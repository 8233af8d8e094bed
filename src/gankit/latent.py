"""Latent-space tools: spherical walks between seeds and vector arithmetic on attributes.

Arithmetic follows Radford et al. 2016 (DCGAN, section 6.3): average the latent vectors of
generated samples that share a set of attributes, combine the averages (A - B + C), and generate
from the result (plus a little uniform noise, for several variants). Attributes are a class
(the class input of a conditional run, or what a classifier sees in an unconditional one) and
measurable properties of the samples (`thick`/`thin` = the top/bottom quarter of ink mass).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.sampling import decode, latent

# property words: (property, which end of its distribution)
QUALIFIERS = {"thick": ("ink", "high"), "thin": ("ink", "low")}


def ink(images: np.ndarray) -> np.ndarray:
    """Ink mass: mean brightness of uint8 images (N, H, W, C) in [0, 1] (stroke thickness)."""
    return images.reshape(len(images), -1).mean(1) / 255.0


PROPERTIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"ink": ink}


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (Gaussian latents keep their norm)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((an * bn).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / so.clamp(min=1e-7)
    return torch.where(so < 1e-6, lerp, out)


def walk(z_dim: int, n: int, seeds: list[int], frames: int) -> torch.Tensor:
    """A closed walk through the latents of `seeds`: (len(seeds) * frames, n, z_dim)."""
    keys = [latent(n, z_dim, torch.Generator().manual_seed(s)) for s in seeds]
    out = []
    for a, b in zip(keys, keys[1:] + keys[:1]):
        out += [slerp(a, b, i / frames) for i in range(frames)]
    return torch.stack(out)


def walk_frames(G, to_data, n: int, seeds: list[int], frames: int,
                rows: list[int] | None = None) -> list[np.ndarray]:
    """uint8 frames (M, R, R, C) of a walk of n latents through `seeds`.

    A conditional G shows one row per class (`rows`, default its classes, up to 40) walking the
    same latents; an unconditional G one row of n.
    """
    n_classes = getattr(G, "n_classes", 0)
    if rows is None:
        from gankit.viz.images import MAX_ROWS

        rows = list(range(min(n_classes, MAX_ROWS)))
    out = []
    for z in walk(G.z_dim, n, seeds, frames):  # (n, z_dim) per frame
        if n_classes:
            labels = torch.tensor(rows).repeat_interleave(n)
            out.append(to_data(decode(G, z.repeat(len(rows), 1), labels)).numpy())
        else:
            out.append(to_data(decode(G, z)).numpy())
    return out


def digit_classifier(data_kind: str):
    """(classify, class names) for runs on MNIST digits, where the shipped classifier applies."""
    if data_kind != "mnist":
        return None, None
    from gankit.metrics.classifier import classify

    return classify, [str(i) for i in range(10)]


@dataclass(frozen=True)
class Spec:
    """One operand of the arithmetic: an optional class and property requirements."""

    text: str
    cls: int | None
    qualifiers: tuple[tuple[str, str], ...]


def class_index(name: str, classes: list[str]) -> int | None:
    """A class by name, or by index where no class is named by a number ("5" is the class
    named 5, not index 5, when the classes are 5 and 7); None if it is neither."""
    if name in classes:
        return classes.index(name)
    numbered = any(c.isdigit() for c in classes)
    if name.isdigit() and int(name) < len(classes) and not numbered:
        return int(name)
    return None


def _valid(classes: list[str] | None) -> str:
    return ", ".join([*QUALIFIERS, "ink:high", "ink:low"] + (classes or [])[:12])


def parse_spec(text: str, classes: list[str] | None) -> Spec:
    """'7 thick' or 'sandal' or 'ankle boot thin' -> Spec; classes are names (which may hold
    spaces) or indices of `classes`."""
    cls, quals = None, []
    text_left = text.replace(",", " ")
    # class names with spaces first, longest first: "ankle boot" is one class, not two words
    for name in sorted((c for c in classes or [] if " " in c), key=len, reverse=True):
        padded = f" {' '.join(text_left.split())} "
        if f" {name} " in padded:
            cls = classes.index(name)
            text_left = padded.replace(f" {name} ", " ", 1)
            break
    for token in text_left.split():
        if token in QUALIFIERS:
            quals.append(QUALIFIERS[token])
        elif ":" in token and token.split(":")[0] in PROPERTIES and \
                token.split(":")[1] in ("high", "low"):
            quals.append(tuple(token.split(":")))
        elif classes and class_index(token, classes) is not None:
            if cls is not None:
                raise GankitError(f"{text!r} names two classes")
            cls = class_index(token, classes)
        else:
            raise GankitError(f"unknown attribute {token!r} in {text!r}; valid: "
                              f"{_valid(classes)}")
    if cls is None and not quals:  # it would stand for the mean latent of every sample
        raise GankitError(f"operand {text!r} names no attribute; give a class and/or a "
                          f"property, e.g. one of: {_valid(classes)}")
    return Spec(text, cls, tuple(quals))


@dataclass
class Pool:
    """Generated samples with what is known of each: latents, images, class, properties."""

    z: torch.Tensor  # (N, z_dim)
    labels: torch.Tensor | None  # (N,) class input of a conditional G, else None
    images: np.ndarray  # (N, R, R, C) uint8
    cls: np.ndarray | None  # (N,) class of each sample (input, or classifier's), -1 = unsure
    props: dict[str, np.ndarray]
    pred: np.ndarray | None = None  # (N,) the classifier's most likely class, sure or not


def make_pool(G, to_data, n: int, seed: int, n_classes: int = 0,
              classify: Callable[[np.ndarray], np.ndarray] | None = None,
              min_confidence: float = 0.9) -> Pool:
    """n samples of G; an unconditional run's classes come from `classify` (probabilities)."""
    z = latent(n, G.z_dim, torch.Generator().manual_seed(seed))
    labels = torch.arange(n) % n_classes if n_classes else None
    images = to_data(decode(G, z, labels)).numpy()
    probs = classify(images) if classify is not None else None
    pred = probs.argmax(1) if probs is not None else None
    if labels is not None:
        cls = labels.numpy()
    elif probs is not None:
        cls = np.where(probs.max(1) >= min_confidence, pred, -1)
    else:
        cls = None
    return Pool(z, labels, images, cls, {k: f(images) for k, f in PROPERTIES.items()}, pred)


def select(pool: Pool, spec: Spec, quantile: float = 0.25) -> np.ndarray:
    """Indices of pool samples that carry `spec`'s attributes.

    A qualifier keeps the top (or bottom) `quantile` of its property among the samples of the
    spec's class, so "thick 7" means thick for a 7.
    """
    keep = np.ones(len(pool.images), bool)
    if spec.cls is not None:
        if pool.cls is None:
            raise GankitError(f"{spec.text!r} names a class, but this run is unconditional and "
                              "has no classifier for its data")
        keep &= pool.cls == spec.cls
    for prop, end in spec.qualifiers:
        values = pool.props[prop][keep]
        if len(values) == 0:
            break
        q = np.quantile(values, 1 - quantile if end == "high" else quantile)
        keep &= (pool.props[prop] >= q) if end == "high" else (pool.props[prop] <= q)
    return np.flatnonzero(keep)


def result_class(specs: list[Spec], signs: list[int]) -> int | None:
    """The class left by the arithmetic on the operands' classes (7 - 7 + 1 = 1), or None."""
    count = Counter()
    for spec, sign in zip(specs, signs):
        if spec.cls is not None:
            count[spec.cls] += sign
    left = {c: k for c, k in count.items() if k}
    if not left:
        return None
    if list(left.values()) != [1]:
        raise GankitError("the classes of the operands must leave exactly one class (like "
                          f"'7 thick' - '7' + '1'), got {dict(left)}")
    return next(iter(left))


@dataclass
class ArithmeticResult:
    z: torch.Tensor  # (n_variants, z_dim): the combined latent plus small noise
    label: int | None  # class of the result (the class input of a conditional G)
    images: np.ndarray  # (n_variants, R, R, C) uint8
    operands: list[np.ndarray]  # per operand, indices into the pool
    report: dict


def arithmetic(G, to_data, pool: Pool, specs: list[Spec], signs: list[int],
               n_variants: int = 16, noise: float = 0.25, seed: int = 0, min_count: int = 5,
               classify: Callable[[np.ndarray], np.ndarray] | None = None) -> ArithmeticResult:
    """Mean latent of each operand, combined with `signs`, then decoded with small noise.

    The report says how often the results carry the predicted class (by `classify`, or the
    class input) and each predicted property (beyond the median of the pool's samples of that
    class), next to what chance would give.
    """
    picked = [select(pool, s) for s in specs]
    for spec, idx in zip(specs, picked):
        if len(idx) < min_count:
            raise GankitError(f"only {len(idx)} generated samples carry {spec.text!r}; "
                              "draw more with a larger pool (-n) or ask for less")
    z = sum(sign * pool.z[torch.from_numpy(idx)].mean(0) for sign, idx in zip(signs, picked))
    g = torch.Generator().manual_seed(seed)
    variants = z + noise * (2 * torch.rand(n_variants, len(z), generator=g) - 1)
    label = result_class(specs, signs)
    labels = None
    if pool.labels is not None:
        if label is None:
            raise GankitError("a conditional run needs a class in the operands")
        labels = torch.full((n_variants,), label)
    images = to_data(decode(G, variants, labels)).numpy()
    report = _report(pool, specs, signs, images, label, classify)
    return ArithmeticResult(variants, label, images, picked, report)


def _report(pool, specs, signs, images, label, classify) -> dict:
    report: dict = {"operands": [f"{'+-'[s < 0]} {sp.text}" for sp, s in zip(specs, signs)],
                    "class": label}
    same = np.ones(len(pool.images), bool) if label is None or pool.cls is None else \
        pool.cls == label
    if label is not None and classify is not None:
        pred = classify(images).argmax(1)
        report["class_rate"] = float((pred == label).mean())
        # chance, judged as the rate is (the classifier's most likely class): a pool sample
        # drawn as the result is (a conditional G's samples of that class input)
        pool_pred = pool.pred if pool.pred is not None else classify(pool.images).argmax(1)
        base = pool_pred if pool.labels is None else pool_pred[pool.labels.numpy() == label]
        report["class_chance"] = float(np.mean(base == label))
    want = Counter()
    for spec, sign in zip(specs, signs):
        for q in spec.qualifiers:
            want[q] += sign
    for (prop, end), k in want.items():
        if not k:
            continue
        end = end if k > 0 else ("low" if end == "high" else "high")
        median = np.median(pool.props[prop][same])
        values = PROPERTIES[prop](images)
        hit = values > median if end == "high" else values < median
        report[f"{prop}_{end}_rate"] = float(hit.mean())
        report[f"{prop}_{end}_chance"] = 0.5  # by definition of the median
    return report
