"""Finding the list of records inside a file that is one JSON object ({"data": [...]})."""
import json

import pytest

from tools.ingest_files import FileFormatError
from tools.ingest_wrapper import records_list, scan_top_object
from tools.jsonstream import RawRecord, iter_records


def chat(q):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "a"}]}


TRICKY = {"meta": {"note": "a } and a ] and \"data\": [1]", "n": [1, [2]]}, "title": "x \\\" ] }", "count": 3,
          "flag": True, "data": [chat("q ] } \\\" 中文"), chat("two")], "tail": None}


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_top_level_members_survive_any_chunk_boundary(tmp_path, chunk):
    p = tmp_path / "w.json"
    text = json.dumps(TRICKY, ensure_ascii=False, indent=2)
    p.write_text(text, encoding="utf-8")
    top = scan_top_object(p, chunk_size=chunk)
    assert [(m.key, m.kind) for m in top.members] == [("meta", "object"), ("title", "string"), ("count", "scalar"),
                                                       ("flag", "scalar"), ("data", "list"), ("tail", "scalar")]
    data = next(m for m in top.members if m.key == "data")
    assert text.encode()[data.offset:data.offset + 1] == b"[" and top.single


def test_the_records_under_a_known_key_stream_with_offsets_into_the_file(tmp_path):
    p = tmp_path / "export.json"
    text = json.dumps(TRICKY, ensure_ascii=False)
    p.write_text(text, encoding="utf-8")
    items = list(iter_records(p))
    assert [i.value for i in items] == TRICKY["data"]
    assert all(isinstance(i, RawRecord) for i in items)
    raw = text.encode()
    assert [json.loads(raw[i.offset:].decode()[:len(json.dumps(i.value, ensure_ascii=False))]) for i in items] \
        == TRICKY["data"]


def test_the_only_list_is_taken_and_several_unknown_lists_say_how_to_choose(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"info": {"v": 1}, "samples": [chat("a"), chat("b")]}))
    assert records_list(one).key == "samples"
    two = tmp_path / "two.json"
    two.write_text(json.dumps({"dev": [chat("a")], "eval": [chat("b"), chat("c")]}))
    with pytest.raises(FileFormatError, match=r"two.json: one JSON object with 2 lists \(dev, eval\).*--records-key"):
        records_list(two)
    assert [r.value for r in iter_records(two, records_key="eval")] == [chat("b"), chat("c")]
    with pytest.raises(FileFormatError, match=r"--records-key 'test' is not a key .*dev \(list\), eval \(list\)"):
        records_list(two, "test")


def test_a_record_is_not_taken_for_a_wrapper(tmp_path):
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"id": "x", "conversations": [{"from": "human", "value": "hi"},
                                                               {"from": "gpt", "value": "yo"}]}))
    assert records_list(single) is None
    assert len(list(iter_records(single))) == 1
    wrapped = tmp_path / "wrapped.json"
    records = [{"id": "x", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
    wrapped.write_text(json.dumps({"conversations": records}))
    assert [r.value for r in iter_records(wrapped)] == records
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps({"data": [1]}) + "\n" + json.dumps({"data": [2]}))
    assert records_list(seq) is None and len(list(iter_records(seq))) == 2  # concatenated values stay records


def test_a_truncated_wrapper_keeps_every_complete_record(tmp_path):
    p = tmp_path / "cut.json"
    p.write_text(json.dumps({"data": [chat("a"), chat("b"), chat("c")]})[:-30])
    items = list(iter_records(p))
    assert [i.value for i in items if isinstance(i, RawRecord)] == [chat("a"), chat("b")]
    assert [i.reason for i in items if not isinstance(i, RawRecord)] == ["truncated"]


def test_records_key_on_a_value_that_is_not_a_list_says_what_it_is(tmp_path):
    p = tmp_path / "w.json"
    p.write_text(json.dumps({"meta": {"n": 1}, "data": [chat("a")]}))
    with pytest.raises(FileFormatError, match=r"--records-key 'meta' names an object, not a list, in the top-level"):
        records_list(p, "meta")
