"""Parity: ``--style lm-eval`` vs lm-eval's ``simple_evaluate`` run directly on the stock task.

Side (a) is our entry point (``runner.evaluate_model`` / ``lm_eval_stock.run.evaluate_stock``).
Side (b) is independent of our data code: the test writes the same documents itself as
JSON files and a task YAML that ``include``s the stock YAML and sets ``dataset_path: json``
+ ``dataset_kwargs.data_files``, then calls ``lm_eval.simple_evaluate``. Both use the same
loaded SmolLM2-135M-Instruct (lm-eval's ``HFLM``). Per item the loglikelihoods, acc and
acc_norm must be identical, and so must every aggregate.
"""

from __future__ import annotations

import bz2
import json

import pytest
import yaml

from _eval_common import DATA_DIR
from evaluations import registry, runner
from evaluations.lm_eval_stock import tasks
from evaluations.lm_eval_stock.run import evaluate_stock
from evaluations.results import read_samples

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def engine():
    from evaluations.engines.lm_eval_engine import LMEvalEngine
    from fusion.models import resolve_model

    return LMEvalEngine(resolve_model(MODEL), batch_size=4)


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _direct(engine, tmp, spec, docs_by_task):
    """lm-eval's simple_evaluate on YAMLs that include the stock ones; ``docs_by_task``:
    task -> {split: rows} (the test split holds exactly the evaluated documents)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    stock_tm = tasks._manager(spec)
    folder = tmp / "direct"
    for task, splits in docs_by_task.items():
        files = {s: _write(folder / task / f"{s}.jsonl", rows) for s, rows in splits.items()}
        cfg = {"include": str(stock_tm.task_index[task].yaml_path), "task": task, "dataset_path": "json",
               "dataset_name": None, "dataset_kwargs": {"data_files": files}, **spec.overrides}
        (folder / f"{task}.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = simple_evaluate(model=engine.lm, tasks=sorted(docs_by_task), log_samples=True,
                          task_manager=TaskManager(include_defaults=False, include_path=str(folder)))
    return out


def _compare(ours_dir, direct, task, our_ids, metrics):
    ours = {s.doc_id: s for s in read_samples(ours_dir / "samples.jsonl")}
    rows = {r["doc_id"]: r for r in direct["samples"][task]}
    assert len(rows) == len(our_ids)
    agree = 0
    for i, doc_id in enumerate(our_ids):
        mine, theirs = ours[doc_id], rows[i]
        assert mine.extra["loglikelihoods"] == [float(r[0]) for r in theirs["filtered_resps"]], doc_id
        for m in metrics:
            assert mine.extra["metrics"][f"{m},none"] == float(theirs[m]), (doc_id, m)
        assert mine.prompt == theirs["arguments"][0][0]
        agree += 1
    return agree


def _agg(row, metrics):
    return {k: row[k] for m in metrics for k in (f"{m},none", f"{m}_stderr,none")}


def test_arc_and_hellaswag_match_simple_evaluate(engine, tmp_path):
    results = runner.evaluate_model(MODEL, ["arc", "hellaswag"], DATA_DIR, tmp_path / "ours", limit=15,
                                    limit_mode="first", style="lm-eval", engine=engine)
    root = tmp_path / "ours" / MODEL
    # (b) ARC: the AI2 records in the HF ai2_arc schema, written here
    def hf_arc(name):
        raw = [json.loads(line) for line in (DATA_DIR / "arc_challenge" / f"ARC-Challenge-{name}.jsonl").read_text().splitlines()]
        return [{"id": r["id"], "question": r["question"]["stem"], "answerKey": r["answerKey"],
                 "choices": {"text": [c["text"] for c in r["question"]["choices"]],
                             "label": [c["label"] for c in r["question"]["choices"]]}} for r in raw]

    arc_rows = hf_arc("Test")[:15]
    arc = _direct(engine, tmp_path / "arc", tasks.SPECS["arc"],
                  {"arc_challenge": {"test": arc_rows, "train": hf_arc("Train"), "validation": hf_arc("Dev")}})
    n = _compare(root / "arc", arc, "arc_challenge", [r["id"] for r in arc_rows], ("acc", "acc_norm"))
    assert _agg(results["arc"]["results"]["arc_challenge"], ("acc", "acc_norm")) == _agg(
        arc["results"]["arc_challenge"], ("acc", "acc_norm"))
    # (b) HellaSwag: the 6-line items, ctx_a = the stored context, ctx_b = '' (as documented)
    lines = bz2.open(DATA_DIR / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt", encoding="utf-8").read().split("\n")
    hs_rows = []
    for i in range(15):
        ctx, label, *endings = lines[6 * i: 6 * i + 6]
        activity, rest = ctx.split(": ", 1)
        hs_rows.append({"activity_label": activity, "ctx_a": rest, "ctx_b": "", "endings": endings, "label": label})
    hs = _direct(engine, tmp_path / "hs", tasks.SPECS["hellaswag"], {"hellaswag": {"validation": hs_rows}})
    n += _compare(root / "hellaswag", hs, "hellaswag", [str(i) for i in range(15)], ("acc", "acc_norm"))
    assert _agg(results["hellaswag"]["results"]["hellaswag"], ("acc", "acc_norm")) == _agg(
        hs["results"]["hellaswag"], ("acc", "acc_norm"))
    assert "ctx_a/ctx_b" in results["hellaswag"]["data_caveat"]
    assert results["arc"]["versions"]["arc_challenge"] == arc["versions"]["arc_challenge"]
    assert results["arc"]["n-shot"] == arc["n-shot"] and results["hellaswag"]["n-shot"] == hs["n-shot"]
    print(f"\nparity arc+hellaswag: {n}/30 items identical; arc acc {results['arc']['results']['arc']['acc,none']} "
          f"acc_norm {results['arc']['results']['arc']['acc_norm,none']}; hellaswag acc "
          f"{results['hellaswag']['results']['hellaswag']['acc,none']} acc_norm "
          f"{results['hellaswag']['results']['hellaswag']['acc_norm,none']}")


def test_two_mmlu_subjects_match_simple_evaluate(engine, tmp_path):
    import pyarrow.parquet as pq

    bench = registry.get("mmlu")
    subjects = ("abstract_algebra", "anatomy")
    docs = [d for d in bench.docs(DATA_DIR) if d["subject"] in subjects and int(d["doc_id"].split("/")[1]) < 10]
    spec = tasks.SPECS["mmlu"]
    out = tmp_path / "ours" / MODEL / "mmlu"
    ours = evaluate_stock(spec, bench, docs, DATA_DIR, out, lambda: engine.lm, {"prompt_style": "lm-eval"}, {}, {},
                          "parity")
    splits = {}
    for split in ("test", "dev"):
        rows = pq.read_table(DATA_DIR / "mmlu" / f"{split}-00000-of-00001.parquet").to_pylist()
        for s in subjects:
            picked = [r for r in rows if r["subject"] == s][: 10 if split == "test" else None]
            splits.setdefault(f"mmlu_{s}", {})[split] = picked
    direct = _direct(engine, tmp_path / "mmlu", spec, splits)
    n = sum(_compare(out, direct, f"mmlu_{s}", [f"{s}/{i}" for i in range(10)], ("acc",)) for s in subjects)
    for s in subjects:
        assert _agg(ours["results"][f"mmlu_{s}"], ("acc",)) == _agg(direct["results"][f"mmlu_{s}"], ("acc",))
    pooled = [float(r["acc"]) for s in subjects for r in direct["samples"][f"mmlu_{s}"]]
    assert ours["results"]["mmlu"]["acc,none"] == pytest.approx(sum(pooled) / len(pooled), abs=1e-12)
    assert ours["group_subtasks"]["mmlu_stem"] == ["mmlu_abstract_algebra", "mmlu_anatomy"]
    print(f"\nparity mmlu: {n}/20 items identical; mmlu acc {ours['results']['mmlu']['acc,none']} "
          f"(direct per-subject {[direct['results'][f'mmlu_{s}']['acc,none'] for s in subjects]})")


def test_gsm8k_generation_and_both_filters_match_simple_evaluate(engine, tmp_path):
    """The generative stock task: the same generations, strict-match and flexible-extract
    answers and exact_match per filter, item by item, and the same aggregates."""
    n_items = 4
    results = runner.evaluate_model(MODEL, ["gsm8k"], DATA_DIR, tmp_path / "ours", limit=n_items,
                                    limit_mode="first", style="lm-eval", engine=engine)
    # (b) the official GSM8K JSONL rows are already in the HF openai/gsm8k schema.
    def rows(split):
        return [json.loads(line) for line in (DATA_DIR / "gsm8k" / f"{split}.jsonl").read_text().splitlines()]

    test_rows = rows("test")[:n_items]
    direct = _direct(engine, tmp_path / "gsm8k", tasks.SPECS["gsm8k"],
                     {"gsm8k": {"test": test_rows, "train": rows("train")}})
    ours = {s.doc_id: s for s in read_samples(tmp_path / "ours" / MODEL / "gsm8k" / "samples.jsonl")}
    by_doc: dict[int, dict[str, dict]] = {}
    for r in direct["samples"]["gsm8k"]:
        by_doc.setdefault(r["doc_id"], {})[r["filter"]] = r
    assert len(ours) == len(by_doc) == n_items
    filters = ("strict-match", "flexible-extract")
    for i, mine in enumerate(sorted(ours.values(), key=lambda s: int(s.doc_id))):
        theirs = by_doc[i]
        assert set(theirs) == set(filters)
        assert mine.prompt == theirs["strict-match"]["arguments"][0][0]
        assert mine.output == theirs["strict-match"]["resps"][0][0]  # the same generation
        for f in filters:
            assert mine.extra["filtered"][f] == theirs[f]["filtered_resps"][0], (i, f)
            assert mine.extra["metrics"][f"exact_match,{f}"] == float(theirs[f]["exact_match"]), (i, f)
        assert mine.score == float(theirs["strict-match"]["exact_match"])  # the headline filter
    for f in filters:
        key = f"exact_match,{f}"
        assert results["gsm8k"]["results"]["gsm8k"][key] == direct["results"]["gsm8k"][key]
    assert results["gsm8k"]["versions"]["gsm8k"] == direct["versions"]["gsm8k"]
    assert results["gsm8k"]["n-shot"] == direct["n-shot"]
    print(f"\nparity gsm8k: {n_items}/{n_items} generations and both filters identical; strict "
          f"{results['gsm8k']['results']['gsm8k']['exact_match,strict-match']} flexible "
          f"{results['gsm8k']['results']['gsm8k']['exact_match,flexible-extract']}")
