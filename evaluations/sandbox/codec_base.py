"""The terms of the codec's wire form (:mod:`evaluations.sandbox.codec`): the nesting limit,
the type sets of its fast paths, :class:`CodecError`, the :class:`Opaque` stand-in and
:func:`type_name`.

Standard library only, like the codec: inside the sandbox it is bound beside ``codec.py``.
"""

from __future__ import annotations

from typing import Any

# Deeper than any expected output of HumanEval+/MBPP+ (measured: 2), far below the
# interpreter's recursion limit, so a hostile deeply nested value is refused cleanly.
MAX_DEPTH = 100
_NUMPY_KINDS = frozenset("biufc")  # bool, signed, unsigned, float, complex
_SCALARS = frozenset({type(None), bool, int, float, str})


class CodecError(ValueError):
    """Data that is not a well-formed encoding."""


class Opaque:
    """Stand-in for a value the codec does not carry: equal only to itself.

    ``items`` holds the value's elements when the encoder was asked to materialise
    iterables, so ``set(opaque)`` / ``list(opaque)`` work as on the original object.
    """

    __slots__ = ("type_name", "items")

    def __init__(self, type_name: str, items: list[Any] | None = None) -> None:
        self.type_name = type_name
        self.items = items

    def __iter__(self):
        if self.items is None:
            raise TypeError(f"'{self.type_name}' object is not iterable (not materialised)")
        return iter(self.items)

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}>"


def type_name(cls: type) -> str:
    """``module.qualname`` of a type: how the exact type of a value is named on the wire."""
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."
