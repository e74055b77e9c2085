"""How the app writes data as text (no Streamlit here).

* :func:`md` — any string read from the root (run, model and benchmark names, paths,
  config values, sample fields, error messages) made inert for the Streamlit calls that
  render Markdown (``st.caption``, ``st.info``, ``st.error``, headings, labels): every ASCII
  punctuation character becomes a numeric character reference (``!`` → ``&#33;``).
  CommonMark treats such references as literal text, never as syntax, so no image, link,
  HTML tag, code span, emphasis, math or directive can be formed. GFM also turns bare
  URLs and e-mail addresses into links *after* parsing (on the decoded text), so an
  invisible U+2060 WORD JOINER is put inside every ``http://``, ``https://``, ``www.`` and
  before every ``@``: no link is formed. The browser shows the original characters. The app
  never passes ``unsafe_allow_html``; long or multi-line data goes to ``st.text`` / ``st.code`` / ``st.text_area`` /
  ``st.dataframe`` instead, which never parse Markdown.
* :func:`number` — one readable notation for every number the app prints: three
  significant digits, scientific outside [1e-3, 1e6) (``1e-08``, ``2.35``, ``0.00123``,
  ``12346``, ``1.23e+07``), integers as they are, and "—" for a missing value (never
  ``NaN`` or ``None``).
"""

from __future__ import annotations

import math
import numbers
import re
import string
from typing import Any

#: What a missing value (None, NaN) is shown as.
MISSING = "—"
_PUNCTUATION = frozenset(string.punctuation)
#: Where GFM's autolink-literal pass would start a link: broken by a WORD JOINER.
_AUTOLINK = re.compile(r"(?<=http)(?=s?://)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md(value: Any) -> str:
    """``value`` as text that Streamlit's Markdown renders literally (see the module
    docstring); line breaks become spaces, so the text stays one paragraph."""
    text = _AUTOLINK.sub(WORD_JOINER, " ".join(str(value).splitlines()))
    return "".join(f"&#{ord(ch)};" if ch in _PUNCTUATION else ch for ch in text)


def number(value: Any, digits: int = 3) -> str:
    """``value`` in readable notation (see the module docstring); non-numbers as ``str``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax < 1e-3 or ax >= 1e6:
        return f"{x:.{digits}g}"
    decimals = max(digits - 1 - math.floor(math.log10(ax)), 0)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(value: Any) -> str:
    """A percentage with two decimals (``53.33``), "—" when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return str(value)


def percent_fraction(value: Any) -> str:
    """A fraction shown as a percentage (``0.5333`` -> ``53.33``), "—" when missing."""
    try:
        return percent(None if value is None else 100 * float(value))
    except (TypeError, ValueError):
        return str(value)
