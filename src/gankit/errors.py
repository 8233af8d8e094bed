"""Errors that reach the user as one clear line."""

from __future__ import annotations

import difflib


class GankitError(Exception):
    """Bad input (config, file, checkpoint): the message names the culprit and what is valid."""


class DivergenceError(GankitError):
    """Training produced non-finite losses repeatedly and was stopped."""


def closest(name: str, valid) -> str:
    """' (did you mean x?) valid: a, b, c' for an error message."""
    valid = sorted(valid)
    near = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    return f"{hint}; valid: {', '.join(valid)}"
