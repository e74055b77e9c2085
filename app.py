"""Streamlit entry point: ``streamlit run app.py -- --root runs`` (or ``workbench app``).

A read-only window over the runs root: training runs, the leaderboard, per-sample
drill-down, the co-activation graph inspector and the GW lab. Pages live in
``workbench/app/pages`` (thin scripts) and ``workbench/app/views`` (their code). Each page
has its own URL (``/runs``, ``/leaderboard``, ``/samples``, ``/graph-inspector``,
``/gw-lab``); ``/`` opens ``/runs``.
"""

from pathlib import Path

import streamlit as st

from workbench.app.root import sidebar_root

PAGES_DIR = Path(__file__).resolve().parent / "workbench" / "app" / "pages"
#: (script, title, url path, icon) in sidebar order.
PAGES = [
    ("runs.py", "Runs", "runs", ":material/monitoring:"),
    ("leaderboard.py", "Leaderboard", "leaderboard", ":material/leaderboard:"),
    ("samples.py", "Samples", "samples", ":material/list_alt:"),
    ("graph_inspector.py", "Graph inspector", "graph-inspector", ":material/hub:"),
    ("gw_lab.py", "GW lab", "gw-lab", ":material/science:"),
]

st.set_page_config(page_title="Fusion workbench", page_icon=":material/merge:", layout="wide")
pages = [st.Page(PAGES_DIR / script, title=title, url_path=url, icon=icon) for script, title, url, icon in PAGES]


def home() -> None:
    """The root URL: go to the first page, so every page (Runs included) has exactly one
    URL of its own (``/runs``, ``/leaderboard``, …) and deep links work."""
    st.switch_page(pages[0])


# Streamlit serves the default page at "/" only (its own url_path would be "Page not
# found"): the default is this hidden redirect, never a page itself.
navigation = st.navigation([st.Page(home, title="Home", url_path="home", default=True, visibility="hidden"),
                            *pages])
sidebar_root()
navigation.run()
