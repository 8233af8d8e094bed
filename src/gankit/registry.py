"""A tiny name -> factory registry shared by nets, losses, penalties, data and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gankit.errors import GankitError, closest


class Registry(dict):
    """`@REG.register("name")` stores a factory; `REG.get_or_fail(name)` explains typos."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj):
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self[name] = obj
            return obj

        return deco

    def get_or_fail(self, name: str, where: str = "") -> Any:
        if name not in self:
            at = f"{where}: " if where else ""
            raise GankitError(f"{at}unknown {self.kind} {name!r}{closest(name, self)}")
        return self[name]
