"""Run one check in a fresh sandbox and judge its outputs as they arrive.

One sandbox per check (one solution on one split of one task): nothing a solution does
survives into another check, and no record it forges can be read as another check's.
The host side never executes anything that came out: it parses JSON lines (size-capped),
decodes values with :mod:`evaluations.sandbox.codec` and hands each to a judge callback;
the first wrong output ends the check at once (EvalPlus's ``fast_check``).

Descriptors: the sandbox gets stdin (the job, then EOF), stdout on /dev/null (a flood
costs nothing), stderr on a pipe of which the first few KiB are kept for error messages
and the rest discarded, the records pipe, and the seccomp program for bwrap to read;
nothing else (``close_fds``), and the harness closes whatever bwrap passed through.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluations.sandbox import bwrap, seccomp
from evaluations.sandbox.codec import CodecError, Digest, decode, encode
from evaluations.sandbox.errors import SandboxStartError
from evaluations.sandbox.limits import SandboxLimits

# How a check ended.
DONE = "done"  # every input answered, every answer accepted
WRONG = "wrong"  # an answer the judge rejected
RAISED = "raised"  # the entry point raised (or hit its per-input time limit)
EXEC_ERROR = "exec_error"  # the code did not execute or define the entry point
DEADLINE = "deadline"  # the check ran past its budget and was killed
EXITED = "exited"  # the sandbox ended before it said it was done
BROKEN = "broken"  # malformed, out-of-order or oversized records

# judge(i, value, type_name): value is decoded data, or a Digest for a digest input.
Judge = Callable[[int, Any, str], bool]


@dataclass
class CheckJob:
    """What one check runs: code, entry point, inputs and their time limits; for the
    inputs in ``digest_inputs`` the sandbox sends a text digest instead of the output."""

    code: str
    entry_point: str
    inputs: list[Any]
    time_limits: list[float]
    materialise_iterables: bool = False
    digest_inputs: frozenset[int] = frozenset()


@dataclass
class CheckRun:
    """How a check ended, how many outputs were accepted and a short detail."""

    ended: str
    accepted: int
    detail: str = ""


class _Records:
    """JSON-line records from the sandbox's records pipe, under a byte cap."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap, self.total = fd, cap, 0
        self.buffer = bytearray()
        self.scanned = 0  # bytes of the buffer known to hold no newline
        self.eof = False
        self.poller = select.poll()  # poll, not select: the fd may be above FD_SETSIZE
        self.poller.register(fd, select.POLLIN)

    def next(self, deadline: float) -> dict | str:
        """The next record, or one of ``"deadline"``, ``"eof"``, ``"oversized"``,
        ``"malformed"``."""
        while True:
            newline = self.buffer.find(b"\n", self.scanned)
            if newline >= 0:
                line = bytes(self.buffer[:newline])
                del self.buffer[: newline + 1]
                self.scanned = 0
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    return "malformed"
                return record if isinstance(record, dict) else "malformed"
            self.scanned = len(self.buffer)
            if self.eof:
                return "eof"
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.poller.poll(max(1, int(remaining * 1000))):
                if time.monotonic() >= deadline:
                    return "deadline"
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.eof = True
                continue
            self.total += len(chunk)
            if self.total > self.cap:
                return "oversized"
            self.buffer += chunk


def _keep_head(stream: Any, keep: int, sink: list[bytes]) -> None:
    """Read ``stream`` to EOF, keeping its first ``keep`` bytes (a flood is discarded,
    so the evaluator's own output stays bounded)."""
    kept = 0
    try:
        while chunk := stream.read1(65536):
            if kept < keep:
                sink.append(chunk[: keep - kept])
                kept += len(sink[-1])
    except (OSError, ValueError):
        pass


def _feed(stream: Any, payload: bytes) -> None:
    """Write the job to the sandbox's stdin and close it (a dead sandbox is noticed by
    the reader)."""
    try:
        stream.write(payload)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _kill(proc: subprocess.Popen) -> None:
    """End the whole sandbox: bwrap and its PID namespace (its init dies with bwrap,
    ``--die-with-parent``, and takes every process of the namespace with it)."""
    if proc.poll() is None:  # never signal a pid that may already be reused
        for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
            try:
                target()
            except OSError:
                pass
    proc.wait()


