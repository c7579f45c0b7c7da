"""What checks leave for later ones during one run, typed by key (pytest's `Stash`).

A leaf module: the grader services that declare keys beside the values they produce import
nothing else for it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class StashKey(Generic[T]):
    """The key of one value in a run's `Stash`, typed with that value's type. Declare it beside
    the code that produces the value, in a grader service both the check writing it and the
    checks reading it import (a check never imports another check)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name  # for messages and repr only: keys compare by identity

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


class Stash:
    """What checks leave for later ones during one run (pytest's `Stash`): typed by key, with no
    slot here per check."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], Any] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        value: T = self._values[key]
        return value

    def get(self, key: StashKey[T], default: T) -> T:
        value: T = self._values.get(key, default)
        return value

    def __contains__(self, key: StashKey[Any]) -> bool:
        return key in self._values
