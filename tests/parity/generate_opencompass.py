"""Score varied outputs ONCE with OpenCompass's own code (0.4.2; TheoremQA 0.5.4); write the parity fixtures.

Run in the reference venv (never the workbench venv)::

    python3 -m venv /work/oc-venv
    /work/oc-venv/bin/pip install --no-deps opencompass==0.4.2
    /work/oc-venv/bin/pip install "datasets<4" mmengine-lite==0.11.0rc3 "numpy<2" "pyarrow<20" \
        scipy sympy latex2sympy2_extended tqdm evaluate scikit-learn
    HF_HUB_OFFLINE=1 /work/oc-venv/bin/python tests/parity/generate_opencompass.py [DATA_DIR]
    /work/oc-venv/bin/pip install --no-deps --force-reinstall opencompass==0.5.4   # then again: TheoremQA

Items come straight from the official data files (read here, not through the workbench),
with golds prepared the way OpenCompass's dataset loaders and ``dataset_postprocessor``s do.
Each fixture row: doc_id, kind, output, expected (the reference's per-item score), ref_pred
(what the reference extracted). ``fixtures/provenance.json`` records versions and functions.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _outputs
from _oc_import import load_opencompass

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
DEFAULT_DATA = HERE.parents[2] / "shared" / "benchmarks"
PER_BENCHMARK = 330
SEED = 12
OC = load_opencompass()


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _pick(n_items: int, n_docs: int, rng: random.Random) -> list[int]:
    return sorted(rng.sample(range(n_items), min(n_docs, n_items)))


def _spread(items: list[tuple[str, list[tuple[str, str]], Any]], total: int) -> list[tuple[str, str, str, Any]]:
    """Take about ``total`` outputs, rotating through each item's kinds so every kind recurs."""
    per = -(-total // len(items))
    rows = []
    for i, (doc_id, outs, ref) in enumerate(items):
        for j in range(per):
            kind, output = outs[(i * per + j) % len(outs)]
            rows.append((doc_id, kind, output, ref))
    return rows[:total]


# ---------------------------------------------------------------- reference scorers
def _math_v2(output: str, ref: str) -> tuple[str, float]:
    pred = OC["math"].math_postprocess_v2(output)
    res = OC["math"].MATHEvaluator(version="v2").score([pred], [ref])
    return pred, float(res["details"][0]["correct"])


def _option(output: str, ref: str) -> tuple[str, float]:
    pred = OC["text_postprocessors"].first_option_postprocess(output, options="ABCD")
    res = OC["hf_eval"].AccEvaluator().score([pred], [ref])
    return pred, float(res["accuracy"] == 100.0)


def _mmlu(output: str, ref: str) -> tuple[str, float]:
    pred = OC["text_postprocessors"].first_option_postprocess(output, options="ABCD")
    res = OC["hf_eval"].AccwithDetailsEvaluator().score([pred], [ref], [""])
    return pred, float(res["details"]["0"]["is_correct"])


def _theoremqa(output: str, ref: tuple[str, str]) -> tuple[str, float]:
    pred = OC["theoremqa"].TheoremQA_postprocess_v3(output)
    res = OC["theoremqa"].TheoremQAEvaluatorV3().score([pred], [ref[0]], [{"Answer_type": ref[1]}])
    return pred, float(res["details"][0]["is_correct"])


def _bbh(output: str, ref: tuple[str, str]) -> tuple[str, float]:
    task, target = ref
    bbh = OC["bbh"]
    if task in MCQ:
        pred = bbh.bbh_mcq_postprocess(output)
        res = bbh.BBHEvaluator_mcq().score([pred], [bbh.bbh_mcq_postprocess(target)])
    else:
        pred = bbh.bbh_freeform_postprocess(output)
        res = bbh.BBHEvaluator().score([output], [target])
    return pred, float(res["details"][0]["correct"])


def _drop(output: str, ref: str) -> tuple[str, float]:
    import re

    match = re.search(OC["drop"].ANSWER_PATTERN, output)
    res = OC["drop"].DropOpenAIEvaluator().score([output], [ref])
    return (match.group(1) if match else output), float(res["details"][0]["correct"])


# bbh_gen_5b92b0's multiple-choice list (read from the config file in the mirror; copied here).
MCQ = {"temporal_sequences", "disambiguation_qa", "date_understanding", "tracking_shuffled_objects_three_objects",
       "penguins_in_a_table", "geometric_shapes", "snarks", "ruin_names", "tracking_shuffled_objects_seven_objects",
       "tracking_shuffled_objects_five_objects", "logical_deduction_three_objects", "hyperbaton",
       "logical_deduction_five_objects", "logical_deduction_seven_objects", "movie_recommendation",
       "salient_translation_error_detection", "reasoning_about_colored_objects"}


# ---------------------------------------------------------------- items per benchmark
def gsm8k_items(data: Path, rng: random.Random) -> list:
    recs = list(_jsonl(data / "gsm8k" / "test.jsonl"))
    items = []
    for i in _pick(len(recs), 24, rng):
        ref = OC["gsm8k"].gsm8k_dataset_postprocess(recs[i]["answer"])
        wrong = str(int(float(ref)) + rng.choice([-3, -1, 1, 2, 10]))
        outs = _outputs.number_outputs(ref, wrong, rng)
        outs += [("thousands", f"\\boxed{{{int(float(ref)):,}}}"), ("decimal", f"\\boxed{{{ref}.00}}"),
                 ("dollar-answer", f"The answer is ${ref}.")]
        items.append((str(i), outs, ref))
    return items


def math_items(data: Path, rng: random.Random) -> list:
    recs = list(_jsonl(data / "math" / "test.jsonl"))
    idx = _pick(len(recs), 24, rng)
    golds = {i: OC["math"].extract_boxed_answer(recs[i]["solution"]) for i in idx}
    items = []
    for i in idx:
        ref = golds[i]
        wrong = golds[rng.choice([j for j in idx if golds[j] != ref])]
        outs = _outputs.number_outputs(ref, wrong, rng)
        alt = ref.replace("\\frac", "\\dfrac") if "\\frac" in ref else ref + ".0"
        outs += [("alt-form", f"\\boxed{{{alt}}}"), ("spaced", f"\\boxed{{{' '.join(ref)}}}")]
        items.append((str(recs[i].get("idx", i)), outs, ref))
    return items


def _tqa_wrong(answer: Any, kind: str, rng: random.Random) -> str:
    if kind == "bool":
        return str(not answer)
    if kind == "option":
        return rng.choice([o for o in ("(a)", "(b)", "(c)", "(d)") if o != str(answer).lower()])
    if kind.startswith("list"):
        return str([x * 2 + 1 for x in answer])
    return str(round(float(answer) * 1.5 + 1, 3))


def theoremqa_items(data: Path, rng: random.Random) -> list:
    recs = json.loads((data / "theoremqa" / "theoremqa_test.json").read_text(encoding="utf-8"))
    by_type: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        by_type.setdefault(r["Answer_type"], []).append(i)
    items = []
    for kind, idx in sorted(by_type.items()):
        for i in sorted(rng.sample(idx, min(len(idx), 5))):
            r = recs[i]
            gold = str(r["Answer"])
            outs = _outputs.theoremqa_outputs(gold, _tqa_wrong(r["Answer"], kind, rng), rng)
            if kind in ("float", "integer"):
                v = float(r["Answer"])
                outs += [("near", f"The answer is {v * 1.02:.6g}"), ("far", f"The answer is {v * 1.1 + 0.5:.6g}"),
                         ("sci", f"The answer is {v:.3e}"), ("rounded-int", f"The answer is {round(v)}")]
            if kind.startswith("list"):
                inner = ", ".join(str(x) for x in r["Answer"])
                outs += [("list-paren", f"The answer is ({inner})"), ("list-bare", f"The answer is {inner}"),
                         ("list-nospace", f"The answer is [{inner.replace(' ', '')}]")]
            if kind == "bool":
                outs += [("yes-no", "The answer is " + ("Yes" if r["Answer"] else "No")),
                         ("lower-bool", f"the answer is {gold.lower()}")]
            if kind == "option":
                outs += [("upper-option", f"The answer is {gold.upper()}"),
                         ("letter-only", f"The answer is {gold.strip('()')}")]
            items.append((str(r.get("id", i)), outs, (gold, kind)))
    return items


def bbh_items(data: Path, rng: random.Random) -> list:
    items = []
    for path in sorted((data / "bbh").glob("*.json")):
        task = path.stem
        examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
        targets = sorted({e["target"] for e in examples})
        for i in sorted(rng.sample(range(len(examples)), 2)):
            target = examples[i]["target"]
            others = [t for t in targets if t != target] or ["none"]
            outs = _outputs.bbh_outputs(target, rng.choice(others), rng)
            if task in MCQ:
                letter = target.strip("()")
                outs += [("letter-only", f"So the answer is {letter}."),
                         ("option-text", f"So the answer is {target} yes.")]
            items.append((f"{task}/{i}", outs, (task, target)))
    return items


def arc_items(data: Path, rng: random.Random) -> list:
    recs = [r for r in _jsonl(data / "arc_challenge" / "ARC-Challenge-Test.jsonl")
            if len(r["question"]["choices"]) == 4]
    items = []
    for i in _pick(len(recs), 24, rng):
        r = recs[i]
        labels = [c["label"] for c in r["question"]["choices"]]
        k = labels.index(r["answerKey"])
        gold = "ABCD"[k]
        wrong = rng.choice([c for c in "ABCD" if c != gold])
        items.append((r["id"], _outputs.choice_outputs(gold, wrong, r["question"]["choices"][k]["text"], rng), gold))
    return items


def mmlu_items(data: Path, rng: random.Random) -> list:
    import pyarrow.parquet as pq

    rows = pq.read_table(data / "mmlu" / "test-00000-of-00001.parquet",
                         columns=["question", "subject", "choices", "answer"]).to_pylist()
    counters: dict[str, int] = {}
    ids = []
    for row in rows:
        ids.append(f"{row['subject']}/{counters.get(row['subject'], 0)}")
        counters[row["subject"]] = counters.get(row["subject"], 0) + 1
    items = []
    for i in _pick(len(rows), 24, rng):
        gold = "ABCD"[rows[i]["answer"]]
        wrong = rng.choice([c for c in "ABCD" if c != gold])
        items.append((ids[i], _outputs.choice_outputs(gold, wrong, rows[i]["choices"][rows[i]["answer"]], rng), gold))
    return items


def hellaswag_items(data: Path, rng: random.Random) -> list:
    with bz2.open(data / "hellaswag" / "hellaswag_val_full.txt.bz2", "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    n = len([ln for ln in lines]) // 6
    items = []
    for i in _pick(n, 24, rng):
        _, label, *endings = lines[6 * i: 6 * i + 6]
        gold = "ABCD"[int(label)]
        wrong = rng.choice([c for c in "ABCD" if c != gold])
        items.append((str(i), _outputs.choice_outputs(gold, wrong, endings[int(label)], rng), gold))
    return items


def drop_items(data: Path, rng: random.Random) -> list:
    recs = list(_jsonl(data / "drop" / "drop_v0_dev.jsonl.gz"))
    items = []
    for i in _pick(len(recs), 24, rng):
        golds = [g for g in recs[i]["ref_text"].split("|") if g.strip()] or [""]
        wrong = rng.choice(["zebra crossing", "purple elephants", "1999", "seven"])
        items.append((str(i), _outputs.drop_outputs(golds, wrong, rng), recs[i]["ref_text"]))
    return items


BENCHMARKS: dict[str, tuple[Callable, Callable, str, str]] = {
    "gsm8k": (gsm8k_items, _math_v2, "gsm8k_0shot_v2_gen_a58960",
              "datasets/math.py math_postprocess_v2 + MATHEvaluator(version='v2'); "
              "gold datasets/gsm8k.py gsm8k_dataset_postprocess"),
    "math": (math_items, _math_v2, "math_0shot_gen_393424",
             "datasets/math.py math_postprocess_v2 + MATHEvaluator(version='v2'); "
             "gold extract_boxed_answer(solution) as MATHDataset"),
    "theoremqa": (theoremqa_items, _theoremqa, "TheoremQA_gen (= TheoremQA_5shot_gen_6f0af8)",
                  "datasets/TheoremQA/main.py TheoremQA_postprocess_v3 + TheoremQAEvaluatorV3"),
    "bbh": (bbh_items, _bbh, "bbh_gen_5b92b0",
            "datasets/bbh.py bbh_mcq_postprocess + BBHEvaluator_mcq (17 option tasks); "
            "BBHEvaluator (10 free-form tasks)"),
    "arc": (arc_items, _option, "ARC_c_gen_1e0de5",
            "utils/text_postprocessors.py first_option_postprocess(options='ABCD') + icl_hf_evaluator.AccEvaluator"),
    "mmlu": (mmlu_items, _mmlu, "mmlu_gen_4d595a",
             "utils/text_postprocessors.py first_option_postprocess(options='ABCD') + AccwithDetailsEvaluator"),
    "hellaswag": (hellaswag_items, _option, "hellaswag_gen_6faab5",
                  "utils/text_postprocessors.py first_option_postprocess(options='ABCD') + AccEvaluator"),
    "drop": (drop_items, _drop, "drop_openai_simple_evals_gen_3857b0",
             "datasets/drop_simple_eval.py DropOpenAIEvaluator (ANSWER_PATTERN, fuzzy_match); metric 'accuracy'"),
}


# Which OpenCompass release is the reference for which benchmark (see REFERENCE_NOTES).
RELEASE = ({name: "0.4.2" for name in ("gsm8k", "math", "bbh", "arc", "mmlu", "hellaswag", "drop")}
           | {"theoremqa": "0.5.4"})
RELEASE_COMMIT = {"0.4.2": "dc8deb6af0d452c3134ce72693b460c1e1774ed6 (git tag 0.4.2)",
                  "0.5.4": "PyPI 0.5.4; its scoring files equal mirror HEAD a5acc4bba3b658f151617a3b393602110fb7a740"}
REFERENCE_NOTES = ("0.4.2 (April 2025) is the release of the paper's time. TheoremQA uses 0.5.4: its only change "
                   "there turns latex2sympy2_extended's tuple parse of a list answer back into a list; with the "
                   "parser installed today 0.4.2 scores no list answer correct.")


def main(data: Path, names: list[str]) -> None:
    """Write ``fixtures/<benchmark>_paper.jsonl`` for ``names`` and update ``fixtures/provenance.json``.

    Each benchmark is generated by the OpenCompass release :data:`RELEASE` names; the
    installed one must match (reinstall the wheel to switch).
    """
    FIXTURES.mkdir(parents=True, exist_ok=True)
    prov_path = FIXTURES / "provenance.json"
    provenance: dict[str, Any] = json.loads(prov_path.read_text(encoding="utf-8")) if prov_path.exists() else {}
    provenance.update({
        "reference": "OpenCompass's own code (PyPI wheel opencompass-<release>-py3-none-any.whl, installed --no-deps "
                     "in a separate venv), imported by tests/parity/_oc_import.py; release per benchmark below",
        "notes": REFERENCE_NOTES, "generator": "tests/parity/generate_opencompass.py", "seed": SEED,
    })
    provenance.setdefault("benchmarks", {})
    for name in names:
        items_of, score, config, functions = BENCHMARKS[name]
        if OC["__version__"] != RELEASE[name]:
            raise SystemExit(f"{name}: needs opencompass=={RELEASE[name]}, installed {OC['__version__']}")
        rng = random.Random(f"{SEED}-{name}")
        rows = []
        for doc_id, kind, output, ref in _spread(items_of(data, rng), PER_BENCHMARK):
            ref_pred, expected = score(output, ref)
            rows.append({"doc_id": doc_id, "kind": kind, "output": output, "expected": expected, "ref_pred": ref_pred})
        path = FIXTURES / f"{name}_paper.jsonl"
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        path.write_text(text, encoding="utf-8")
        provenance["benchmarks"][name] = {
            "file": path.name, "rows": len(rows), "positives": sum(r["expected"] for r in rows),
            "sha256": hashlib.sha256(text.encode()).hexdigest(), "config": config, "functions": functions,
            "opencompass": f"{RELEASE[name]} ({RELEASE_COMMIT[RELEASE[name]]})",
        }
        print(name, len(rows), "expected=1:", int(sum(r["expected"] for r in rows)))
    prov_path.write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    # usage: generate_opencompass.py [DATA_DIR] [benchmark ...] (default: those of the installed release)
    args = sys.argv[1:]
    data_dir = Path(args.pop(0)) if args and args[0] not in BENCHMARKS else DEFAULT_DATA
    main(data_dir, args or [n for n in BENCHMARKS if RELEASE[n] == OC["__version__"]])
