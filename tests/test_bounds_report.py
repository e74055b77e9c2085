"""The bound-validation report end to end (``workbench bounds``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.cli import main


def test_bounds_report_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / "bounds"
    assert main(["bounds", "--out", str(out), "--pairs", "6", "--max-n", "16", "--restarts", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Bounds (violations of provable bounds must be 0" in printed
    assert "not an approximation of its value" in printed
    pairs = pd.read_csv(out / "pairs.csv")
    summary = pd.read_csv(out / "summary.csv")
    meta = json.loads((out / "summary.json").read_text())
    assert (out / "bounds.png").stat().st_size > 10_000
    assert len(pairs) == 4 * 6 and set(summary["family"]) == set(pairs["family"])
    # provable bounds: zero violations, and the exact value lies between them
    assert pairs["lower_held"].all() and pairs["upper_held"].all() and pairs["upper_held_at_T_star"].all()
    assert pairs["upper_cs_held"].all() and pairs["upper_cs_held_at_T_star"].all()
    assert (pairs["upper_cs"] <= pairs["upper"] * (1 + 1e-12)).all()
    assert (summary["upper_cs_violations"] == 0).all()
    # the certificate's lower bound is one of the reported bounds, and never above GW
    assert (pairs["gw_lower_certificate"] <= pairs["gw_exact"] * (1 + 1e-9) + 1e-300).all()
    assert set(pairs["gw_lower_certificate_by"]) <= {"degree", "tlb", "spectral", "brute-force"}
    assert (pairs["lower"] <= pairs["gw_exact"] * (1 + 1e-9) + 1e-300).all()
    # half the PSD pairs are n = m ≤ 8 and get a certified (brute-force) optimum with zero gap
    psd = pairs[pairs["family"] == "random-psd"]
    certified = psd[psd["gw_method"] == "brute-force"]
    assert len(certified) == 3 and (certified["gw_gap"].abs() < 1e-9).all()
    # row-normalised graphs: uniform degrees are all 1/n, so ĝ₂ depends on the sizes only
    row = pairs[pairs["family"] == "coact-row-normalized"]
    expected = (1 / row["n"] - 1 / row["m"]) ** 2
    assert row["sort_degree_o2"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-15)
    assert meta["summary"][0]["lower_violations"] == 0
    assert "no ½" in printed or "no 1/2" in meta["convention"]


def test_unknown_family_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["bounds", "--out", str(tmp_path), "--families", "nope"]) == 2
    assert "unknown graph family 'nope'" in capsys.readouterr().err
