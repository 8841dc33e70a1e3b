import json

import pytest
import sqlalchemy as sa

from tests.conftest import chat, write_jsonl
from tools.importer import Importer
from tools.jsonstream import FileFormatError


def count(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM conversations")).scalar()


@pytest.fixture
def importer(store, tmp_path):
    return Importer(store, tmp_path / "reports", batch_size=3)


def test_dedup_within_and_across_files(importer, store, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [chat("q1"), chat("q2"), chat("q1"), chat("q3 ")])
    b = write_jsonl(tmp_path / "b.jsonl", [chat("q3"), chat("q4")])
    ra = importer.ingest_file(a)
    rb = importer.ingest_file(b)
    assert (ra.kept, ra.outcomes["duplicate"]) == (3, 1)
    assert (rb.kept, rb.outcomes["duplicate"]) == (1, 1)
    assert count(store) == 4
    with store.engine.connect() as conn:
        assert set(conn.execute(sa.text("SELECT source FROM conversations")).scalars()) == {"a", "b"}


def test_second_ingest_of_same_file_is_skipped_unless_forced(importer, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [chat("q1")])
    assert importer.ingest_file(a).kept == 1
    again = importer.ingest_file(a)
    assert again.skipped_file and again.records == 0
    forced = importer.ingest_file(a, force=True)
    assert forced.records == 1 and forced.outcomes["duplicate"] == 1


def test_malformed_inputs_report_file_record_offset_and_keep_stored_rows(importer, store, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [chat(f"keep {k}") for k in range(5)])
    importer.ingest_file(good)
    assert count(store) == 5
    bad = tmp_path / "bad.json"
    recs = [chat("ok 1"), {"weird": True}, chat("ok 2")]
    text = json.dumps(recs)
    bad.write_bytes(text.encode()[:-1].replace(b'"ok 2"', b'"ok \xff2"') + b', {"messages": [{"role": "us')
    r = importer.ingest_file(bad)
    assert r.kept == 1 and count(store) == 6
    assert r.outcomes["skip:wrong_schema"] == 1
    assert r.outcomes["error:invalid_utf8"] == 1 and r.outcomes["error:truncated"] == 1
    lines = [json.loads(x) for x in open(r.report, encoding="utf-8")]
    trunc = next(x for x in lines if x["outcome"] == "error:truncated")
    assert trunc["file"].endswith("bad.json") and trunc["record"] == 3 and trunc["byte_offset"] > 0
    utf = next(x for x in lines if x["outcome"] == "error:invalid_utf8")
    assert utf["record"] == 2 and "byte" in utf["detail"]


def test_empty_and_non_json_files_fail_clearly_without_touching_the_store(importer, store, tmp_path):
    importer.ingest_file(write_jsonl(tmp_path / "g.jsonl", [chat("x")]))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    with pytest.raises(FileFormatError, match="empty.json: file is empty"):
        importer.ingest_file(empty)
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="data.csv: not JSON"):
        importer.ingest_file(csv)
    assert count(store) == 1


def test_very_long_line_is_rejected_and_the_rest_kept(store, tmp_path):
    imp = Importer(store, tmp_path / "r", max_record_bytes=4096)
    p = tmp_path / "long.jsonl"
    p.write_text(json.dumps(chat("a")) + "\n" + json.dumps(chat("b" * 100_000)) + "\n" + json.dumps(chat("c")) + "\n")
    r = imp.ingest_file(p)
    assert r.kept == 2 and r.outcomes["error:too_large"] == 1


def test_wrong_schema_everywhere_keeps_nothing_and_says_why(importer, tmp_path):
    p = write_jsonl(tmp_path / "w.jsonl", [{"text": "a"}, {"prompt": "b"}])
    r = importer.ingest_file(p)
    assert r.kept == 0 and r.outcomes["skip:wrong_schema"] == 2
    assert "keys" in r.problems[0]["detail"]


def test_language_and_provenance_are_recorded(importer, store, tmp_path):
    p = write_jsonl(tmp_path / "mix.jsonl", [chat("What is a monad in Haskell?"), chat("什么是单子？请详细解释。")])
    importer.ingest_file(p, "mix")
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT lang, source, source_ref, origin FROM conversations ORDER BY id")).all()
    assert [r[0] for r in rows] == ["en", "zh"]
    assert rows[0][1:] == ("mix", "mix.jsonl#0", "pool")
