"""Which runs root the app shows: sidebar field > ``--root`` > ``$WORKBENCH_RUNS_ROOT`` > ``runs``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

ENV_VAR = "WORKBENCH_RUNS_ROOT"
STATE_KEY = "runs_root"


def default_root(argv: list[str] | None = None) -> str:
    """The root given on the command line (``streamlit run app.py -- --root DIR``), else
    ``$WORKBENCH_RUNS_ROOT``, else ``runs``."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--root")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.root or os.environ.get(ENV_VAR) or "runs"


def sidebar_root() -> Path:
    """Show the root as an editable sidebar field and return it."""
    if STATE_KEY not in st.session_state:
        st.session_state[STATE_KEY] = default_root()
    value = st.sidebar.text_input("Runs root", key=STATE_KEY,
                                  help="Folder scanned for runs, evaluations, bound reports and diagnostics.")
    if st.sidebar.button("Reload data", help="Forget cached files and scan the root again"):
        st.cache_data.clear()
    return Path(value).expanduser()


def current_root() -> Path:
    """The root chosen in this session (pages call this)."""
    return Path(st.session_state.get(STATE_KEY) or default_root()).expanduser()
