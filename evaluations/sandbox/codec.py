"""Python values as plain data: the only thing that crosses the sandbox boundary.

Test inputs go in (host → sandbox) and the candidate's return values come out
(sandbox → host) as JSON, never pickle or ``eval``: decoding builds nothing but builtin
containers and scalars (and ``Fraction``/``Decimal``, numpy numbers and numeric arrays),
so whatever the untrusted side writes, the host runs none of its code.

Form: JSON ``null``/``true``/``false``/numbers/strings are ``None``/``bool``/``int``/
``float``/``str`` (floats exactly, by their round-trip repr, ``NaN``/``Infinity``
included); a JSON array is a tagged node ``[tag, …]`` for everything else; a JSON
object is never valid. The form keeps exactly what equality depends on, so that
``decoded == expected`` on the host answers as ``out == expected`` would have inside:

* ``bool`` stays distinct from ``int`` (``[True] == [1]`` still holds, as in Python);
* ints too long for JSON's decimal form (``int_max_str_digits``) travel in hexadecimal;
* ``list``/``tuple``, ``set``/``frozenset``, ``bytes``/``bytearray`` and dict key order
  are kept apart;
* numpy scalars and arrays of bool/int/uint/float/complex dtypes come back as numpy
  values of the same dtype (numpy's comparison rules still apply), ``Fraction`` and
  ``Decimal`` as themselves (``Fraction(1, 2) == 0.5`` still holds);
* a subclass of a builtin (a namedtuple, ``OrderedDict``, an ``IntEnum``) travels as its
  builtin base — read through the base's own methods, so overrides play no part — and
  the exact type's name travels beside the value (:func:`type_name`) for the one rule
  that compares types (EvalPlus's tolerance check ``type(out) == type(exp)``);
* anything else (a generator, a custom class, an object with a rigged ``__eq__``) becomes
  an :class:`Opaque` that equals nothing but itself — with its items when the caller
  needs to iterate it (EvalPlus's ``set(out) == set(exp)`` tasks).

Lists of plain scalars take a fast path both ways (HumanEval/130's expected outputs hold
10 million floats). Text-only outputs too large to ship (MBPP/255 expects 1.66 million
77-tuples of strings, 1 GB of JSON) are compared by :func:`text_digest` instead.
Module-level imports are standard library only: the sandbox side imports this file first.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import math
import pickle
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

if __package__:  # imported from the repository (tests, tooling)
    from evaluations.sandbox.codec_base import _NUMPY_KINDS, _SCALARS, MAX_DEPTH, CodecError, Opaque, _short, type_name
else:  # imported by harness.py inside the sandbox: codec_base.py lies beside this file
    from codec_base import _NUMPY_KINDS, _SCALARS, MAX_DEPTH, CodecError, Opaque, _short, type_name  # type: ignore

# JSON carries ints in decimal, which Python caps at 4300 digits; 10,000 bits is ~3010.
_JSON_INT_BITS = 10_000
_NESTED = frozenset({list, dict})
_HEX_INT = re.compile(r"-?[0-9a-f]+")


# ------------------------------------------------------------------------- encoding
_BASES: tuple[tuple[type, str], ...] = (
    # Order matters: bool before int (bool subclasses int); the first match wins.
    (bool, "B"), (int, "I"), (float, "F"), (complex, "C"), (str, "S"), (bytes, "Y"),
    (bytearray, "A"), (list, "L"), (tuple, "T"), (dict, "D"), (set, "E"), (frozenset, "Z"),
)
_ITER: dict[str, Callable[[Any], Iterator[Any]]] = {"L": list.__iter__, "T": tuple.__iter__, "E": set.__iter__,
                                                    "Z": frozenset.__iter__}


def encode(value: Any, materialise_iterables: bool = False, depth: int = 0) -> Any:
    """The JSON-able form of ``value``; never raises for odd values (they become
    ``["O", type_name, items|None]``, items only with ``materialise_iterables``)."""
    kind = type(value)
    if kind in _SCALARS:
        return _int(value) if kind is int else value
    if depth >= MAX_DEPTH:
        return ["O", "codec.TooDeep", None]
    if kind is list or kind is tuple:  # the common case, before the generic search
        return ["L" if kind is list else "T", _sequence(value, materialise_iterables, depth)]
    special = _encode_special(value)
    if special is not None:
        return special
    for base, tag in _BASES:
        if isinstance(value, base):
            try:
                return _encode_builtin(tag, value, materialise_iterables, depth)
            except RecursionError:
                return ["O", "codec.TooDeep", None]
    return _encode_opaque(value, materialise_iterables, depth)


def _int(value: int) -> Any:
    return value if value.bit_length() <= _JSON_INT_BITS else ["I", format(value, "x")]


def _sequence(items: Iterable[Any], materialise: bool, depth: int) -> list[Any]:
    items = list(items)
    if set(map(type, items)) <= _SCALARS and all(
            x.bit_length() <= _JSON_INT_BITS for x in items if type(x) is int):
        return items  # already JSON (the fast path)
    return [encode(item, materialise, depth + 1) for item in items]


def _encode_builtin(tag: str, value: Any, materialise: bool, depth: int) -> Any:
    # Subclasses are read through the base type's own methods, so an override in the
    # subclass cannot change what travels.
    if tag == "B":
        return bool(int.__int__(value))
    if tag == "I":
        return _int(int.__index__(value))
    if tag == "F":
        return float.__float__(value)
    if tag == "C":
        number = complex.__complex__(value) if type(value) is not complex else value
        return ["C", number.real, number.imag]
    if tag == "S":
        return str.__str__(value)
    if tag in ("Y", "A"):
        raw = bytes.__bytes__(value) if tag == "Y" else bytes(bytearray.__iter__(value))
        return [tag, base64.b64encode(raw).decode("ascii")]
    if tag == "D":
        return ["D", [[encode(k, materialise, depth + 1), encode(v, materialise, depth + 1)]
                      for k, v in dict.items(value)]]
    return [tag, _sequence(_ITER[tag](value), materialise, depth)]


def _encode_special(value: Any) -> list | None:
    """numpy numbers/arrays of numeric dtypes, ``Fraction``, ``Decimal`` (only when the
    code under test loaded those modules, so the sandbox never imports them for it)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic | numpy.ndarray) \
            and value.dtype.kind in _NUMPY_KINDS:
        if value.ndim == 0:
            return ["NS", value.dtype.str, encode(value.item())]
        return ["NA", value.dtype.str, list(value.shape),
                [encode(v) for v in value.ravel().tolist()]]
    fractions, decimal = sys.modules.get("fractions"), sys.modules.get("decimal")
    if fractions is not None and isinstance(value, fractions.Fraction):
        return ["Q", format(value.numerator, "x"), format(value.denominator, "x")]
    if decimal is not None and isinstance(value, decimal.Decimal):
        return ["M", decimal.Decimal.__str__(value)]
    return None


