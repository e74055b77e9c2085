"""The sandbox's own preconditions: missing pieces are clear errors, never a fallback;
and a real ``workbench eval`` leaves nothing of a hostile prediction behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _sandbox_common import DATA, DATA_DIR, IMPORTS, MARKER, Listeners, attacks, hostile, marked_processes

from evaluations.engines.evalplus_engine import check_solutions, sandbox_description
from evaluations.sandbox import bwrap, seccomp
from evaluations.sandbox.errors import SandboxUnavailable

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not DATA.is_file(), reason=f"benchmark data not at {DATA}")


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(bwrap, "SYSTEM_DIRS", ())
    bwrap.bwrap_version.cache_clear()
    yield
    bwrap.bwrap_version.cache_clear()


def test_missing_bwrap_stops_code_scoring_with_a_clear_error(no_bwrap):
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(bwrap\) not found.*make sandbox"):
        check_solutions("humaneval", DATA, [("HumanEval/0", "def has_close_elements(a, b): pass")],
                        progress=False)


def test_missing_bwrap_is_one_line_from_the_cli(no_bwrap, tmp_path, capsys):
    from workbench.cli import main

    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(json.dumps({"benchmark": "humaneval", "doc_id": "HumanEval/0",
                                       "output": "def has_close_elements(a, b): pass"}) + "\n")
    code = main(["eval", "--predictions", str(predictions), "--data-dir", str(DATA_DIR),
                 "--out", str(tmp_path / "evals"), "--no-index"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "bubblewrap (bwrap) not found" in err[0], err
    assert not list((tmp_path / "evals").rglob("results.json"))  # nothing scored


def test_missing_libseccomp_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(seccomp.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(seccomp.ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("gone")))
    seccomp.filter_program.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="libseccomp not found.*apt-get install -y libseccomp2"):
            seccomp.filter_program()
    finally:
        seccomp.filter_program.cache_clear()


def test_description_names_the_isolation():
    text = sandbox_description()
    assert text.startswith("bubblewrap ") and "seccomp" in text and "pid+net" in text


def test_workbench_eval_leaves_no_process_and_little_output(tmp_path):
    """The issue's scenario end to end: a prediction that starts a setsid daemon through
    ``_posixsubprocess.fork_exec``, floods stdout/stderr and forges records; after
    ``workbench eval`` exits, no process of it is alive and its output stayed small."""
    bait = {"listeners": Listeners(tmp_path, "e2e"), "secret": tmp_path / "s", "shm_bait": tmp_path / "b"}
    try:
        every = attacks(bait)
    finally:
        bait["listeners"].close()
    labels = ["_posixsubprocess.fork_exec setsid daemon", "setsid double-fork daemon (posix.fork)",
              "flood stdout and stderr", "forge records on every fd"]
    predictions = tmp_path / "preds.jsonl"
    lines = [{"benchmark": "humaneval", "doc_id": f"HumanEval/{i}",
              "output": "```python\n" + hostile(every[label], IMPORTS).replace(
                  "has_close_elements", ["has_close_elements", "separate_paren_groups",
                                         "truncate_number", "below_zero"][i]) + "```"}
             for i, label in enumerate(labels)]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "eval", "--predictions", str(predictions),
         "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "evals"), "--no-index"],
        cwd=REPO, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout) + len(result.stderr) < 20_000
    results = json.loads(next((tmp_path / "evals").rglob("results.json")).read_text())
    assert MARKER not in result.stdout.decode() + result.stderr.decode()
    assert "pass@1_plus" in json.dumps(results)
    samples = [json.loads(line) for line in next((tmp_path / "evals").rglob("samples.jsonl")).open()]
    assert [s["score"] for s in samples] == [0.0] * len(labels)
    assert marked_processes() == []


PROBE = '''
def probe(x):
    import os  # (EvalPlus's guard has taken the resource module away: read /proc)
    status = dict(line.split(":", 1) for line in io.open("/proc/self/status").read().splitlines())
    limits = {line[:26].strip(): line[26:47].strip() for line in io.open("/proc/self/limits")}
    mounts = sorted({line.split()[4] for line in io.open("/proc/self/mountinfo")})
    interfaces = sorted(line.split(":")[0].strip() for line in io.open("/proc/net/dev").readlines()[2:])
    return {"uid": os.getuid(), "pid": os.getpid(), "fds": sorted(os.listdir("/proc/self/fd")),
            "caps": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
            "no_new_privs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
            "env": sorted(os.environ), "limits": limits, "mounts": mounts, "interfaces": interfaces,
            "pids": sorted(p for p in os.listdir("/proc") if p.isdigit())}
'''


def test_sandboxed_process_gets_exactly_the_intended_environment():
    """What the candidate sees, asserted field by field (each would differ without the
    corresponding layer)."""
    from evaluations.sandbox.limits import SandboxLimits
    from evaluations.sandbox.runner import DONE, CheckJob, run_check

    limits = SandboxLimits(memory_bytes=1024**3)
    seen: list = []
    # io.open in the probe: EvalPlus's guard has set builtins.open to None.
    run = run_check(CheckJob("import io\n" + PROBE, "probe", [[1]], [5.0]), limits,
                    lambda i, value, type_name: seen.append(value) or True)
    assert run.ended == DONE, run
    facts = seen[0]
    assert facts["uid"] != 0 if os.geteuid() == 0 else facts["uid"] == os.getuid()
    assert facts["pid"] == 2 and facts["pids"] == ["1", "2"]  # bwrap's init and us
    assert set(facts["caps"].values()) == {"0000000000000000"}
    assert facts["no_new_privs"] == "1" and facts["seccomp"] == "2"  # 2: filter mode
    assert len(facts["fds"]) == 5  # stdin, stdout, stderr, the records pipe, listdir's own
    soft = facts["limits"]
    assert (soft["Max processes"], soft["Max open files"], soft["Max file size"]) == (
        "32", "256", str(64 * 1024**2))
    assert (soft["Max core file size"], soft["Max realtime priority"], soft["Max nice priority"]) == ("0", "0", "0")
    assert soft["Max address space"] == str(1024**3)  # EvalPlus's reliability_guard
    assert soft["Max cpu time"] != "unlimited"
    assert facts["interfaces"] == ["lo"]
    allowed = {"/", "/usr", "/proc", "/dev", "/tmp", "/dev/shm", "/sandbox/harness.py",
               "/sandbox/codec.py", "/sandbox/codec_base.py", *bwrap._python_roots()}
    # bwrap also remounts parts of /proc read-only (/proc/sys, /proc/bus, …).
    extra = {m for m in facts["mounts"] if not m.startswith("/proc/")} - allowed
    assert extra <= {"/dev/pts", "/dev/mqueue", "/dev/null", "/dev/zero",
                                              "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                                              "/dev/console"}, facts["mounts"]
    # Nothing of the repository or the data is visible, but the Python it runs on (a
    # `.venv` inside the checkout is one of the read-only Python roots).
    roots = tuple(bwrap._python_roots())
    assert not any(m.startswith(str(DATA_DIR)) or (m.startswith(str(REPO)) and not m.startswith(roots)) or m == "/etc"
                   for m in facts["mounts"]), facts["mounts"]
    assert set(facts["env"]) <= set(bwrap._ENV) | {"EVALPLUS_MAX_MEMORY_BYTES", "PWD"}  # PWD: bwrap --chdir


def test_a_sandbox_that_cannot_start_is_an_error_not_a_failed_solution(monkeypatch):
    from evaluations.sandbox.errors import SandboxStartError

    calls = []
    monkeypatch.setattr(bwrap, "interpreter", lambda: calls.append(1) or ["/nonexistent/python"])
    with pytest.raises(SandboxStartError, match="sandbox did not start.*nonexistent"):
        check_solutions("humaneval", DATA, [("HumanEval/0", "def has_close_elements(a, b): pass")],
                        progress=False)
    assert len(calls) == 2  # tried twice, then reported
