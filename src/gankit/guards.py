"""What keeps the training loop safe: Ctrl-C ends it after a whole step, and a skipped update
(a NaN/Inf loss) leaves the nets' buffers as they were."""

from __future__ import annotations

import signal
import threading

import torch
from torch import nn


class StopFlag:
    """Ctrl-C ends the loop after the current step, with a checkpoint, instead of mid-update."""

    def __init__(self):
        self.set = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_):
        if self.set:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class Buffers:
    """A copy of nets' buffers (BatchNorm statistics, spectral-norm vectors) to put back when a
    step is skipped: its forward passes updated them with the batch that made the loss NaN/Inf."""

    def __init__(self, *nets: nn.Module):
        self.live = [b for net in nets for b in net.buffers()]
        self.saved = [b.clone() for b in self.live]

    def take(self) -> None:
        if self.live:  # one call for all of them (a clone per buffer costs ~3x as much)
            torch._foreach_copy_(self.saved, self.live)

    def restore(self) -> None:
        if self.live:
            torch._foreach_copy_(self.live, self.saved)
