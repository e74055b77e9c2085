"""Character-offset alignment on the real SmolLM2 / Gemma-3 tokenizer pair.

Oracle: a brute force over characters — pivot token i must be paired with exactly the
source tokens whose spans contain at least one of token i's characters.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusion.align import align_positions, alignment_tensors, index_alignment, offset_alignment
from fusion.demo_data import demo_examples


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from fusion.gguf_builtins import tokenizer_dir

    pivot = AutoTokenizer.from_pretrained(str(tokenizer_dir("smollm2-135m-instruct")))
    source = AutoTokenizer.from_pretrained(str(tokenizer_dir("gemma3-270m")))
    assert pivot.is_fast and source.is_fast
    return pivot, source


def _offsets(tokenizer, text: str) -> list[tuple[int, int]]:
    return [tuple(o) for o in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]


def _brute_force(pivot: list[tuple[int, int]], source: list[tuple[int, int]]) -> list[list[int]]:
    owner: dict[int, set[int]] = {}
    for j, (s, e) in enumerate(source):
        for c in range(s, e):
            owner.setdefault(c, set()).add(j)
    out = []
    for s, e in pivot:
        found: set[int] = set()
        for c in range(s, e):
            found |= owner.get(c, set())
        out.append(sorted(found))
    return out


def _check(pivot_tok, source_tok, text: str) -> None:
    p, s = _offsets(pivot_tok, text), _offsets(source_tok, text)
    pairs = offset_alignment(p, s)
    assert pairs == _brute_force(p, s)
    assert len(pairs) == len(p)
    for partners in pairs:
        assert all(0 <= j < len(s) for j in partners)  # never outside the source response
    for (a, b) in p + s:
        assert 0 <= a <= b <= len(text)  # offsets stay inside the response text
    # Every non-whitespace character is covered by both tokenizers, so every pivot token
    # holding one has at least one partner.
    covered = {c for a, b in s for c in range(a, b)}
    for (a, b), partners in zip(p, pairs):
        if any(not text[c].isspace() for c in range(a, b)):
            assert partners, (text, (a, b), text[a:b])
            assert any(c in covered for c in range(a, b))


def test_alignment_on_demo_responses(tokenizers) -> None:
    pivot, source = tokenizers
    for ex in demo_examples(60, seed=3):
        _check(pivot, source, ex["response"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=60))
def test_alignment_property_random_text(tokenizers, text: str) -> None:
    pivot, source = tokenizers
    _check(pivot, source, text)


def test_multilingual_and_code_text(tokenizers) -> None:
    pivot, source = tokenizers
    for text in ["Ça coûte 12,50 € — très cher!", "def f(x):\n    return x ** 2  # square",
                 "日本語のテキストと emoji 🙂🙂", "  leading and trailing spaces  ", "a\n\nb\tc"]:
        _check(pivot, source, text)


def test_index_alignment_and_packing() -> None:
    assert index_alignment(3, 2) == [[0], [1], []]
    assert align_positions([(0, 1)] * 3, [(0, 1)] * 2, "index") == [[0], [1], []]
    with pytest.raises(ValueError, match="alignment"):
        align_positions([], [], "nearest")
    idx, w = alignment_tensors([[[0, 2], [], [1]]], length=4)
    assert idx.shape == (1, 4, 2)
    assert w[0].tolist() == [[0.5, 0.5], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    assert idx[0, 0].tolist() == [0, 2] and idx[0, 2, 0].item() == 1


def test_empty_spans_pair_with_nothing() -> None:
    assert offset_alignment([(0, 0), (0, 3)], [(0, 2), (2, 2), (2, 5)]) == [[], [0, 2]]
    with pytest.raises(ValueError, match="spans"):
        offset_alignment([(3, 1)], [(0, 1)])
