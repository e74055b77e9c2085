"""Reading official benchmark files with clear errors (benchmark, file, expected format)."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError
from evaluations.jsonl import JsonlError, jsonl_records


def require(path: Path, benchmark: str, expected: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`BenchmarkDataError`."""
    if not path.is_file():
        raise BenchmarkDataError(
            f"{benchmark}: missing data file {path} (expected {expected}); "
            f"see --data-dir and shared/benchmarks/SOURCES.md"
        )
    return path


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_text(path: Path, benchmark: str, expected: str) -> str:
    """Whole text of a (possibly .gz/.bz2-compressed) file, with a clear error if unreadable."""
    require(path, benchmark, expected)
    try:
        with _open_text(path) as fh:
            return fh.read()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BenchmarkDataError(f"{benchmark}: cannot read {path} ({exc}); expected {expected}") from exc


def read_jsonl(
    path: Path, benchmark: str, expected: str, required: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Records of a JSONL(.gz) file; a bad line or a missing key names file and line."""
    records = []
    try:
        parsed = jsonl_records(path, read_text(path, benchmark, expected))
    except JsonlError as exc:
        raise BenchmarkDataError(f"{benchmark}: {exc}; expected {expected}") from exc
    for lineno, record in parsed:
        missing = [k for k in required if k not in record]
        if missing:
            raise BenchmarkDataError(
                f"{benchmark}: {path}:{lineno}: missing field(s) {missing}; expected {expected}"
            )
        records.append(record)
    if not records:
        raise BenchmarkDataError(f"{benchmark}: {path} has no records; expected {expected}")
    return records


def read_json(path: Path, benchmark: str, expected: str) -> Any:
    """A JSON document, with a clear error naming the file when it does not parse."""
    text = read_text(path, benchmark, expected)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchmarkDataError(
            f"{benchmark}: {path}:{exc.lineno}: invalid JSON ({exc.msg}); expected {expected}"
        ) from exc


def take(items: list[Any], limit: int | None) -> list[Any]:
    """The first ``limit`` items (all when ``limit`` is None)."""
    return items if limit is None else items[: max(limit, 0)]
