"""``workbench app --root DIR``: open the Streamlit app (``streamlit run app.py``) over a
runs root. The app only reads the runs it shows."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def app_script() -> Path:
    """The repository's ``app.py`` (beside the ``workbench`` package)."""
    import workbench

    return Path(workbench.__file__).resolve().parent.parent / "app.py"


def streamlit_command(root: Path, *, port: int, address: str, headless: bool) -> list[str]:
    """The ``streamlit run`` command line for ``root`` (absolute, so the app's working
    directory does not matter)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.port", str(port),
        "--server.address", address,
        "--server.headless", "true" if headless else "false",
        # The app is not edited while it runs: no file watcher, no usage statistics.
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--", "--root", str(root.resolve()),
    ]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` sub-command."""
    parser = subparsers.add_parser(
        "app",
        help="open the Streamlit app over runs, evaluations and diagnostics",
        description=__doc__,
    )
    parser.add_argument("--root", type=Path, default=Path("runs"),
                        help="runs root to show (runs, eval outputs, bound reports, diagnostics)")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="localhost", help="interface to listen on")
    parser.add_argument("--headless", action="store_true", help="do not open a browser")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start Streamlit in the foreground (replacing this process on POSIX)."""
    if not args.root.is_dir():
        raise FileNotFoundError(f"runs root {args.root} is not a folder (train with `workbench fuse` "
                                "or pass --root)")
    script = app_script()
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found: `workbench app` needs the repository checkout "
                                "(pip install -e .)")
    command = streamlit_command(args.root, port=args.port, address=args.address, headless=args.headless)
    print(f"workbench app: serving {args.root.resolve()} on http://{args.address}:{args.port}", flush=True)
    if os.name == "posix":
        # Become the Streamlit process: a signal sent to `workbench app` (Ctrl-C, a test's
        # terminate()) then reaches the server itself and no orphan is left behind.
        os.execv(sys.executable, command)
    return subprocess.call(command)
