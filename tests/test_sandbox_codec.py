"""The value codec: exact round trips for what equality depends on, refusal of the rest."""

from __future__ import annotations

import collections
import enum
import json
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluations.sandbox import codec


def through_json(value, materialise=False):
    return codec.decode(json.loads(json.dumps(codec.encode(value, materialise))))


def same(a, b) -> bool:
    """Equal with exact types all the way down, NaN equal to NaN, -0.0 apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


hashable = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=8)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**3000, max_value=10**3100)
    | st.floats() | st.complex_numbers() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(hashable, inner, max_size=3) | st.sets(hashable, max_size=3),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_round_trip_is_exact(value):
    assert same(through_json(value), value)


def test_types_that_matter_for_equality():
    Point = collections.namedtuple("Point", "x y")

    class Colour(enum.IntEnum):
        RED = 3

    cases = [
        (10**5000, 10**5000, "builtins.int"),  # beyond JSON's decimal limit
        (bytearray(b"ab"), bytearray(b"ab"), "builtins.bytearray"),
        (collections.OrderedDict(a=1), {"a": 1}, "collections.OrderedDict"),
        (Point(1, 2), (1, 2), "test_sandbox_codec.Point"),
        (Colour.RED, 3, None),
        (Fraction(1, 3), Fraction(1, 3), "fractions.Fraction"),
        (Decimal("-0.10"), Decimal("-0.10"), "decimal.Decimal"),
        (np.float32(0.1), np.float32(0.1), "numpy.float32"),
        (np.int64(7), np.int64(7), "numpy.int64"),
        (np.bool_(True), np.bool_(True), codec.type_name(np.bool_)),
    ]
    for value, expected, name in cases:
        back = through_json(value)
        assert back == expected and type(back) is type(expected), (value, back)
        if name:
            assert codec.type_name(type(value)) == name
    array = through_json(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert array.dtype == np.int16 and array.shape == (2, 3) and array.tolist() == [[0, 1, 2], [3, 4, 5]]
    # What equality sees is kept: bool vs int inside containers, list vs tuple, set vs frozenset.
    assert through_json([True, 1]) == [1, 1] and type(through_json([True])[0]) is bool
    assert type(through_json((1,))) is tuple and type(through_json(frozenset({1}))) is frozenset
    # numpy's own comparison rules apply to the decoded value, as they did inside.
    assert (through_json(np.float32(0.1)) == 0.1) == (np.float32(0.1) == 0.1)


def test_values_the_codec_does_not_carry_become_opaque():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    rigged = through_json(AlwaysEqual())
    assert isinstance(rigged, codec.Opaque) and rigged != rigged.__class__("x") and not (rigged == 1)
    gen = through_json(x for x in [3, 1])
    with pytest.raises(TypeError):
        set(gen)  # not materialised: not iterable
    assert set(through_json((x for x in [3, 1]), materialise=True)) == {1, 3}
    nested: list = []
    nested.append(nested)
    deep = through_json(nested)  # self-reference: cut at MAX_DEPTH, never a recursion error
    for _ in range(codec.MAX_DEPTH):
        deep = deep[0]
    assert isinstance(deep, codec.Opaque)


@pytest.mark.parametrize("bad", [
    {"a": 1}, [], ["X"], ["I", "0x1"], ["I"], ["L", [{"a": 1}]], ["L", 1], ["E", [["L", []]]],
    ["D", [[1]]], ["D", [[["L", []], 1]]], ["Q", "1", "0"], ["M", "x"], ["C", "a", 1],
    ["NA", "|O", [1], [None]], ["NA", "<f8", [2], [1.0]], ["NS", "<f8", "a"], ["Y", "!!"],
    ["O", 1, None],
])
def test_malformed_data_is_refused(bad):
    with pytest.raises(codec.CodecError):
        codec.decode(bad)


def test_nesting_beyond_the_limit_is_refused():
    node: list = ["L", []]
    for _ in range(codec.MAX_DEPTH + 5):
        node = ["L", [node]]
    with pytest.raises(codec.CodecError, match="nested too deeply"):
        codec.decode(node)


def test_text_digest_is_equality_for_text_only_values():
    Triple = collections.namedtuple("Triple", "a b c")

    class Text(str):
        def __repr__(self):
            return "rigged"

    base = [("Red", "Green", "Blu–e"), ("a", None, "\ud800")] * 5000  # "–" holds byte 0x93
    variants = [
        base,
        [Triple(*t) for t in base],  # tuple subclass
        [tuple(Text(x) if x else x for x in t) for t in base],  # str subclass, rigged repr
        [tuple("".join(list(x)) if x else x for x in t) for t in base],  # other objects
    ]
    assert codec.is_text_only(base) and not codec.is_text_only([1]) and not codec.is_text_only(variants[1])
    assert len({codec.text_digest(v) for v in variants}) == 1
    different = [base[:-1], tuple(base), base[:-1] + [("Red", "Green", "Blue")],
                 base[:-1] + [["Red", "Green", "Blu–e"]], [1], ["1"], [None], ["None"], [(Ellipsis, "builtins.int")]]
    digests = {codec.text_digest(v) for v in different} | {codec.text_digest(base)}
    assert len(digests) == len(different) + 1
    assert codec.text_digest([1]) != codec.text_digest([(Ellipsis, "builtins.int")])  # no collision
