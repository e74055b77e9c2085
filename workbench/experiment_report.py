"""The experiment's report: Figure 5 and Table 3 in miniature, attribution, a conclusion.

* **Trajectory** (Figure 5 analogue): per arm, source and step, the mean of WD, certified
  exact GW and ĝ₂ over the held-out examples with a 95 % percentile-bootstrap band
  (resampling examples) -> ``tables/trajectory.csv``, ``figures/trajectory.png``;
* **Deltas** (Table 3 analogue): every arm's final checkpoint vs the ``SFT`` arm's (same
  seed), per benchmark, BBH task and MMLU subject, with the paired bootstrap CI and
  McNemar's p (:func:`evaluations.compare.compare_dirs`) -> ``tables/deltas.csv``;
* **Attribution**: every arm's final checkpoint vs the pivot and the sources
  (:func:`evaluations.attribution.attribute_dirs`) -> ``tables/attribution.csv``;
* **Conclusion**: the paper's two claims tested on pooled items / examples —
  GLD beats WD-only on the benchmarks, and GLD lowers the GW distance more than WD-only —
  each *reproduced* (CI above 0 and p < 0.05), *contradicted* (CI below 0 and p < 0.05)
  or *inconclusive*, with the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.diagnostics_report import markdown_table
from workbench.experiment import arm_label, baseline_models
from workbench.experiment_config import BASELINE_ARM, ExperimentConfig

METRICS = {"wd": "WD (sorted-probability Wasserstein)", "gw_exact": "exact GW (certified)",
           "sort_degree_o2": "ĝ₂ (GLD's sorting bound)"}
ALPHA = 0.05


def bootstrap_mean_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95 % percentile-bootstrap interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (np.nan, np.nan, np.nan)
    means = x[np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(x.mean()), float(low), float(high)


def trajectory_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Per arm, seed, source and step: mean and band of each metric over held-out examples."""
    rows = []
    for seed in cfg.seeds:
        for arm in cfg.arms:
            path = cfg.out / "diagnostics" / arm_label(arm, seed) / "examples.parquet"
            if not path.is_file():
                continue
            df = pd.read_parquet(path)
            for (source, step), g in df.groupby(["source", "step"]):
                row: dict[str, Any] = {"arm": arm, "seed": seed, "source": source, "step": int(step),
                                       "examples": len(g)}
                for metric in METRICS:
                    if metric in g:
                        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = bootstrap_mean_ci(
                            g[metric].to_numpy())
                rows.append(row)
    return pd.DataFrame(rows)


def trajectory_figure(table: pd.DataFrame, path: Path) -> Path | None:
    """WD and GW over steps, one line per arm with its bootstrap band (one panel per metric)."""
    if table.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in ("wd", "gw_exact") if m in table]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for (arm, seed, source), g in table.groupby(["arm", "seed", "source"]):
            g = g.sort_values("step")
            line, = ax.plot(g["step"], g[metric], marker="o", label=f"{arm} (seed {seed}, {source})")
            ax.fill_between(g["step"], g[f"{metric}_low"], g[f"{metric}_high"], alpha=0.2, color=line.get_color())
        ax.set_xlabel("training step")
        ax.set_ylabel(METRICS[metric])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Distance to the source on held-out examples (mean, 95% bootstrap band)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def evaluated_checkpoints(cfg: ExperimentConfig) -> list[tuple[str, int, int, str]]:
    """``(arm, seed, step, eval label)`` of every evaluated arm checkpoint, read from the
    ``evals`` folder (the outputs are the truth: a folder brought back from another machine
    has evaluations but no checkpoints), in arm, seed, step order."""
    runs = {arm_label(arm, seed): (arm, seed) for seed in cfg.seeds for arm in cfg.arms}
    evals = cfg.out / "evals"
    found = []
    for folder in evals.iterdir() if evals.is_dir() else []:
        run, sep, step = folder.name.partition("@step-")
        if folder.is_dir() and sep and step.isdigit() and run in runs:
            found.append((*runs[run], int(step), folder.name))
    order = {label: i for i, label in enumerate(runs)}
    return sorted(found, key=lambda r: (order[arm_label(r[0], r[1])], r[2]))


