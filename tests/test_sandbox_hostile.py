"""Hostile solutions against the sandbox: each is scored fail, and each is contained.

Every hostile solution below is HumanEval/0 (``has_close_elements``) written so that it
answers *correctly only if its attack worked* and returns None otherwise. So "scored
fail" means the attack failed as seen from inside, and the test also checks from outside
what the attack would have touched: listeners the test starts get nothing, nothing
persists in the host's /dev/shm, no process carrying the test's marker outlives the
evaluation, the evaluator's own output stays small. Without the sandbox these attacks
succeed: ``test_controls_attacks_work_without_the_sandbox`` runs some of them under plain
EvalPlus (its ``reliability_guard`` in a forked child) and sees them pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sandbox_common import (
    DATA,
    IMPORTS,
    LIMITS,
    MARKER,
    REPO,
    attacks,
    bait,
    canonical,
    hostile,
    marked_processes,
)

from evaluations.engines.evalplus_engine import (
    CodeVerdict,
    check_solutions,
    expected_outputs,
    load_problems,
)
from evaluations.sandbox.limits import SandboxLimits

pytestmark = pytest.mark.skipif(not DATA.is_file(), reason=f"benchmark data not at {DATA}")


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Iterator[dict]:
    """Bait for the sandboxed runs."""
    yield from bait(tmp_path_factory.mktemp("hostile"), "host")


@pytest.fixture
def control_host(tmp_path) -> Iterator[dict]:
    """Separate bait for the negative controls (their attacks do reach it)."""
    yield from bait(tmp_path, "control")




@pytest.fixture(scope="module")
def verdicts(host) -> dict[str, CodeVerdict]:
    """Every attack judged in one batch, plus correct solutions checked right after the
    forgers (same task, next item; and another task)."""
    cases = {label: hostile(attack, IMPORTS) for label, attack in attacks(host).items()}
    items = [("HumanEval/0", code) for code in cases.values()]
    items += [("HumanEval/0", canonical("HumanEval/0")), ("HumanEval/1", canonical("HumanEval/1"))]
    start = time.monotonic()
    results = check_solutions("humaneval", DATA, items, limits=LIMITS, progress=False)
    host["seconds"] = time.monotonic() - start
    labels = [*cases, "canonical after the forgers (same task)", "canonical (next task)"]
    return dict(zip(labels, results, strict=True))


def test_every_attack_scores_fail_and_correct_neighbours_pass(verdicts, host):
    report = {label: (v.base_status, v.plus_status) for label, v in verdicts.items()}
    attempted = [label for label in report if not label.startswith("canonical")]
    contained = [label for label in attempted if not verdicts[label].passed_base]
    print(f"\nhostile suite: {len(contained)}/{len(attempted)} contained "
          f"({host['seconds']:.1f}s)")
    for label, statuses in report.items():
        print(f"  {label:55s} {statuses[0]:8s} {statuses[1]}")
    assert contained == attempted, {k: report[k] for k in attempted if k not in contained}
    assert verdicts["canonical after the forgers (same task)"].passed_plus
    assert verdicts["canonical (next task)"].passed_plus
    assert host["seconds"] < 90


def test_listeners_received_nothing(verdicts, host):
    time.sleep(0.3)  # let the listener threads drain anything in flight
    assert host["listeners"].received == {"udp": [], "tcp": [], "unix": [], "abstract": []}


def test_no_process_survives_the_evaluation(verdicts):
    assert marked_processes() == []


def test_nothing_persists_in_host_dev_shm_or_repository(verdicts):
    assert sorted(p.name for p in Path("/dev/shm").glob(f"{MARKER}*")) == [f"{MARKER}-host"]
    assert not list(REPO.glob(f"ESCAPE_{MARKER}"))


def test_evaluator_output_stays_small(capfd, host):
    """The flood (200 MB to the sandbox's stdout and stderr) reaches neither the
    evaluator's stdout nor its stderr."""
    code = hostile(attacks(host)["flood stdout and stderr"], IMPORTS)
    start = time.monotonic()
    [verdict] = check_solutions("humaneval", DATA, [("HumanEval/0", code)], limits=LIMITS,
                                progress=False)
    out, err = capfd.readouterr()
    assert verdict.base_status == "fail"
    assert len(out) + len(err) < 10_000, (len(out), len(err))
    assert time.monotonic() - start < 30


def test_state_does_not_survive_between_checks():
    """A file left in /tmp by one check is gone for the next one (each has its own)."""
    write = hostile(f"io.open('/tmp/{MARKER}', 'w').write('x')\nok = True", IMPORTS)
    read = hostile(f"ok = os.path.exists('/tmp/{MARKER}')", IMPORTS)
    results = check_solutions("humaneval", DATA, [("HumanEval/0", write), ("HumanEval/0", read)],
                              limits=SandboxLimits(workers=1), progress=False)
    assert results[0].passed_plus  # writing its own /tmp is allowed…
    assert not results[1].passed_base  # …and invisible to the next check


# ------------------------------------------------------------------ negative controls
CONTROLS = ["frame walk to expected outputs / verdict state", "UDP to a host listener",
            "_posixsubprocess.fork_exec setsid daemon", "pathname UNIX socket of the host",
            "read a secret in the host's /tmp", "/dev/shm: read the host's, write 100 MB",
            "setpriority(-20)", "sees host processes"]


@pytest.mark.parametrize("label", CONTROLS)
def test_controls_attacks_work_without_the_sandbox(label, control_host):
    """The same solutions under plain EvalPlus (``untrusted_check``: a forked child
    after ``reliability_guard``, no sandbox) pass: the suite above can fail."""
    from evalplus.eval import untrusted_check

    if label == "setpriority(-20)" and os.geteuid() != 0:
        pytest.skip("negative nice values need root")
    problem = load_problems("humaneval", DATA)["HumanEval/0"]
    expected = expected_outputs("humaneval", problem)
    code = hostile(attacks(control_host)[label], IMPORTS)
    try:
        status, _ = untrusted_check("humaneval", code, problem["base_input"], "has_close_elements",
                                    expected["base"], problem["atol"], expected["base_time"],
                                    fast_check=True, min_time_limit=1.0)
    finally:
        for leftover in Path("/dev/shm").glob(f"{MARKER}-sandbox"):
            leftover.unlink()
        survivors = marked_processes()  # only the daemon control starts any
        for proc in survivors:
            proc.kill()
    assert status == "pass"
    if label.startswith("_posixsubprocess"):
        assert survivors, "the unsandboxed daemon should have outlived its check"
    if "socket" in label or "UDP" in label:
        assert any(control_host["listeners"].received.values())
