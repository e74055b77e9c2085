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


def _generative(ours, direct, pairs, filters):
    """Item by item: ``pairs`` = [(our doc id, direct task, direct doc index)]; the same
    prompt, generation, filtered answer and every metric per filter. Returns the count."""
    by_doc: dict[tuple[str, int], dict[str, dict]] = {}
    for task, rows in direct["samples"].items():
        for r in rows:
            by_doc.setdefault((task, r["doc_id"]), {})[r["filter"]] = r
    assert len(ours) == len(by_doc) == len(pairs)
    for doc_id, task, i in pairs:
        mine, theirs = ours[doc_id], by_doc[(task, i)]
        assert set(theirs) == set(filters), (doc_id, set(theirs))
        head = theirs[filters[0]]
        assert mine.extra["lm_eval"]["task"] == task, doc_id
        assert mine.prompt == head["arguments"][0][0], doc_id
        assert mine.output == head["resps"][0][0], doc_id  # the same generation
        assert mine.extra["generation_kwargs"] == head["arguments"][0][1], doc_id
        for f in filters:
            assert mine.extra["filtered"][f] == theirs[f]["filtered_resps"][0], (doc_id, f)
            metrics = {k: float(v) for k, v in theirs[f].items() if k in ("exact_match", "math_verify")}
            assert metrics and all(mine.extra["metrics"][f"{k},{f}"] == v for k, v in metrics.items()), (doc_id, f)
        assert mine.score == float(head["exact_match"]), doc_id  # the headline filter
    return len(pairs)


def _leaf_rows(results, leaves, keys):
    return {t: {k: results["results"][t][k] for k in keys} for t in leaves}


def _group_matches(ours_row, direct, leaves, metric):
    """Our group row = lm-eval's size-weighted mean and pooled stderr of the direct
    per-task rows ("N/A" when a task's stderr is, e.g. a task of one item)."""
    from lm_eval.api.metrics import pooled_sample_stderr

    name, f = metric.split(",")
    pooled = [float(r[name]) for t in leaves for r in direct["samples"][t]]
    assert ours_row[metric] == pytest.approx(sum(pooled) / len(pooled), abs=1e-12)
    stderrs = [direct["results"][t][f"{name}_stderr,{f}"] for t in leaves]
    if "N/A" in stderrs:
        assert ours_row[f"{name}_stderr,{f}"] == "N/A"
    else:
        sizes = [len(direct["samples"][t]) for t in leaves]
        assert ours_row[f"{name}_stderr,{f}"] == pytest.approx(pooled_sample_stderr(stderrs, sizes), abs=1e-12)


def _bbh_parity(engine, tmp_path, results, out, picks):
    """(b) for BBH: ``picks`` = {task: [indices]} written from the BBH task files (already in
    the SaylorTwift/bbh schema: input, target), then item-by-item and aggregate checks
    against our ``results`` / ``out``/samples.jsonl. Returns (items, our samples)."""
    spec = tasks.SPECS["bbh"]
    leaves = [f"bbh_cot_fewshot_{t}" for t in picks]
    splits = {}
    for t, indices in picks.items():
        examples = json.loads((DATA_DIR / "bbh" / f"{t}.json").read_text(encoding="utf-8"))["examples"]
        splits[f"bbh_cot_fewshot_{t}"] = {"test": [{"input": examples[i]["input"], "target": examples[i]["target"]}
                                                   for i in indices]}
    direct = _direct(engine, tmp_path / "bbh", spec, splits)
    ours = {s.doc_id: s for s in read_samples(out / "samples.jsonl")}
    pairs = [(f"{t}/{i}", f"bbh_cot_fewshot_{t}", k) for t, indices in picks.items() for k, i in enumerate(indices)]
    n = _generative(ours, direct, pairs, ("get-answer",))
    for doc_id, _, _ in pairs:  # lm-eval's doc index = the index in the task file
        assert ours[doc_id].extra["lm_eval"]["doc_id"] == int(doc_id.split("/")[1]), doc_id
    keys = ("exact_match,get-answer", "exact_match_stderr,get-answer")
    assert _leaf_rows(results, leaves, keys) == _leaf_rows(direct, leaves, keys)
    _group_matches(results["results"]["bbh"], direct, leaves, "exact_match,get-answer")
    assert sorted(results["group_subtasks"]["bbh"]) == sorted(leaves)
    assert {t: results["versions"][t] for t in leaves} == direct["versions"]
    assert {t: results["n-shot"][t] for t in leaves} == direct["n-shot"] == {t: 3 for t in leaves}
    return n, ours