def final_labels(cfg: ExperimentConfig) -> dict[tuple[str, int], str]:
    """``(arm, seed) -> eval label`` of each arm's last evaluated checkpoint."""
    return {(arm, seed): label for arm, seed, _step, label in evaluated_checkpoints(cfg)}


def _evaluated(cfg: ExperimentConfig, *labels: str) -> list[str]:
    """The configured benchmarks that every one of ``labels`` has samples for."""
    from evaluations.compare import benchmarks_in

    found = [set(benchmarks_in(cfg.out / "evals" / label)) for label in labels]
    return [b for b in cfg.benchmarks if all(b in f for f in found)]


def deltas_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Every arm's final checkpoint vs the SFT arm's, per benchmark and subtask."""
    from evaluations.compare import compare_dirs

    finals, rows = final_labels(cfg), []
    for (arm, seed), label in finals.items():
        base = finals.get((BASELINE_ARM, seed))
        if arm == BASELINE_ARM or base is None:
            continue
        shared = _evaluated(cfg, base, label)
        if not shared:
            continue
        comparisons, _ = compare_dirs(cfg.out / "evals" / base, cfg.out / "evals" / label, subtasks=True,
                                      benchmarks=shared)
        rows += [{"arm": arm, "seed": seed, "vs": BASELINE_ARM, **c.as_dict()} for c in comparisons]
    return pd.DataFrame(rows)


def attribution_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Every arm's final checkpoint attributed to the pivot and the sources."""
    from evaluations.attribution import attribute_dirs

    evals = cfg.out / "evals"
    sources = {p.name.removeprefix("source-"): p for p in sorted(evals.glob("source-*")) if p.is_dir()}
    if not (evals / "pivot").is_dir() or not sources:
        return pd.DataFrame()
    rows = []
    for (arm, seed), label in final_labels(cfg).items():
        shared = _evaluated(cfg, label, "pivot", *(f"source-{n}" for n in sources))
        if not shared:
            continue
        found, _ = attribute_dirs(evals / label, evals / "pivot", sources, benchmarks=shared, subtasks=True,
                                  n_boot=2000)
        for r in found:
            d = r.as_dict()
            accs = d.pop("acc_sources")
            rows.append({"arm": arm, "seed": seed, **d, **{f"acc_{n}": v for n, v in accs.items()}})
    return pd.DataFrame(rows)


def scores_table(cfg: ExperimentConfig) -> pd.DataFrame:
    """Accuracy (%) of every evaluated model on every benchmark (rows: models)."""
    from evaluations.compare import benchmarks_in, load_scores

    rows = []
    for label in [*baseline_models(cfg), *(c[3] for c in evaluated_checkpoints(cfg))]:
        folder = cfg.out / "evals" / label
        if not folder.is_dir():
            continue
        row: dict[str, Any] = {"model": label}
        for bench, path in benchmarks_in(folder).items():
            if bench not in cfg.benchmarks:  # left over from an earlier eval setting: not this report's
                continue
            scores = load_scores(path)
            row[bench] = 100 * float(np.mean(list(scores.values()))) if scores else np.nan
            row[f"{bench} n"] = len(scores)
        rows.append(row)
    return pd.DataFrame(rows)


def _pooled(cfg: ExperimentConfig, a: str, b: str) -> dict[str, Any] | None:
    """B vs A over all benchmarks' items pooled (keys ``benchmark/doc_id``)."""
    from evaluations.compare import benchmarks_in, compare_scores, load_scores

    da, db = benchmarks_in(cfg.out / "evals" / a), benchmarks_in(cfg.out / "evals" / b)
    sa, sb = {}, {}
    for bench in _evaluated(cfg, a, b):
        sa.update({f"{bench}/{k}": v for k, v in load_scores(da[bench]).items()})
        sb.update({f"{bench}/{k}": v for k, v in load_scores(db[bench]).items()})
    if not sa:
        return None
    return compare_scores("pooled", sa, sb, n_boot=10_000).as_dict()


