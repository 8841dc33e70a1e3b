import json

import pytest

from tools import jsonstream
from tools.jsonstream import FileFormatError, RawRecord, RecordError, iter_records


def values(items):
    return [i.value for i in items if isinstance(i, RawRecord)]


def errors(items):
    return [i for i in items if isinstance(i, RecordError)]


TRICKY = [{"a": "bracket ] and { inside", "b": ["x", {"c": "quote \" and backslash \\"}]},
          {"zh": "中文 ] } \\\" 混合", "n": 1}, [1, 2, [3]], "a string ]", 42, None]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_array_records_survive_any_chunk_boundary(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    p = tmp_path / "a.json"
    p.write_text(json.dumps(TRICKY, ensure_ascii=False, indent=1), encoding="utf-8")
    items = list(iter_records(p))
    assert values(items) == TRICKY and errors(items) == []


def test_offsets_point_at_each_record(tmp_path):
    p = tmp_path / "a.json"
    text = '[{"i": 0}, {"i": 1},\n {"i": 2}]'
    p.write_text(text)
    items = list(iter_records(p))
    assert [text.encode()[i.offset:].decode()[:8] for i in items] == ['{"i": 0}', '{"i": 1}', '{"i": 2}']


def test_truncated_array_keeps_complete_records_and_reports_tail_once(tmp_path):
    p = tmp_path / "t.json"
    full = json.dumps([{"i": k, "text": "x" * 50} for k in range(10)])
    p.write_text(full[: full.index('{"i": 7') + 20])
    items = list(iter_records(p))
    assert [v["i"] for v in values(items)] == list(range(7))
    errs = errors(items)
    assert len(errs) == 1 and errs[0].reason == "truncated" and errs[0].index == 7
    assert errs[0].offset == full.index('{"i": 7')


def test_invalid_utf8_rejects_only_that_record(tmp_path):
    p = tmp_path / "u.json"
    p.write_bytes(b'[{"a": "ok"}, {"a": "bad \xff\xfe here"}, {"a": "after"}]')
    items = list(iter_records(p))
    assert values(items) == [{"a": "ok"}, {"a": "after"}]
    (err,) = errors(items)
    assert err.reason == "invalid_utf8" and err.index == 1 and "byte" in err.detail


def test_oversized_records_are_skipped_not_held(tmp_path):
    big = "y" * 5000
    p = tmp_path / "big.json"
    p.write_text(json.dumps([{"a": 1}, {"a": big}, {"a": 3}]))
    items = list(iter_records(p, max_record_bytes=1024))
    assert values(items) == [{"a": 1}, {"a": 3}]
    assert [e.reason for e in errors(items)] == ["too_large"]
    q = tmp_path / "big.jsonl"
    q.write_text(json.dumps({"a": 1}) + "\n" + json.dumps({"a": big}) + "\n" + json.dumps({"a": 3}) + "\n")
    items = list(iter_records(q, max_record_bytes=1024))
    assert values(items) == [{"a": 1}, {"a": 3}]
    (err,) = errors(items)
    assert err.reason == "too_large" and err.index == 1 and err.offset == len(json.dumps({"a": 1})) + 1


def test_jsonl_bad_line_is_reported_with_line_and_offset(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": oops}\n\n{"a": 3}\n{"a": 4')
    items = list(iter_records(p))
    assert values(items) == [{"a": 1}, {"a": 3}]
    errs = errors(items)
    assert [(e.reason, e.index, e.offset) for e in errs] == [("invalid_json", 1, 9), ("truncated", 3, 31)]


def test_concatenated_objects_and_bom(tmp_path):
    p = tmp_path / "c.json"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2} {"a": 3}')
    assert values(iter_records(p)) == [{"a": 1}, {"a": 2}, {"a": 3}]


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"   \n", "whitespace"),
                                           (b"\xff\xfe[\x00", "UTF-16"), (b"hello", "not JSON")])
def test_unreadable_files_name_the_file(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=f"bad.json.*{match}|{match}"):
        list(iter_records(p))


def test_unclosed_array_is_reported(tmp_path):
    p = tmp_path / "o.json"
    p.write_text('[{"a": 1}, {"a": 2}')
    items = list(iter_records(p))
    assert values(items) == [{"a": 1}, {"a": 2}]
    assert [e.reason for e in errors(items)] == ["unclosed_array"]


def test_parquet_rows_stream(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"instruction": f"q{k}", "output": "a"} for k in range(2500)]), p,
                   row_group_size=1000)
    got = values(iter_records(p))
    assert len(got) == 2500 and got[-1] == {"instruction": "q2499", "output": "a"}
