"""Compressed files read as streams, folders as the files inside them, default source names."""
import gzip
import json
from pathlib import Path

import pytest
import zstandard

from tools.ingest_files import (FileFormatError, expand_inputs, inner_suffix, named_files, open_binary,
                                source_name)
from tools.jsonstream import RawRecord, iter_records


def lines(n):
    return "".join(json.dumps({"i": k}) + "\n" for k in range(n)).encode()


@pytest.mark.parametrize("name,pack", [("p.jsonl.gz", gzip.compress), ("p.jsonl.zst",
                                                                        zstandard.ZstdCompressor().compress),
                                       ("p.json.gz", None), ("misnamed.jsonl", gzip.compress)])
def test_compressed_files_read_like_plain_ones(tmp_path, name, pack):
    p = tmp_path / name
    if pack is None:  # a JSON array inside gzip
        p.write_bytes(gzip.compress(json.dumps([{"i": k} for k in range(50)]).encode()))
    else:
        p.write_bytes(pack(lines(50)))
    got = [r.value for r in iter_records(p) if isinstance(r, RawRecord)]
    assert got == [{"i": k} for k in range(50)]


def test_a_compressed_stream_is_not_inflated_whole(tmp_path):
    import tracemalloc

    data = "".join(json.dumps({"i": k, "pad": "x" * 1000}) + "\n" for k in range(5000)).encode()  # 5 MB
    p = tmp_path / "big.jsonl.gz"
    p.write_bytes(gzip.compress(data))
    tracemalloc.start()
    n = sum(1 for r in iter_records(p) if isinstance(r, RawRecord))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 5000 and peak < len(data) / 3, (peak, len(data))


def test_names_and_suffixes():
    assert inner_suffix(Path("a/train.jsonl.gz")) == ".jsonl" and inner_suffix(Path("x.json.zst")) == ".json"
    assert source_name(Path("train.jsonl.gz")) == "train" and source_name(Path("pool.v2.json")) == "pool.v2"
    assert source_name(Path("README")) == "README"


def test_a_folder_stands_for_its_supported_files_in_name_order(tmp_path):
    d = tmp_path / "pool"
    (d / "sub").mkdir(parents=True)
    for name in ("b.jsonl.gz", "a.json", "c.parquet", "notes.txt", ".hidden.jsonl", "sub/d.jsonl"):
        (d / name).write_bytes(b"")
    assert [p.name for p in expand_inputs(d)] == ["a.json", "b.jsonl.gz", "c.parquet"]
    assert expand_inputs(d / "a.json") == [d / "a.json"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileFormatError, match=r"empty: a folder with no file to ingest.* \(it is empty\)"):
        expand_inputs(tmp_path / "empty")
    (d / "only").mkdir()
    (d / "only" / "notes.txt").write_text("x")
    with pytest.raises(FileFormatError, match=r"only: a folder with no file to ingest.*it holds: notes.txt"):
        expand_inputs(d / "only")



def test_named_files_gives_a_folder_one_source_per_file_unless_one_is_named(tmp_path):
    d = tmp_path / "pool"
    d.mkdir()
    for name in ("en.jsonl", "zh.json.gz"):
        (d / name).write_bytes(b"")
    assert named_files(d) == [(d / "en.jsonl", "en"), (d / "zh.json.gz", "zh")]
    assert named_files(d, "mine") == [(d / "en.jsonl", "mine"), (d / "zh.json.gz", "mine")]
    assert named_files(d / "en.jsonl") == [(d / "en.jsonl", "en")]
