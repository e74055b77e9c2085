"""Streamlit entry point: ``streamlit run app.py -- --root runs`` (or ``workbench app``).

A read-only window over the runs root: training runs, the leaderboard, per-sample
drill-down, the co-activation graph inspector and the GW lab. Pages live in
``workbench/app/pages`` (thin scripts) and ``workbench/app/views`` (their code).
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
navigation = st.navigation([
    st.Page(PAGES_DIR / script, title=title, url_path=url, icon=icon, default=(i == 0))
    for i, (script, title, url, icon) in enumerate(PAGES)
])
sidebar_root()
navigation.run()
