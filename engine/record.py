"""Record: ``__repr__`` and ``__eq__`` from ``__slots__``, for the engine's small data classes.

The classes every read and write goes through spell out ``__slots__`` and ``__init__`` and
inherit the rest from here instead of being dataclasses: importing ``dataclasses`` costs about
12 ms (it imports ``inspect``) and each decorated class another 0.3 ms, which is most of what a
one-tag ``metafs write`` may spend in total (tests/test_import_cost.py keeps it out).
"""

from __future__ import annotations


class Record:
    """Equality and repr field by field, as a dataclass has (mutable: unhashable)."""

    __slots__ = ()

    def _init(self, *values: object) -> None:
        """Set every field, in ``__slots__`` order (for classes made once per file or per
        write; the classes made once per tag set their fields one by one, twice as fast)."""
        for k, v in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, k, v)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class FrozenRecord(Record):
    """A Record that cannot change after ``__init__`` (which sets fields with ``_init``).
    ``__init__`` takes the fields in ``__slots__`` order (copy and pickle rely on it)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot delete {name!r})")

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, k) for k in self.__slots__))

    def __reduce__(self) -> tuple:
        return type(self), tuple(getattr(self, k) for k in self.__slots__)
