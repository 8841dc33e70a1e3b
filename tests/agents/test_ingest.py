"""The ingest node: folders are expanded, an unreadable pool is a recorded skip, and a run with nothing to work on
stops naming the files."""
import gzip
import json

import pytest
import sqlalchemy as sa

from agents import ingest
from tests.conftest import chat, write_jsonl
from tools.jsonstream import FileFormatError


def run_node(res, pools):
    return ingest.node({"pools": pools, "db_round": 1}, {"configurable": {"iloop_config": res.config.model_dump_json()}})


def test_a_folder_pool_is_ingested_and_a_bad_pool_is_skipped_with_a_decision(res, tmp_path):
    folder = tmp_path / "pool"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [chat("first question"), chat("second question")])
    with gzip.open(folder / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(chat("third question")) + "\n")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    out = run_node(res, [str(folder), str(tmp_path / "empty.jsonl")])
    assert out["new_conversations"] == 3
    assert sorted(s["path"].rsplit("/", 1)[1] for s in out["ingested"]) == ["a.jsonl", "b.jsonl.gz"]
    with res.store.engine.connect() as conn:
        skips = conn.execute(sa.text("SELECT subject, reason FROM decisions WHERE node='ingest' "
                                     "AND action='skip_file'")).all()
    assert len(skips) == 1 and skips[0][0].endswith("empty.jsonl") and skips[0][1]


def test_a_run_whose_every_pool_is_unreadable_and_store_is_empty_stops_naming_them(res, tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(FileFormatError, match="none"):
        run_node(res, [str(tmp_path / "none")])