def _verdict(low: float, high: float, p: float, lower_is_better: bool = False) -> str:
    if lower_is_better:
        low, high = -high, -low
    if p < ALPHA and low > 0:
        return "reproduced"
    if p < ALPHA and high < 0:
        return "contradicted"
    return "inconclusive"


def conclusion(cfg: ExperimentConfig, trajectory: pd.DataFrame) -> list[str]:
    """The paper's two claims, tested: lines of markdown with the numbers."""
    from scipy.stats import wilcoxon

    gld = [a for a, t in cfg.arms.items() if t.get("beta", 0) > 0]
    wd = [a for a, t in cfg.arms.items() if t.get("beta", 0) == 0 and t.get("alpha", 0) > 0]
    lines = []
    finals = final_labels(cfg)
    for seed in cfg.seeds:
        for g in gld:
            for other in [*wd, BASELINE_ARM]:
                if (g, seed) not in finals or (other, seed) not in finals:
                    continue
                r = _pooled(cfg, finals[(other, seed)], finals[(g, seed)])
                if r is None:
                    continue
                verdict = _verdict(r["ci_low"], r["ci_high"], r["p_value"])
                pooled = _evaluated(cfg, finals[(other, seed)], finals[(g, seed)])
                lines.append(f"- **{g} vs {other}** (seed {seed}, {r['n']} items pooled over "
                             f"{', '.join(pooled)}): {100 * r['mean_b']:.2f}% vs {100 * r['mean_a']:.2f}%, "
                             f"Δ = {100 * r['diff']:+.2f} points, 95% CI [{100 * r['ci_low']:+.2f}, "
                             f"{100 * r['ci_high']:+.2f}], McNemar p = {r['p_value']:.3g} "
                             f"({r['only_b_correct']} items only {g} solves, {r['only_a_correct']} only {other}) "
                             f"→ GLD helps on the benchmarks: **{verdict}**.")
            for other in wd:
                a = cfg.out / "diagnostics" / arm_label(other, seed) / "examples.parquet"
                b = cfg.out / "diagnostics" / arm_label(g, seed) / "examples.parquet"
                if not (a.is_file() and b.is_file()):
                    continue
                da, db = pd.read_parquet(a), pd.read_parquet(b)
                last = min(da["step"].max(), db["step"].max())
                key = ["source", "example_id"]
                m = da[da["step"] == last][key + ["gw_exact"]].merge(db[db["step"] == last][key + ["gw_exact"]],
                                                                      on=key, suffixes=("_a", "_b"))
                diff = (m["gw_exact_b"] - m["gw_exact_a"]).to_numpy()
                if len(diff) < 2 or not np.any(diff):
                    continue
                mean, low, high = bootstrap_mean_ci(diff)
                p = float(wilcoxon(diff).pvalue)
                verdict = _verdict(low, high, p, lower_is_better=True)
                lines.append(f"- **GW at step {last}, {g} vs {other}** (seed {seed}, {len(diff)} held-out examples): "
                             f"mean difference {mean:+.4g} (95% CI [{low:+.4g}, {high:+.4g}]), Wilcoxon p = {p:.3g} "
                             f"→ GLD lowers GW more than WD-only: **{verdict}**.")
    return lines or ["- Not enough finished arms to test the claims yet."]