def run_check(job: CheckJob, limits: SandboxLimits, judge: Judge) -> CheckRun:
    """Run ``job`` in a fresh sandbox; ``judge(i, value, type_name)`` decides each output.

    Raises :class:`~evaluations.sandbox.errors.SandboxUnavailable` when bubblewrap or
    libseccomp is missing and :class:`~evaluations.sandbox.errors.SandboxStartError`
    when the sandbox does not start.
    """
    payload = json.dumps({
        "code": job.code,
        "entry_point": job.entry_point,
        "inputs": encode(job.inputs),
        "time_limits": job.time_limits,
        "materialise_iterables": job.materialise_iterables,
        "digest_inputs": sorted(job.digest_inputs),
        "memory_bytes": limits.memory_bytes,
        "limits": {
            "processes": limits.processes,
            "open_files": limits.open_files,
            "file_bytes": limits.tmpfs_bytes,
            # A backstop for a host that stalls: the wall-clock budget is the rule.
            "cpu_seconds": int(limits.startup_timeout + limits.check_budget(job.time_limits)) + 5,
        },
    }).encode()
    as_root = os.geteuid() == 0
    program_fd = seccomp.program_fd()
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        spec = bwrap.SandboxSpec(tmpfs_bytes=limits.tmpfs_bytes, seccomp_fd=program_fd,
                                 as_root=as_root)
        proc = subprocess.Popen(
            bwrap.command(spec, [*bwrap.interpreter(), str(write_fd)]),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(program_fd, write_fd), env=bwrap.host_env(), cwd="/",
            start_new_session=True,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(program_fd)
        os.close(write_fd)
    stderr: list[bytes] = []
    threads = [threading.Thread(target=_feed, args=(proc.stdin, payload), daemon=True),
               threading.Thread(target=_keep_head, args=(proc.stderr, limits.stderr_bytes, stderr),
                                daemon=True)]
    for thread in threads:
        thread.start()
    records = _Records(read_fd, limits.output_bytes)
    try:
        first = records.next(time.monotonic() + limits.startup_timeout)
        if not (isinstance(first, dict) and first.get("ready") is True):
            _kill(proc)
            threads[1].join(timeout=5)
            message = b"".join(stderr).decode("utf-8", "replace").strip()
            raise SandboxStartError(
                f"sandbox did not start ({first if isinstance(first, str) else 'bad first record'}, "
                f"exit status {proc.returncode}): {message or 'no message'}")
        return _judge_records(records, job, limits, judge)
    finally:
        _kill(proc)
        os.close(read_fd)
        for thread in threads:
            thread.join(timeout=5)


def _judge_records(records: _Records, job: CheckJob, limits: SandboxLimits,
                   judge: Judge) -> CheckRun:
    """Consume the records after ``ready`` until the check's outcome is known."""
    deadline = time.monotonic() + limits.check_budget(job.time_limits)
    accepted = 0
    while True:
        record = records.next(deadline)
        if record == "deadline":
            return CheckRun(DEADLINE, accepted, "killed at the check's time budget")
        if record == "eof":
            return CheckRun(EXITED, accepted, "sandbox ended before its last record")
        if isinstance(record, str):
            return CheckRun(BROKEN, accepted, f"{record} record")
        if record.get("done") is True:
            if accepted == len(job.inputs):
                return CheckRun(DONE, accepted)
            return CheckRun(BROKEN, accepted, "done before every input was answered")
        if "exec_error" in record:
            return CheckRun(EXEC_ERROR, accepted, str(record["exec_error"])[:200])
        if record.get("i") != accepted or accepted >= len(job.inputs):
            return CheckRun(BROKEN, accepted, "record out of order")
        if "error" in record:
            return CheckRun(RAISED, accepted, str(record["error"])[:200])
        type_name = record.get("type")
        if not isinstance(type_name, str):
            return CheckRun(BROKEN, accepted, "output record without type")
        if accepted in job.digest_inputs:
            digest = record.get("digest")
            if not isinstance(digest, str) or len(digest) != 64:
                return CheckRun(BROKEN, accepted, "digest record without a digest")
            value: Any = Digest(digest)
        elif "out" not in record:
            return CheckRun(BROKEN, accepted, "output record without value")
        else:
            try:
                value = decode(record["out"])
            except (CodecError, RecursionError) as exc:
                return CheckRun(BROKEN, accepted, f"undecodable output: {exc}")
        if not judge(accepted, value, type_name):
            return CheckRun(WRONG, accepted, f"input {accepted}")
        accepted += 1
