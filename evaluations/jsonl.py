"""Reading JSONL files with errors that name the file and line: one parser for every reader.

Benchmark data, ``--predictions`` files, ``samples.jsonl``, the trainer's
``eval_queue.jsonl`` and the app's inputs are all JSONL. Each caller checks its own keys;
this module only turns lines into objects, skips blank lines, reads ``.gz`` files
transparently and, where a file may be appended to while we read it (or was cut short by a
kill), tolerates an unparsable *last* line.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line that is not a JSON object; ``str()`` is ``"<path>:<line>: <problem>"``."""

    def __init__(self, path: Path, lineno: int, problem: str) -> None:
        super().__init__(f"{path}:{lineno}: {problem}")
        self.path = path
        self.lineno = lineno
        self.problem = problem


def decode_utf8(path: str | Path, data: bytes) -> str:
    """``data`` (the bytes of ``path``) as UTF-8 text; a ``ValueError`` naming
    ``file:line`` and the offending byte otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text "
                         f"(byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def read_text(path: str | Path) -> str:
    """Text of ``path`` (UTF-8), gunzipped when its name ends in ``.gz``; undecodable or
    damaged content raises ``ValueError`` naming the file (and line)."""
    path = Path(path)
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a readable gzip file ({exc})") from None
    return decode_utf8(path, data)


def jsonl_records(
    path: str | Path, text: str | None = None, *, torn_tail_ok: bool = False
) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file.

    ``text`` is the file's content when the caller already read it (else it is read here,
    see :func:`read_text`). A line that is not valid JSON, or not a JSON object, raises
    :class:`JsonlError`, except that with ``torn_tail_ok`` an invalid *last* non-blank line
    (a record being written right now, or the torn tail of a killed writer) is dropped.
    """
    path = Path(path)
    # Only "\n" ends a record: str.splitlines() would also split at U+2028, U+0085, ...
    # which json.dumps(ensure_ascii=False) writes raw inside strings (model outputs).
    lines = (read_text(path) if text is None else text).split("\n")
    last = max((i for i, line in enumerate(lines, start=1) if line.strip()), default=0)
    records: list[tuple[int, dict[str, Any]]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if torn_tail_ok and lineno == last:
                break
            raise JsonlError(path, lineno, f"invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise JsonlError(path, lineno, f"expected a JSON object, got {type(record).__name__}")
        records.append((lineno, record))
    return records
