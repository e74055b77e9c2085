"""Cached, read-only access to the runs root for the pages (``st.cache_data``).

File loaders are keyed by (path, modification time, size), so a file rewritten by a
running command is read again while an unchanged one comes from the cache. The root
scan is cached for a few seconds only, so new runs appear on the next interaction. The
stamp is taken with ``lstat`` (a link's target is never looked at); the readers refuse
links anyway (:mod:`workbench.app.safe`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from workbench.app import discover, readers, safe


def _stamp(path: str | Path) -> tuple[int, int]:
    return safe.lstat_stamp(path)


@st.cache_data(ttl=5, show_spinner=False)
def inventory(root: str) -> discover.Inventory:
    """Everything under ``root`` (see :func:`workbench.app.discover.scan`)."""
    return discover.scan(root)


@st.cache_data(max_entries=256, show_spinner=False)
def _metrics(path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    return readers.read_metrics(path)


def metrics(path: Path) -> pd.DataFrame:
    """A run's ``metrics.jsonl`` (see :func:`readers.read_metrics`)."""
    return _metrics(str(path), _stamp(path))


@st.cache_data(max_entries=256, show_spinner=False)
def _chart(path: str, stamp: tuple[int, int], columns: tuple[str, ...], x: str) -> pd.DataFrame:
    return readers.chart_frame(_metrics(path, stamp), list(columns), x=x)


def metrics_chart(path: Path, columns: list[str], x: str = "step") -> pd.DataFrame:
    """Long (x, term, value) rows of ``columns`` of a metrics file, downsampled for a
    chart (see :func:`readers.chart_frame`)."""
    return _chart(str(path), _stamp(path), tuple(columns), x)


@st.cache_data(max_entries=256, show_spinner=False)
def _yaml(path: str, stamp: tuple[int, int]) -> tuple[str, dict[str, Any]]:
    return readers.read_yaml_text(path)


def config(path: Path) -> tuple[str, dict[str, Any]]:
    """A run's ``config.yaml`` text and mapping."""
    return _yaml(str(path), _stamp(path))


@st.cache_data(max_entries=1024, show_spinner=False)
def _json(path: str, stamp: tuple[int, int]) -> dict[str, Any]:
    return readers.read_json_object(path)


def json_object(path: Path) -> dict[str, Any]:
    """A JSON object file (e.g. ``results.json``)."""
    return _json(str(path), _stamp(path))


@st.cache_data(max_entries=256, show_spinner=False)
def _samples(path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    return readers.read_samples(path)


def samples(path: Path) -> pd.DataFrame:
    """One ``samples.jsonl`` as a table."""
    return _samples(str(path), _stamp(path))


@st.cache_data(max_entries=64, show_spinner=False)
def _bounds(folder: str, stamp: tuple[int, int]) -> tuple[pd.DataFrame, dict[str, Any]]:
    return readers.read_bounds_report(folder)


def bounds_report(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A ``workbench bounds`` report folder: per-pair table and summary."""
    return _bounds(str(folder), _stamp(folder / "pairs.csv"))


@st.cache_data(max_entries=128, show_spinner=False)
def _table(path: str, stamp: tuple[int, int], required: tuple[str, ...]) -> pd.DataFrame:
    return readers.read_table(path, required)


def table(path: Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV / Parquet table."""
    return _table(str(path), _stamp(path), required)
