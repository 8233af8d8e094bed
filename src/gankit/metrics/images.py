"""Cheap scores of generated digits with the shipped MNIST classifier.

- MNIST: `classes` (digits the classifier finds among the samples, of 10), `class_kl`
  (KL(predicted class histogram || uniform), nats; 0 = balanced), `confident` (share of samples
  the classifier gives >= 0.9 to one digit; not proof of legibility: like most classifiers, it
  is confident on pure noise too) and `mnist_score` (the Inception
  Score computed with the digit classifier, exp E_x KL(p(y|x) || p(y)); 10 at best), and for
  conditional runs `class_match` (share of samples classified as the class they were asked for).
- Stacked MNIST (Metz et al. 2017; VEEGAN and PacGAN's protocol): each channel is classified,
  `modes` = distinct (R, G, B) digit triples among the samples (of 1,000) and `mode_kl` =
  KL(triple histogram || uniform over 1,000). The protocol uses 26,000 samples. Not in the
  protocol, to say where a high `mode_kl` comes from: `channel_kl`, the sum over channels of
  KL(that channel's digit histogram || uniform over 10). `mode_kl` is `channel_kl` plus how far
  the triples are from independent channels, which sampling noise alone puts near 0.02 on
  26,000 samples; so `channel_kl` near `mode_kl` means G draws some digits too often in every
  triple, not that it misses or ties triples. `confident`: the share of channel digits the
  classifier gives >= 0.9 to one digit (as for MNIST); malformed digits, unsure, are read more
  often as some digits (9, 7, 0) than others, so a low share goes with a high `channel_kl`.
FID, KID and precision/recall for any images are in their own modules.
"""

from __future__ import annotations

import numpy as np

from gankit.metrics.classifier import classify

CONFIDENT = 0.9  # a digit counts as confidently classified at this top probability


def kl_to_uniform(counts: np.ndarray) -> float:
    """KL(histogram of `counts` || uniform over its bins), nats; 0 = balanced."""
    p = counts / counts.sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] * len(counts))))


def digit_metrics(samples: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Scores of uint8 digits (N, H, W[, 1]); `labels` are the classes asked of a conditional G."""
    probs = classify(samples).astype(np.float64)
    pred = probs.argmax(1)
    counts = np.bincount(pred, minlength=10)
    marginal = probs.mean(0)
    kl = np.sum(probs * (np.log(probs + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    out = {"classes": int((counts > 0).sum()), "class_kl": kl_to_uniform(counts),
           "confident": float((probs.max(1) >= CONFIDENT).mean()),
           "mnist_score": float(np.exp(kl.mean()))}
    if labels is not None:
        out["class_match"] = float((pred == np.asarray(labels)).mean())
    return out


def stacked_mnist_metrics(samples: np.ndarray) -> dict:
    """Modes of uint8 RGB samples (N, H, W, 3): distinct classified digit triples of 1,000."""
    probs = [classify(samples[..., c]) for c in range(3)]  # 3 x (N, 10)
    digits = [p.argmax(1) for p in probs]
    triples = 100 * digits[0] + 10 * digits[1] + digits[2]
    counts = np.bincount(triples, minlength=1000)
    channel_kl = sum(kl_to_uniform(np.bincount(d, minlength=10)) for d in digits)
    confident = float(np.mean([(p.max(1) >= CONFIDENT).mean() for p in probs]))
    return {"modes": int((counts > 0).sum()), "mode_kl": kl_to_uniform(counts),
            "channel_kl": channel_kl, "confident": confident}


def image_metrics(data, samples: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """The scores that suit `data` (an ImageData); {} where none applies yet."""
    if data.name == "stacked-mnist":
        return stacked_mnist_metrics(samples)
    if data.name == "mnist":
        return digit_metrics(samples, labels if data.n_classes else None)
    return {}
