"""The ``workbench`` console script: discovers sub-commands in ``workbench.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from evaluations.sandbox.errors import SandboxStartError, SandboxUnavailable
from workbench import __version__, commands
from workbench.gpu_share import apply_memory_fraction


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command module registered."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Fuse LLMs by logit distillation, evaluate checkpoints, diagnose GW.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen sub-command; returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        apply_memory_fraction()
        return int(args.func(args) or 0)
    except (ValueError, OSError, SandboxUnavailable, SandboxStartError) as exc:
        # User errors (bad input, missing or damaged files), the file system refusing a
        # write (full disk, read-only folder) and a missing or broken code sandbox
        # (bubblewrap) get one clear line naming the file, not a traceback.
        _close_progress_bars()  # the error line starts a line of its own
        print(f"workbench {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 2


def _close_progress_bars() -> None:
    try:
        from tqdm import tqdm
    except ImportError:
        return
    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def error_line(exc: BaseException) -> str:
    """The one-line message of a user-facing error: an ``OSError`` as ``<file>: <reason>``
    (its own message when it already names the file), anything else as its message."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
        if exc.filename2 is not None:
            text += f" (-> {exc.filename2})"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split("\n")).strip()


if __name__ == "__main__":
    sys.exit(main())