def missing_outputs(cfg: ExperimentConfig) -> list[str]:
    """What the configured experiment still lacks: evaluations not finished (no
    ``results.json``: some items unscored) and arms without diagnostics; lines of markdown."""
    finals = final_labels(cfg)
    models = [*baseline_models(cfg), *(finals.get((arm, seed), f"{arm_label(arm, seed)} (not evaluated)")
                                       for seed in cfg.seeds for arm in cfg.arms)]
    from evaluations.compare import benchmarks_in, load_scores

    lines = []
    for label in models:
        folder = cfg.out / "evals" / label
        unfinished = [b for b in cfg.benchmarks if not (folder / b / "results.json").is_file()]
        if unfinished:
            samples = benchmarks_in(folder) if folder.is_dir() else {}
            counts = [f"{b} {len(load_scores(samples[b])) if b in samples else 0}" for b in unfinished]
            lines.append(f"- evaluation of `{label}` unfinished (items scored so far): {', '.join(counts)}")
    for seed in cfg.seeds:
        for arm in cfg.arms:
            if not (cfg.out / "diagnostics" / arm_label(arm, seed) / "examples.parquet").is_file():
                lines.append(f"- diagnostics of {arm} (seed {seed}) not finished")
    return lines


def write_report(cfg: ExperimentConfig, timings: dict[str, float]) -> Path:
    """Write ``report.md``, the tables and the figure; returns the report's path."""
    tables = cfg.out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    trajectory = trajectory_table(cfg)
    deltas, attribution, scores = deltas_table(cfg), attribution_table(cfg), scores_table(cfg)
    for name, df in (("trajectory", trajectory), ("deltas", deltas), ("attribution", attribution),
                     ("scores", scores)):
        df.to_csv(tables / f"{name}.csv", index=False)
    figure = trajectory_figure(trajectory, cfg.out / "figures" / "trajectory.png")
    data_report = json.loads((cfg.out / "data" / "report.json").read_text(encoding="utf-8"))
    traj_cols = [c for c in ("arm", "seed", "source", "step", "examples", "wd", "wd_low", "wd_high", "gw_exact",
                             "gw_exact_low", "gw_exact_high", "sort_degree_o2") if c in trajectory]
    delta_cols = ["arm", "seed", "benchmark", "n", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value"]
    attr_cols = ["arm", "seed", "benchmark", "n", "acc_pivot", "acc_fused", "transferred", "source_only",
                 "transfer_rate", "forgotten", "pivot_solved", "forgetting_rate", "net_gain", "ci_low", "ci_high",
                 "p_value"]
    arms = ", ".join(f"{a} (λ={t.get('lambda', 0)}, α={t.get('alpha', 0)}, β={t.get('beta', 0)})"
                     for a, t in cfg.arms.items())
    lines = [
        f"# Experiment: {cfg.source}", "",
        f"Fusion config `{cfg.fusion_config}`; arms {arms}; seeds {cfg.seeds}; training overrides {cfg.training}.",
        f"Training data: {data_report['train']} examples from the train splits {data_report['kept']} "
        f"({data_report['heldout']} more held out for the diagnostics); dropped because they are evaluated items: "
        f"{ {k: len(v) for k, v in data_report['dropped'].items()} } (checked against every item of "
        f"{len(data_report['checked_against'])} benchmarks).",
        f"Wall time per stage (s): {', '.join(f'{k} {v:.0f}' for k, v in timings.items()) or 'n/a'}.", "",
        "## Conclusion", "", *conclusion(cfg, trajectory), "",
        *(["## Not finished", "", "Paired comparisons use the items both sides scored.", "",
           *missing, ""] if (missing := missing_outputs(cfg)) else []),
        "## Scores (%)", "", markdown_table(scores, max_rows=80), "",
        "## Trajectory (Figure 5 analogue)", "",
        "![trajectory](figures/trajectory.png)" if figure else "(no diagnostics yet)", "",
        markdown_table(trajectory[traj_cols], max_rows=80) if not trajectory.empty else "(none)", "",
        f"## Per-benchmark and per-subtask deltas vs {BASELINE_ARM} (Table 3 analogue)", "",
        "Accuracies as fractions; diff = arm − SFT with its paired-bootstrap 95% CI; McNemar's exact p.", "",
        markdown_table(deltas[delta_cols], max_rows=80) if not deltas.empty else "(none)", "",
        "## Fusion attribution (vs the pivot and the sources)", "",
        markdown_table(attribution[attr_cols], max_rows=80) if not attribution.empty else "(none)", "",
    ]
    path = cfg.out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
