"""The experiment's training set: built from train splits, scored right by the evaluation's
own scorers, and free of every evaluated item (checked by an independent brute force)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evaluations import registry
from workbench.contamination import EvalIndex, normalize
from workbench.train_sets import BUILDERS, MBPP_TRAIN_IDS, build_train_set, write_train_set

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
pytestmark = pytest.mark.skipif(not (DATA / "gsm8k" / "train.jsonl").is_file(), reason="needs ../shared/benchmarks")


@pytest.fixture(scope="module")
def built():
    return build_train_set(DATA)


def test_counts_and_no_test_item(built):
    examples, report = built
    assert sum(report.kept.values()) == len(examples)
    assert report.kept["gsm8k"] + len(report.dropped["gsm8k"]) == 7473
    assert report.kept["arc"] + len(report.dropped["arc"]) == 1119 + 299
    assert len({e.id for e in examples}) == len(examples)
    # every task of MBPP+ that comes from MBPP's train split is dropped, by id at least
    plus = {int(json.loads(line)["task_id"].split("/")[1])
            for line in gzip.open(DATA / "mbpp" / "MbppPlus.jsonl.gz", "rt")}
    kept_mbpp = {int(e.id.rsplit("-", 1)[1]) for e in examples if e.id.startswith("mbpp-")}
    assert kept_mbpp and not kept_mbpp & plus
    assert kept_mbpp <= set(MBPP_TRAIN_IDS)
    assert {int(i.rsplit("-", 1)[1]) for i in report.dropped["mbpp"]} >= plus & set(MBPP_TRAIN_IDS)
    assert set(report.checked_against) == set(registry.names())


def test_brute_force_finds_no_evaluated_question(built):
    """An independent oracle: plain substring search of every evaluated GSM8K/ARC/MMLU
    question (normalised) in a sample of kept prompts, and in every dropped one."""
    examples, report = built
    questions = []
    for name, key in (("gsm8k", "question"), ("arc", "question"), ("mmlu", "question")):
        questions += [" ".join(normalize(d[key])) for d in registry.get(name).docs(DATA)]
    questions = [q for q in questions if len(q.split()) >= 6]
    for e in examples[::40]:
        text = " " + " ".join(normalize(e.prompt)) + " "
        assert not any(f" {q} " in text for q in questions), e.id
    arc_dropped = {e.id: e for e in BUILDERS["arc"](DATA) if e.id in report.dropped["arc"]}
    for e in arc_dropped.values():
        text = " " + " ".join(normalize(e.prompt)) + " "
        assert any(f" {q} " in text for q in questions), e.id


def test_planted_items_are_found():
    index = EvalIndex.from_benchmarks(DATA, ["gsm8k", "mbpp"])
    question = registry.get("gsm8k").docs(DATA)[17]["question"]
    disguised = "Solve this, please!\n\n" + question.upper().replace(" ", "  \t") + "\nThanks."
    assert index.find(disguised) == ["gsm8k/17"]
    assert not index.contains(" ".join(question.split()[:5]))  # five words are not an item
    assert not index.contains(question[: len(question) // 2])  # half a question is not the item
    mbpp = registry.get("mbpp").docs(DATA)[3]
    test_line = next(line for line in mbpp["prompt"].splitlines() if line.startswith("assert "))
    assert index.find("Write something else.\n" + test_line) == [f"mbpp/{mbpp['doc_id']}"]


def test_responses_score_right_with_the_evaluation_scorers(built):
    """The response format is the one the benchmark's own scorer reads: each GSM8K/ARC
    training response scores 1 against its own gold."""
    gsm8k, arc = registry.get("gsm8k"), registry.get("arc")
    train = [json.loads(line) for line in open(DATA / "gsm8k" / "train.jsonl", encoding="utf-8")]
    by_id = {e.id: e for e in built[0]}
    checked = 0
    for i in range(0, len(train), 25):
        gold = train[i]["answer"].split("####")[-1].strip().replace(",", "")
        sample = gsm8k.score({"doc_id": str(i), "question": train[i]["question"], "gold": gold},
                             by_id[f"gsm8k-train-{i}"].response)
        assert sample.score == 1.0, (i, sample.extracted, gold)
        checked += 1
    docs = arc.read_docs(DATA / "arc_challenge" / "ARC-Challenge-Train.jsonl")
    for doc in docs[::10]:
        example = by_id.get(f"arc-train-{doc['doc_id']}")
        if example is not None:
            assert arc.score(doc, example.response).score == 1.0
            checked += 1
    assert checked > 400


def test_written_file_loads_as_training_data(built, tmp_path):
    from fusion.data import load_examples

    path = tmp_path / "train.jsonl"
    write_train_set(path, built[0][:50])
    loaded = load_examples(path)
    assert [(e.id, e.prompt, e.response) for e in loaded] == [(e.id, e.prompt, e.response) for e in built[0][:50]]


def test_unknown_set_is_refused():
    with pytest.raises(ValueError, match="unknown training set"):
        build_train_set(DATA, ["gsm8k", "squad"])
