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


def test_every_skip_kind_keeps_a_sample_with_what_was_expected_and_found(importer, tmp_path):
    tool = {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]}
    recs = [{"text": f"t{k}", "prompt": "p"} for k in range(30)] + [tool, {"messages": [{"content": "hi"}]}]
    r = importer.ingest_file(write_jsonl(tmp_path / "w.jsonl", recs + [chat("fine")]))
    assert set(r.samples) == {"skip:wrong_schema", "skip:unknown_role"}
    wrong = r.samples["skip:wrong_schema"]
    assert wrong["record"] == 0 and "expected a 'conversations' (ShareGPT), 'messages' (OpenAI)" in wrong["detail"]
    assert "found keys [prompt, text]" in wrong["detail"]
    assert r.samples["skip:unknown_role"]["record"] == 30 and "'tool'" in r.samples["skip:unknown_role"]["detail"]
    assert sum(r.outcomes.values()) == r.records == 33  # still one outcome per record


def test_a_file_with_no_conversation_is_not_fingerprinted_so_it_can_be_read_again(importer, tmp_path):
    p = write_jsonl(tmp_path / "w.jsonl", [{"text": "a"}])
    first = importer.ingest_file(p)
    assert first.conversations == 0 and first.outcomes["skip:wrong_schema"] == 1
    again = importer.ingest_file(p)
    assert not again.skipped_file and again.records == 1


def test_records_wrapped_in_an_object_are_found_and_named(importer, store, tmp_path):
    p = tmp_path / "export.json"
    p.write_text(json.dumps({"version": "1.0", "data": [chat("w1"), chat("w2"), chat("w3")]}))
    r = importer.ingest_file(p)
    assert r.kept == 3 and r.records == 3 and "'data'" in r.layout and count(store) == 3
    q = tmp_path / "splits.json"
    q.write_text(json.dumps({"dev": [chat("d1")], "eval": [chat("e1"), chat("e2")]}))
    with pytest.raises(FileFormatError, match="--records-key"):
        importer.ingest_file(q)
    assert importer.ingest_file(q, records_key="eval").kept == 2 and count(store) == 5


@pytest.mark.parametrize("name,content", [("empty.parquet", None), ("empty.json", b"[]"),
                                          ("empty-wrapped.json", b'{"data": []}')])
def test_a_file_without_records_fails_whatever_its_container(importer, store, tmp_path, name, content):
    importer.ingest_file(write_jsonl(tmp_path / "g.jsonl", [chat("x")]))
    p = tmp_path / name
    if content is None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.table({"messages": pa.array([], type=pa.list_(pa.struct([("role", pa.string()),
                                                                                  ("content", pa.string())])))}), p)
    else:
        p.write_bytes(content)
    with pytest.raises(FileFormatError, match=f"{name}: (file is empty|no records in)"):
        importer.ingest_file(p)
    assert count(store) == 1


def test_compressed_files_and_folders(importer, store, tmp_path):
    import gzip

    p = tmp_path / "pool.jsonl.gz"
    p.write_bytes(gzip.compress(b"".join(json.dumps(chat(f"z{k}")).encode() + b"\n" for k in range(4))))
    r = importer.ingest_file(p)
    assert (r.kept, r.source) == (4, "pool")
    with pytest.raises(FileFormatError, match="is a folder"):
        importer.ingest_file(tmp_path)


def test_max_records_reads_a_files_head_and_a_full_read_later_takes_the_rest(store, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [chat(f"q{i}") for i in range(7)])
    head = Importer(store, tmp_path / "r", batch_size=2, max_records=3).ingest_file(a)
    assert (head.records, head.kept, head.stopped_at) == (3, 3, 3)
    assert count(store) == 3
    assert Importer(store, tmp_path / "r", max_records=3).ingest_file(a).skipped_file  # same limit: already read
    full = Importer(store, tmp_path / "r").ingest_file(a)
    assert not full.skipped_file and (full.records, full.kept, full.outcomes["duplicate"]) == (7, 4, 3)
    assert full.stopped_at == 0 and count(store) == 7