def test_bbh_stratified_limit_generation_and_get_answer_match_simple_evaluate(engine, tmp_path):
    """BBH through the entry point (``--limit 2``, stratified: 2 tasks, 1 item each at
    task-file indices > 0): same prompts (3-shot CoT), generations, get-answer answers and
    exact_match, per-task rows, the ``bbh`` group's mean, versions and n-shot. Seed 258
    picks date_understanding/39 + sports_understanding/238, whose batch stops early (the
    default seed's object_counting/29 + tracking_shuffled_objects_three_objects/1 generate
    to the stock max_gen_toks 1024: ~160 s a side on 2 CPU cores; the stock path has no cap)."""
    # max_gen_toks=8 would cut every generation short: lm-eval's computation does not apply it
    # (the generations below equal simple_evaluate's), and the results say it was not applied.
    results = runner.evaluate_model(MODEL, ["bbh"], DATA_DIR, tmp_path / "ours", limit=2, limit_mode="stratified",
                                    seed=258, style="lm-eval", engine=engine, max_gen_toks=8)["bbh"]
    assert results["config"]["max_gen_toks"] is None and results["config"]["max_gen_toks_ignored"] == 8
    doc_ids = results["subset"]["doc_ids"]
    assert results["subset"] == {"mode": "stratified", "limit": 2, "seed": 258, "doc_ids": doc_ids}
    picks: dict[str, list[int]] = {}
    for d in doc_ids:
        task, i = d.split("/")
        picks.setdefault(task, []).append(int(i))
    assert len(doc_ids) == len(picks) == 2
    n, ours = _bbh_parity(engine, tmp_path, results, tmp_path / "ours" / MODEL / "bbh", picks)
    print(f"\nparity bbh (runner, stratified): {n}/{len(doc_ids)} generations and get-answer identical; docs "
          f"{doc_ids}; answers {[ours[d].extra['filtered']['get-answer'] for d in doc_ids]}; bbh exact_match "
          f"{results['results']['bbh']['exact_match,get-answer']}")


def test_two_bbh_tasks_two_items_each_match_simple_evaluate(engine, tmp_path):
    """BBH, 2 tasks x 2 items (indices 0 and 3), so the per-task stderr and the group's
    size-weighted mean over unequal scores are checked too. Through ``evaluate_stock`` (the
    runner's stock path): ``--limit`` cannot pick 2 items of 2 tasks (first = round-robin
    over the 27 tasks, stratified = 1 per task below 27)."""
    bench = registry.get("bbh")
    picks = {"date_understanding": [0, 3], "sports_understanding": [0, 3]}
    doc_ids = [f"{t}/{i}" for t, indices in picks.items() for i in indices]
    docs = [d for d in bench.docs(DATA_DIR) if d["doc_id"] in doc_ids]
    assert [d["doc_id"] for d in docs] == doc_ids
    out = tmp_path / "ours" / MODEL / "bbh"
    results = evaluate_stock(tasks.SPECS["bbh"], bench, docs, DATA_DIR, out, lambda: engine.lm,
                             {"prompt_style": "lm-eval"}, {}, {}, "parity")
    n, ours = _bbh_parity(engine, tmp_path, results, out, picks)
    print(f"\nparity bbh (2 tasks x 2): {n}/{len(doc_ids)} generations and get-answer identical; answers "
          f"{[ours[d].extra['filtered']['get-answer'] for d in doc_ids]}; per task "
          f"{[results['results'][f'bbh_cot_fewshot_{t}']['exact_match,get-answer'] for t in picks]}; bbh "
          f"exact_match {results['results']['bbh']['exact_match,get-answer']}")


