"""UI pieces every page shares: empty states, file errors, pagination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

T = TypeVar("T")

#: Rows per page of a paginated table.
PAGE_SIZE = 25


def empty_state(what: str, root: Any, command: str) -> None:
    """Say that nothing of ``what`` exists under ``root`` and which command produces it."""
    st.info(f"No {what} found under `{root}`. Produce it with:")
    st.code(command, language="bash")


def load_or_error(loader: Callable[..., T], *args: Any) -> T | None:
    """Call ``loader``; a malformed or missing file shows one error (its message names the
    file) and returns None, so the rest of the page keeps working."""
    try:
        return loader(*args)
    except (ValueError, OSError, KeyError) as exc:
        st.error(f"Could not read: {exc}")
        return None


def paginate(df: pd.DataFrame, key: str, page_size: int = PAGE_SIZE, **dataframe_kwargs: Any) -> pd.DataFrame:
    """Show ``df`` one page at a time (a page selector appears above ``page_size`` rows);
    returns the rows shown."""
    pages = max(1, -(-len(df) // page_size))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"{key}-page"))
    start = (page - 1) * page_size
    shown = df.iloc[start:start + page_size]
    st.dataframe(shown, **dataframe_kwargs)
    st.caption(f"rows {start + 1 if len(df) else 0}–{start + len(shown)} of {len(df)}")
    return shown
