"""Reporting decoupled from logging: code reports numbers, one collector writes them out."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import torch

from gankit.checkpoint import atomic_write_text, is_count
from gankit.errors import GankitError


class Stats:
    """Accumulates reported values between flushes; `flush()` returns their means."""

    def __init__(self):
        self._sum: dict[str, float] = defaultdict(float)
        self._n: dict[str, int] = defaultdict(int)

    def report(self, name: str, value) -> None:
        self._sum[name] += float(value.detach()) if torch.is_tensor(value) else float(value)
        self._n[name] += 1

    def flush(self) -> dict[str, float]:
        out = {k: self._sum[k] / self._n[k] for k in self._sum}
        self._sum.clear()
        self._n.clear()
        return out

    def pending(self) -> dict:
        """What is reported but not flushed: saved in checkpoints, so the first record after a
        resume averages the same steps as a run that never stopped."""
        return {k: [self._sum[k], self._n[k]] for k in self._sum}

    def restore(self, pending: dict, where: str) -> None:
        for k, value in pending.items():
            ok = (isinstance(value, list) and len(value) == 2 and is_count(value[1])
                  and value[1] >= 1
                  and isinstance(value[0], (int, float)) and not isinstance(value[0], bool))
            try:
                total = float(value[0]) if ok else None
            except OverflowError:  # an integer beyond float
                total = None
            if total is None:
                raise GankitError(f"{where}: the unlogged statistic {k!r} must be [sum, count], "
                                  f"got {str(value)[:80]}")
            self._sum[k], self._n[k] = total, value[1]


def clean(record: dict) -> dict:
    """A flat record as strict JSON takes it (non-finite floats as strings, e.g. "inf")."""
    return {k: _clean(v) for k, v in record.items()}


def _clean(value):
    # JSON has no NaN/Inf; write them as strings so a diverged run stays readable.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonLines:
    """Append-only JSON lines with a `step` field, e.g. metrics.jsonl and eval.jsonl."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(clean(record), allow_nan=False) + "\n")
        except OSError as e:
            raise GankitError(f"cannot write {str(self.path)!r} ({e.strerror or e})") from None

    def read(self) -> list[dict]:
        """The records: JSON objects with an integer `step`; other lines are passed over."""
        if not self.path.exists():
            return []
        try:
            text = self.path.read_text(errors="replace")  # a damaged byte spoils its line only
        except OSError as e:
            raise GankitError(f"cannot read {str(self.path)!r} ({e.strerror or e})") from None
        out = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write
            step = record.get("step") if isinstance(record, dict) else None
            if isinstance(step, int) and not isinstance(step, bool):
                out.append(record)
        return out

    def truncate_after(self, step: int) -> None:
        """Drop records past `step`, and a stop's record (marked "stopped"): a resumed run
        rewrites them, as if it had never stopped."""
        if self.path.exists():
            keep = [r for r in self.read() if r["step"] <= step and not r.get("stopped")]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))
