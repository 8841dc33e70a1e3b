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
    assert export(store, fmt, out, everything=True) == 2
    import datasets
    ds = datasets.load_dataset(loader, data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert ds.num_rows == 2
    meta = ds[0]["meta"]
    assert meta["source"] == "p" and meta["origin"] == "pool" and meta["selection_reasons"] == ["seed_selector:select"]
    assert ds[1]["meta"]["lang"] == "zh" and ds[1]["meta"]["tags"] == [] and meta["generation"] == 0


def test_the_default_export_is_the_dataset_seeds_and_generations_without_held_out_items(store, tmp_path):
    from state.conversations import NewConversation, add_conversations
    from state.dataset import dataset_parts, generations
    from state.seeds import NewSeed, add_seeds, set_status

    conv = lambda text, **kw: NewConversation([{"role": "user", "content": text}, {"role": "assistant",
                                                                                 "content": "a"}], f"h-{text}", "t",
                                              "en", **kw)
    ids = add_conversations(store, [conv(f"pool {k}") for k in range(4)])
    p0, p1, p2, _ = (ids[f"h-pool {k}"] for k in range(4))
    add_seeds(store, [NewSeed(p0, 1, "criteria", ["hard"], {}), NewSeed(p1, 1, "criteria", ["hard"], {}),
                      NewSeed(p2, 1, "criteria", ["hard"], {})])
    set_status(store, {3: ("held_out", None)})  # p2's seed became a diagnosis item
    g1 = add_conversations(store, [conv("evolved 1", origin="evolved", parent_id=p0, round_created=1)])["h-evolved 1"]
    g2 = add_conversations(store, [conv("evolved 2", origin="evolved", parent_id=g1, round_created=2)])["h-evolved 2"]
    add_seeds(store, [NewSeed(g1, 2, "criteria", ["hard"], {})])  # an evolution picked as a seed again
    s = add_conversations(store, [conv("synth", origin="synthesized", round_created=2)])["h-synth"]
    assert generations(store) == {g1: 1, g2: 2, s: 1}
    assert dataset_parts(store) == ([p0, p1], [g1, g2, s])  # g1 counts once, as generated
    out = tmp_path / "d.jsonl"
    assert export(store, "openai", out) == 5
    rows = [json.loads(x)["meta"] for x in out.read_text().splitlines()]
    assert [(r["id"], r["generation"]) for r in rows] == [(p0, 0), (p1, 0), (g1, 1), (g2, 2), (s, 1)]
    assert export(store, "openai", out, everything=True) == 7
    assert export(store, "openai", out, origins=["evolved"]) == 2


def test_export_filters_origin_and_rejects_bad_path(store, tmp_path):
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [{"messages": MULTI}]), "p")
    assert export(store, "openai", tmp_path / "e.jsonl", origins=["evolved"]) == 0
    with pytest.raises(ValueError, match="must end in .jsonl or .parquet"):
        export(store, "openai", tmp_path / "e.csv")
    with pytest.raises(ValueError, match="unknown export format"):
        export(store, "xml", tmp_path / "e.jsonl")
    line = json.loads((tmp_path / "e.jsonl").read_text() or "null")
    assert line is None
