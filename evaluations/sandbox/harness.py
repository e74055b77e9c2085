"""Inside the sandbox: run a candidate on the test inputs and write out what it returned.

Started by :mod:`evaluations.sandbox.runner` as ``python -I -B /sandbox/harness.py FD``.
The job arrives on stdin as JSON (code, entry point, inputs in the codec's form, per-input
time limits, resource limits); output records leave through fd ``FD`` as JSON lines:

    {"ready": true}                          before any candidate code runs
    {"i": 0, "type": "builtins.list", "out": <encoded value>}    one per input, in order
    {"i": 5, "type": "builtins.list", "digest": "<sha256>"}    for inputs the job marks
    {"i": 3, "error": "ZeroDivisionError", "timeout": false}     the call raised; stop
    {"exec_error": "SyntaxError"}            the code or its entry point failed; stop
    {"done": true}

There is no verdict here and nothing to compare with: expected outputs never enter this
process. The candidate runs in this same process (as in EvalPlus) and can therefore write
whatever it likes to fd ``FD`` — which only lets it claim outputs for its own check, the
same power it has by returning them. The host judges.

The check mirrors ``evalplus.eval.unsafe_execute`` step for step — EvalPlus's own
``create_tempdir``, ``reliability_guard`` (with the same memory limit),
``swallow_io`` and per-input ``time_limit``; the same modules loaded beforehand (its
forked child inherits numpy and friends); stop at the first input that raises
(``fast_check``) — so that a solution behaves here as it would under EvalPlus.
"""

from __future__ import annotations

import json
import os
import resource
import sys

if __package__:  # imported from the repository (tests, tooling)
    from evaluations.sandbox import codec
else:  # run as a script inside the sandbox: codec.py lies beside this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import codec  # type: ignore[no-redef]

_LIMITS = {
    "processes": resource.RLIMIT_NPROC,  # threads count too
    "open_files": resource.RLIMIT_NOFILE,
    "file_bytes": resource.RLIMIT_FSIZE,
    "cpu_seconds": resource.RLIMIT_CPU,
}


def close_stray_fds(keep: int) -> None:
    """Close every descriptor but 0, 1, 2 and ``keep``: nothing the host did not mean
    to pass (bwrap passes its inherited descriptors through) reaches the candidate."""
    os.closerange(3, keep)
    os.closerange(keep + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])


def apply_limits(limits: dict[str, int]) -> None:
    """Set soft and hard limits (a process without CAP_SYS_RESOURCE cannot raise them
    again); no core dumps; no real-time priority and no nice value below 0."""
    for key, which in _LIMITS.items():
        resource.setrlimit(which, (limits[key], limits[key]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))


class Channel:
    """The output records' pipe, written with ``os.write`` only (EvalPlus's guard later
    sets ``builtins.open`` & co. to None; ``os.write`` survives it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._write = os.write

    def send(self, record: dict) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[self._write(self.fd, view):]


def run_check(job: dict, channel: Channel) -> None:
    """Execute the code and call the entry point on each input, as ``unsafe_execute``
    does, sending one record per input (outputs only: the host compares)."""
    import evalplus.eval  # noqa: F401 - the modules EvalPlus's forked child already has
    from evalplus.eval import query_maximum_memory_bytes
    from evalplus.eval.utils import create_tempdir, reliability_guard, swallow_io, time_limit

    inputs = codec.decode(job["inputs"])
    limits = job["time_limits"]
    materialise = bool(job["materialise_iterables"])
    digest_inputs = frozenset(job["digest_inputs"])
    encode, digest, type_name, exit_now = codec.encode, codec.text_digest, codec.type_name, os._exit
    channel.send({"ready": True})
    with create_tempdir():
        reliability_guard(maximum_memory_bytes=query_maximum_memory_bytes())
        exec_globals: dict = {}
        try:
            with swallow_io():
                exec(job["code"], exec_globals)  # the point: confined here
                fn = exec_globals[job["entry_point"]]
        except BaseException as exc:  # EvalPlus: any failure fails the check
            channel.send({"exec_error": type(exc).__name__})
            return
        for i, inp in enumerate(inputs):
            try:
                with time_limit(limits[i]):
                    with swallow_io():
                        out = fn(*inp)
            except BaseException as exc:  # includes EvalPlus's TimeoutException
                channel.send({"i": i, "error": type(exc).__name__,
                              "timeout": type(exc).__name__ == "TimeoutException"})
                return
            try:
                name = type_name(type(out))
                value = {"digest": digest(out)} if i in digest_inputs else {"out": encode(out, materialise)}
            except BaseException:  # an output we cannot even name
                name = "codec.Unencodable"
                value = {"digest": "0" * 64} if i in digest_inputs else {"out": ["O", name, None]}
            channel.send({"i": i, "type": name, **value})
        channel.send({"done": True})
        # Leave at once, as EvalPlus's child does (multiprocessing ends it with os._exit):
        # no atexit handler or finaliser of the candidate runs after the last record.
        exit_now(0)


def main(argv: list[str]) -> int:
    """Take the job, confine the process further, announce readiness, run the check."""
    fd = int(argv[0])
    close_stray_fds(fd)
    job = json.loads(sys.stdin.buffer.read())
    # stdin is done with; /dev/null keeps fd 0 from being reused for something else.
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ["EVALPLUS_MAX_MEMORY_BYTES"] = str(job["memory_bytes"])
    apply_limits(job["limits"])
    channel = Channel(fd)
    run_check(job, channel)
    channel.send({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
