"""Loss curves and D's verdicts over training, read from metrics.jsonl."""

from __future__ import annotations

from matplotlib.figure import Figure


def _number(value) -> float:
    """A plotted value (metrics.jsonl writes NaN/Inf as "nan"/"inf"); a missing or
    non-numeric one (an edited file: a boolean, other text, a number beyond floats) leaves a gap."""
    if isinstance(value, bool) or (isinstance(value, str) and value not in ("nan", "inf", "-inf")):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def curves_figure(records: list[dict], prob: bool = True) -> Figure:
    fig = Figure(figsize=(10, 3.6), dpi=100)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    rows = [r for r in records if "d_loss" in r]
    steps = [r["step"] for r in rows]
    marker = "o" if len(rows) < 3 else None  # a line through one point draws nothing
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        ax1.plot(steps, [_number(r.get(key)) for r in rows], label=label, marker=marker)
    skipped = [r["step"] for r in records if r.get("skipped")]
    for i, step in enumerate(skipped):  # divergence shown, not hidden: NaN/Inf steps marked
        ax1.axvline(step, color="red", lw=0.8, alpha=0.5,
                    label="steps skipped (NaN/Inf loss)" if i == 0 else None)
    ax1.set_xlabel("step")
    ax1.set_title("losses")
    ax1.legend()
    what = "D" if prob else "critic"
    for key, label in (("d_real", f"{what}(x) on real"), ("d_fake", f"{what}(G(z)) in D step")):
        ax2.plot(steps, [_number(r.get(key)) for r in rows], label=label, marker=marker)
    if prob:
        ax2.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("step")
    ax2.set_title(f"what {what} says")
    ax2.legend()
    fig.tight_layout()
    return fig