def test_math_generation_and_scores_match_simple_evaluate(engine, tmp_path):
    """MATH (``minerva_math_*``, 4-shot from the task's own samples, filter "none"): a
    stratified --limit 2 (two types); same prompts, generations, exact_match and
    math_verify per item, per-task and group aggregates, versions and n-shot. The stock task
    sets no max_gen_toks (HFLM's default 256 applies on both sides), and lm-eval stops a
    batch only when every row has hit the same stop string: a pair where one row ends on
    "Problem:" and the other on the EOS runs all 256 steps (~42 s a side on 2 CPU cores).
    Seed 140787 picks 4276 (Prealgebra) and 4585 (Precalculus), short solutions that both
    end in "Final Answer: ..." and "Problem:", so the answer extraction runs on real text
    and the batch stops early."""
    results = runner.evaluate_model(MODEL, ["math"], DATA_DIR, tmp_path / "ours", limit=2,
                                    limit_mode="stratified", seed=140787, style="lm-eval", engine=engine)["math"]
    doc_ids = results["subset"]["doc_ids"]
    assert results["subset"] == {"mode": "stratified", "limit": 2, "seed": 140787, "doc_ids": doc_ids}
    # (b) the MATH test file's records in the EleutherAI/hendrycks_math schema, one JSON per type
    raw = {str(r["idx"]): r for r in map(json.loads, (DATA_DIR / "math" / "test.jsonl").read_text().splitlines())}
    task_of = {"Algebra": "minerva_math_algebra", "Counting & Probability": "minerva_math_counting_and_prob",
               "Geometry": "minerva_math_geometry", "Intermediate Algebra": "minerva_math_intermediate_algebra",
               "Number Theory": "minerva_math_num_theory", "Prealgebra": "minerva_math_prealgebra",
               "Precalculus": "minerva_math_precalc"}
    splits: dict[str, dict[str, list]] = {}
    pairs = []
    for d in doc_ids:
        rows = splits.setdefault(task_of[raw[d]["type"]], {"test": []})["test"]
        pairs.append((d, task_of[raw[d]["type"]], len(rows)))
        rows.append({k: raw[d][k] for k in ("problem", "level", "type", "solution")})
    assert len(doc_ids) == 2 and len(splits) == 2  # two types (seeded stratified sample)
    direct = _direct(engine, tmp_path / "math", tasks.SPECS["math"], splits)
    ours = {s.doc_id: s for s in read_samples(tmp_path / "ours" / MODEL / "math" / "samples.jsonl")}
    n = _generative(ours, direct, pairs, ("none",))
    assert any("Final Answer" in ours[d].output for d in doc_ids)  # not only empty generations
    for d, task, _ in pairs:  # lm-eval's index of the doc within its type's test split
        assert ours[d].extra["lm_eval"]["doc_id"] == [k for k, r in raw.items() if r["type"] == raw[d]["type"]].index(d)
    leaves = sorted(splits)
    keys = ("exact_match,none", "exact_match_stderr,none", "math_verify,none", "math_verify_stderr,none")
    assert _leaf_rows(results, leaves, keys) == _leaf_rows(direct, leaves, keys)
    _group_matches(results["results"]["minerva_math"], direct, leaves, "exact_match,none")
    assert results["results"]["math"]["exact_match,none"] == results["results"]["minerva_math"]["exact_match,none"]
    assert {t: results["versions"][t] for t in leaves} == direct["versions"]
    assert {t: results["n-shot"][t] for t in leaves} == direct["n-shot"] == {t: 4 for t in leaves}
    print(f"\nparity math: {n}/{len(pairs)} generations and scores identical; docs {doc_ids} "
          f"({[ours[d].extra['lm_eval']['task'] for d in doc_ids]}); exact_match "
          f"{[ours[d].extra['metrics']['exact_match,none'] for d in doc_ids]} math_verify "
          f"{[ours[d].extra['metrics']['math_verify,none'] for d in doc_ids]}; minerva_math "
          f"{results['results']['minerva_math']['exact_match,none']}")