def _encode_opaque(value: Any, materialise: bool, depth: int) -> list:
    name = type_name(type(value))
    if not materialise or not isinstance(value, Iterable):
        return ["O", name, None]
    try:
        return ["O", name, [encode(item, materialise, depth + 1) for item in value]]
    except Exception:  # an iterator that raises is still just opaque
        return ["O", name, None]


# ------------------------------------------------------------------------- decoding
def decode(node: Any, depth: int = 0) -> Any:
    """The value a JSON form stands for. Raises :class:`CodecError` on anything that is
    not a well-formed encoding (JSON objects, unknown tags, wrong arity or types, nesting
    deeper than :data:`MAX_DEPTH`, unhashable set members or keys)."""
    kind = type(node)
    if kind in _SCALARS:
        return node
    if depth > MAX_DEPTH:
        raise CodecError("nested too deeply")
    if kind is not list or not node or type(node[0]) is not str:
        raise CodecError(f"not a value or tagged node: {_short(node)}")
    decoder = _DECODERS.get(node[0])
    if decoder is None:
        raise CodecError(f"unknown tag {_short(node[0])}")
    try:
        return decoder(node[1:], depth + 1)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError, IndexError, KeyError) as exc:
        raise CodecError(f"bad {node[0]!r} node: {exc}") from None


