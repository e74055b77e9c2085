"""evaluations.jsonl: the one JSONL parser behind every reader (data, predictions, samples, app)."""

import gzip
import json

import pytest

from evaluations.jsonl import JsonlError, jsonl_records


def test_records_keep_line_numbers_and_skip_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"i": 1}\n\n   \n{"i": 2}\n')
    assert jsonl_records(path) == [(1, {"i": 1}), (4, {"i": 2})]


def test_gzip_is_read_transparently(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    rows = [{"i": i, "s": "é"} for i in range(5)]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    assert [r for _, r in jsonl_records(path)] == rows


@pytest.mark.parametrize(
    "content, lineno, problem",
    [
        ('{"i": 1}\n{"i": \n{"i": 3}\n', 2, "invalid JSON"),
        ('{"i": 1}\n[1, 2]\n', 2, "expected a JSON object, got list"),
        ('"text"\n', 1, "expected a JSON object, got str"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, content, lineno, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(JsonlError) as info:
        jsonl_records(path)
    assert info.value.lineno == lineno
    assert str(info.value).startswith(f"{path}:{lineno}: {problem}")


def test_torn_tail_is_dropped_only_when_allowed_and_only_at_the_end(tmp_path):
    path = tmp_path / "live.jsonl"
    path.write_text('{"i": 1}\n{"i": 2}\n{"i": ')  # a writer killed mid-line
    assert jsonl_records(path, torn_tail_ok=True) == [(1, {"i": 1}), (2, {"i": 2})]
    with pytest.raises(JsonlError, match=r":3: invalid JSON"):
        jsonl_records(path)
    path.write_text('{"i": 1}\n{"i": \n{"i": 3}\n')  # damage in the middle is never a torn tail
    with pytest.raises(JsonlError, match=r":2: invalid JSON"):
        jsonl_records(path, torn_tail_ok=True)


def test_text_argument_is_parsed_instead_of_the_file(tmp_path):
    path = tmp_path / "never-read.jsonl"
    assert jsonl_records(path, '{"a": 1}\n') == [(1, {"a": 1})]
    assert isinstance(JsonlError(path, 1, "x"), ValueError)  # callers that catch ValueError keep working


def test_only_newline_ends_a_record(tmp_path):
    # json.dumps(ensure_ascii=False), as samples.jsonl is written, keeps these raw in strings.
    rows = [{"output": "a\u2028b\u2029c\x85d"}, {"output": "crlf"}]
    path = tmp_path / "s.jsonl"
    path.write_bytes((json.dumps(rows[0], ensure_ascii=False) + "\r\n" + json.dumps(rows[1]) + "\n").encode())
    assert [r for _, r in jsonl_records(path)] == rows
