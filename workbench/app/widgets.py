"""UI pieces every page shares: tables, empty states, file errors, pagination.

Data from the root never reaches Markdown unescaped: messages go through :func:`fmt.md`,
tables through :func:`table` (cells are drawn as text; numbers in :func:`fmt.number`
notation, missing values as "—"), charts through :func:`chart` (readable axis numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from workbench.app import fmt

T = TypeVar("T")

#: Rows per page of a paginated table.
PAGE_SIZE = 25


def styled(df: pd.DataFrame | pd.Series, formats: dict[str, Callable[[Any], str]] | None = None) -> Any:
    """``df`` as a pandas Styler whose display values are readable text: float columns in
    :func:`fmt.number` notation (or ``formats[column]``), missing values as "—". The
    values themselves (what sorting and ``AppTest`` see) are unchanged."""
    if isinstance(df, pd.Series):
        df = df.to_frame()
    if df.size > int(pd.options.styler.render.max_elements) or not (df.index.is_unique and df.columns.is_unique):
        return df  # too big for a Styler (or labels it cannot handle): shown unformatted
    formats = dict(formats or {})
    # Streamlit draws a null cell as a grey "None" whatever the Styler says: a missing text
    # value (no extraction, no gold) becomes "—" itself. Numeric columns stay numeric (so
    # they sort as numbers); their missing cells keep Streamlit's placeholder.
    text_cols = [c for c in df.columns if _is_text(df[c]) and df[c].isna().any()]
    if text_cols:
        df = df.copy()
        for col in text_cols:
            df[col] = df[col].where(df[col].notna(), fmt.MISSING)
    styler = df.style.format(na_rep=fmt.MISSING)
    for col in df.columns:
        if col in formats:
            styler = styler.format(formats[col], subset=[col], na_rep=fmt.MISSING)
        elif pd.api.types.is_float_dtype(df[col]) or pd.api.types.is_object_dtype(df[col]):
            styler = styler.format(fmt.number, subset=[col], na_rep=fmt.MISSING)
    return styler


def _is_text(column: pd.Series) -> bool:
    # pandas 3 infers the "str" dtype for text; older pandas (and mixed columns) use object.
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def table(df: pd.DataFrame | pd.Series, formats: dict[str, Callable[[Any], str]] | None = None,
          **dataframe_kwargs: Any) -> Any:
    """``st.dataframe`` of ``df`` with readable numbers (see :func:`styled`)."""
    return st.dataframe(styled(df, formats), **dataframe_kwargs)


#: D3 number format of every chart's axes, legends and tooltips: up to 6 significant
#: digits, trailing zeros trimmed, exponent notation below 1e-6 ("1e-8", never "0.00000001").
CHART_NUMBER_FORMAT = "~g"


def chart(spec: Any, **kwargs: Any) -> Any:
    """``st.altair_chart`` of an Altair chart with readable numbers on its guides."""
    return st.altair_chart(spec.configure(numberFormat=CHART_NUMBER_FORMAT), **kwargs)


def error(message: Any) -> None:
    """One error line; ``message`` (which may quote file content) shown literally."""
    st.error(fmt.md(message))


def empty_state(what: str, root: Any, command: str) -> None:
    """Say that nothing of ``what`` exists under ``root`` and which command produces it."""
    st.info(f"No {what} found under {fmt.md(root)}. Produce it with:")
    st.code(command, language="bash")


def load_or_error(loader: Callable[..., T], *args: Any) -> T | None:
    """Call ``loader``; a malformed or missing file shows one error (its message names the
    file) and returns None, so the rest of the page keeps working."""
    try:
        return loader(*args)
    except (ValueError, OSError, KeyError) as exc:
        error(f"Could not read: {exc}")
        return None


def paginate(df: pd.DataFrame, key: str, page_size: int = PAGE_SIZE,
             formats: dict[str, Callable[[Any], str]] | None = None, **dataframe_kwargs: Any) -> pd.DataFrame:
    """Show ``df`` one page at a time (a page selector appears above ``page_size`` rows);
    returns the rows shown."""
    pages = max(1, -(-len(df) // page_size))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"{key}-page"))
    start = (page - 1) * page_size
    shown = df.iloc[start:start + page_size]
    table(shown, formats, **dataframe_kwargs)
    st.caption(f"rows {start + 1 if len(df) else 0}–{start + len(shown)} of {len(df)}")
    return shown