def _arg(args: list, kind: type) -> Any:
    if len(args) != 1 or type(args[0]) is not kind:
        raise CodecError(f"expected one {kind.__name__}, got {_short(args)}")
    return args[0]


def _hex(text: Any) -> int:
    if type(text) is not str or not _HEX_INT.fullmatch(text):
        raise CodecError(f"bad hex integer {_short(text)}")
    return int(text, 16)


def _number(value: Any, *kinds: type) -> Any:
    if type(value) not in kinds:
        raise CodecError(f"expected {'/'.join(k.__name__ for k in kinds)}, got {_short(value)}")
    return value


def _items(args: list, depth: int) -> list:
    items = _arg(args, list)
    if not any(type(x) in _NESTED for x in items):
        return items  # only JSON scalars: they are the values (the fast path)
    return [decode(item, depth) for item in items]


def _dict(args: list, depth: int) -> dict:
    out = {}
    for pair in _arg(args, list):
        if type(pair) is not list or len(pair) != 2:
            raise CodecError("bad dict entry")
        out[decode(pair[0], depth)] = decode(pair[1], depth)
    return out


def _complex(args: list, depth: int) -> complex:
    if len(args) != 2:
        raise CodecError("bad complex node")
    return complex(_number(args[0], int, float), _number(args[1], int, float))


def _bytes(args: list, depth: int) -> bytes:
    return base64.b64decode(_arg(args, str), validate=True)


def _fraction(args: list, depth: int) -> Any:
    from fractions import Fraction

    if len(args) != 2:
        raise CodecError("bad fraction node")
    numerator, denominator = _hex(args[0]), _hex(args[1])
    if denominator <= 0:
        raise CodecError("bad fraction denominator")
    return Fraction(numerator, denominator)


def _decimal(args: list, depth: int) -> Any:
    import decimal

    try:
        return decimal.Decimal(_arg(args, str))
    except decimal.InvalidOperation:
        raise CodecError(f"bad decimal {_short(args)}") from None


def _numpy_dtype(text: Any):
    import numpy

    dtype = numpy.dtype(text) if type(text) is str else None
    if dtype is None or dtype.kind not in _NUMPY_KINDS:
        raise CodecError(f"numpy dtype not allowed: {_short(text)}")
    return numpy, dtype


def _numpy_value(node: Any, depth: int) -> Any:
    value = decode(node, depth)
    return _number(value, bool, int, float, complex)


def _numpy_scalar(args: list, depth: int) -> Any:
    if len(args) != 2:
        raise CodecError("bad numpy scalar")
    numpy, dtype = _numpy_dtype(args[0])
    return numpy.array(_numpy_value(args[1], depth), dtype=dtype)[()]


def _numpy_array(args: list, depth: int) -> Any:
    if len(args) != 3 or type(args[1]) is not list or type(args[2]) is not list:
        raise CodecError("bad numpy array")
    numpy, dtype = _numpy_dtype(args[0])
    shape = args[1]
    if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise CodecError("bad numpy shape")
    values = [_numpy_value(v, depth) for v in args[2]]
    if math.prod(shape) != len(values):
        raise CodecError("numpy array values do not fit its shape")
    return numpy.array(values, dtype=dtype).reshape(shape)


def _opaque(args: list, depth: int) -> Opaque:
    if len(args) != 2 or type(args[0]) is not str:
        raise CodecError("bad opaque node")
    items = None if args[1] is None else [decode(i, depth) for i in _arg([args[1]], list)]
    return Opaque(args[0], items)


_DECODERS = {
    "I": lambda a, d: _hex(_arg(a, str)),
    "C": _complex,
    "Y": _bytes,
    "A": lambda a, d: bytearray(_bytes(a, d)),
    "L": _items,
    "T": lambda a, d: tuple(_items(a, d)),
    "E": lambda a, d: set(_items(a, d)),
    "Z": lambda a, d: frozenset(_items(a, d)),
    "D": _dict,
    "Q": _fraction,
    "M": _decimal,
    "NS": _numpy_scalar,
    "NA": _numpy_array,
    "O": _opaque,
}


