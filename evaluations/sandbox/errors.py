"""Errors of the sandbox machinery itself (never a solution's fault)."""

from __future__ import annotations


class SandboxUnavailable(RuntimeError):
    """bubblewrap, setpriv or libseccomp is missing or does not work here: generated code
    is never run without the sandbox, so evaluation of code benchmarks stops."""


class SandboxStartError(RuntimeError):
    """The sandbox never became ready (bwrap or the interpreter failed): an
    infrastructure problem, not the solution's — no candidate code had run yet."""
