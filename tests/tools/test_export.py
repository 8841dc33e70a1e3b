import json

import pytest

from tests.conftest import write_jsonl
from tools.export import export, to_format
from tools.importer import Importer

MULTI = [{"role": "system", "content": "S"}, {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
         {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]


def test_formats_round_trip_structure():
    assert to_format(MULTI, "openai") == {"messages": MULTI}
    sg = to_format(MULTI, "sharegpt")["conversations"]
    assert [t["from"] for t in sg] == ["system", "human", "gpt", "human", "gpt"]
    al = to_format(MULTI, "alpaca")
    assert al == {"instruction": "q2", "input": "", "output": "a2", "system": "S", "history": [["q1", "a1"]]}


@pytest.mark.parametrize("fmt", ["sharegpt", "openai", "alpaca"])
@pytest.mark.parametrize("suffix,loader", [(".jsonl", "json"), (".parquet", "parquet")])
def test_export_loads_with_datasets(store, tmp_path, fmt, suffix, loader, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    src = write_jsonl(tmp_path / "p.jsonl", [{"messages": MULTI}, {"instruction": "只有一个", "output": "好"}])
    Importer(store, tmp_path / "r").ingest_file(src, "p")
    from state import decisions
    from state.decisions import Action, Node
    decisions.record_one(store, 1, Node.SEED_SELECTOR, "conversation:1", Action.SELECT, "long-tail", {})
    out = tmp_path / f"out{suffix}"
    assert export(store, fmt, out) == 2
    import datasets
    ds = datasets.load_dataset(loader, data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert ds.num_rows == 2
    meta = ds[0]["meta"]
    assert meta["source"] == "p" and meta["origin"] == "pool" and meta["selection_reasons"] == ["seed_selector:select"]
    assert ds[1]["meta"]["lang"] == "zh" and ds[1]["meta"]["tags"] == []


def test_export_filters_origin_and_rejects_bad_path(store, tmp_path):
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [{"messages": MULTI}]), "p")
    assert export(store, "openai", tmp_path / "e.jsonl", origins=["evolved"]) == 0
    with pytest.raises(ValueError, match="must end in .jsonl or .parquet"):
        export(store, "openai", tmp_path / "e.csv")
    with pytest.raises(ValueError, match="unknown export format"):
        export(store, "xml", tmp_path / "e.jsonl")
    line = json.loads((tmp_path / "e.jsonl").read_text() or "null")
    assert line is None