# --------------------------------------------------------------------- text digests
_DIGEST_CHUNK = 4096  # top-level items hashed per repr() call (both sides chunk alike)
_TEXT_LEAVES = frozenset({str, type(None)})


class Digest(str):
    """A :func:`text_digest` that stands in for an output the sandbox did not ship."""


def _other(kind: type) -> tuple:
    """A non-text value inside a digested value: a tuple holding ``Ellipsis``, which no
    text-only value contains, so it never digests like text."""
    return (Ellipsis, type_name(kind))


def _text_form(value: Any, depth: int = 0) -> Any:
    """``value`` with list/tuple/str subclasses read as their exact base (as equality
    reads them) and anything else replaced by :func:`_other`."""
    kind = type(value)
    if kind in _TEXT_LEAVES:
        return value
    if depth > MAX_DEPTH:
        return (Ellipsis, "codec.TooDeep")
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [_text_form(v, depth + 1) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(_text_form(v, depth + 1) for v in tuple.__iter__(value))
    return _other(kind)


# pickle's STACK_GLOBAL opcode: protocol 4 writes it for every class or global it refers
# to, i.e. whenever an item is not an exact builtin it serialises natively.
_CLASS_REFERENCE = b"\x93"


def _serialise(chunk: tuple) -> bytes:
    """Bytes of a chunk, identical for equal chunks of exact builtins: pickle's *fast*
    mode keeps no memo, so object identity plays no part (``"Red"`` and
    ``"".join(["Re", "d"])`` serialise alike). Only ever fed to a hash, never loaded;
    on the host it only sees expected outputs (inside the sandbox a candidate's
    ``__reduce__`` may run, in its own process, on its own output). 3-4 times faster than
    ``repr``, which matters for MBPP/255's 128 million strings."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=4)
    pickler.fast = True
    pickler.dump(chunk)
    return buffer.getvalue()


def _exact_text_chunk(chunk: tuple) -> bool:
    """All items exact str/None, or exact tuples of those (checked at C speed)."""
    kinds = set(map(type, chunk))
    if kinds <= _TEXT_LEAVES:
        return True
    return kinds == {tuple} and set(map(type, itertools.chain.from_iterable(chunk))) <= _TEXT_LEAVES


def is_text_only(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is built of exact lists, tuples, strs and None only: then two
    such values are ``==`` exactly when their :func:`text_digest` agree."""
    kind = type(value)
    if kind in _TEXT_LEAVES:
        return True
    if kind not in (list, tuple) or depth > MAX_DEPTH:
        return False
    for start in range(0, len(value), _DIGEST_CHUNK):
        chunk = tuple(value[start:start + _DIGEST_CHUNK])
        if not _exact_text_chunk(chunk) and not all(is_text_only(v, depth + 1) for v in chunk):
            return False
    return True


def text_digest(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s text form, serialised (:func:`_serialise`) in chunks
    of top-level items so that a 1 GB output is never one string.

    Equal text-only values (subclasses of list/tuple/str read as their bases) give equal
    digests; a value holding anything else never digests like a text-only one.
    """
    digest = hashlib.sha256()
    if not isinstance(value, list | tuple):
        digest.update(_serialise((_text_form(value),)))
        return digest.hexdigest()
    digest.update(b"L" if isinstance(value, list) else b"T")
    items: Iterator[Any] = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
    while chunk := tuple(itertools.islice(items, _DIGEST_CHUNK)):
        try:
            data = _serialise(chunk)
        except Exception:  # e.g. a class pickle cannot name: no fast path
            data = _CLASS_REFERENCE
        if _CLASS_REFERENCE in data:
            # Some item is not an exact builtin (or a string holds the byte): serialise
            # its text form instead, which for exact text is the same bytes as above.
            data = _serialise(tuple(_text_form(v, 1) for v in chunk))
        digest.update(data)
    return digest.hexdigest()
