"""Every bad input through the real CLI: exit code 2, one error line, and the
line names the file (and line) and what is wrong. Cases: tests/_bad_inputs.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from _bad_inputs import CASES, build_base, error_lines, run_cli


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """One real tiny training run (checkpoints at steps 2 and 4, a teacher cache)."""
    return build_base(tmp_path_factory.mktemp("base"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_naming_the_file(case, base: Path, tmp_path: Path) -> None:
    argv = case.make(tmp_path, base)
    kw = case.subprocess_kw(tmp_path) if case.subprocess_kw else None
    code, stderr = run_cli(argv, kw, cwd=tmp_path if kw is not None else None)
    lines = error_lines(stderr)
    assert code == 2, stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    for name in case.names(tmp_path):
        assert name in lines[0], (name, lines[0])


def test_k_above_vocabulary_leaves_nothing_that_blocks_the_corrected_rerun(tmp_path: Path) -> None:
    from _bad_inputs import tiny_config

    bad = tiny_config(tmp_path, None, cache={"k": 300000})
    code, err = run_cli(["cache-teachers", "--config", str(bad)])
    assert code == 2 and "cache.k: 300000" in err
    assert not (tmp_path / "cache" / "gemma" / "meta.json").exists()
    code, err = run_cli(["cache-teachers", "--config", str(tiny_config(tmp_path, None, cache={"k": 10}))])
    assert code == 0, err[-2000:]
