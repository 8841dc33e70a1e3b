"""Export the dataset as ShareGPT, OpenAI or Alpaca records (JSONL or Parquet) with provenance metadata.

The dataset is what the loop built (state/dataset.py): its seeds, less diagnosis items, plus the accepted
evolutions and admitted syntheses; ``everything`` exports the whole store instead, unselected pool included.
Every record carries ``meta``: id, source, origin, lang, round, parent id, operation, generation (0 for a pool
conversation, k for an evolution k steps from the pool), tags (canonical names),
domain and selection reasons (the actions of decisions about it). Files load with
``datasets.load_dataset("json" | "parquet", data_files=...)``. Parquet uses an explicit schema so empty lists and
missing values do not change column types between row groups.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from state.dataset import dataset_ids, generations
from state.db import Store
from state.export_rows import export_pages

FORMATS = ("sharegpt", "openai", "alpaca")
_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt", "system": "system"}


def to_format(messages: list[dict[str, str]], fmt: str) -> dict[str, Any]:
    if fmt == "openai":
        return {"messages": messages}
    if fmt == "sharegpt":
        return {"conversations": [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in messages]}
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    pairs = [[turns[k]["content"], turns[k + 1]["content"]] for k in range(0, len(turns) - 1, 2)]
    last = pairs.pop()
    return {"instruction": last[0], "input": "", "output": last[1], "system": system, "history": pairs}


def iter_records(store: Store, fmt: str, origins: list[str] | None = None, page: int = 2000,
                 everything: bool = False) -> Iterator[dict[str, Any]]:
    """The dataset's records (seeds, accepted evolutions, admitted syntheses), or with ``everything`` every stored
    conversation, the unselected pool included."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    gen = generations(store)
    for rows in export_pages(store, origins, page, None if everything else dataset_ids(store)):
        for r in rows:
            rec = to_format(json.loads(r["messages"]), fmt)
            rec["meta"] = {"id": r["id"], "source": r["source"], "origin": r["origin"], "lang": r["lang"],
                           "round": r["round_created"], "parent_id": r["parent_id"], "operation": r["operation"],
                           "generation": gen.get(r["id"], 0), "tags": r["tags"], "domain": r["domain"], "selection_reasons": r["reasons"]}
            yield rec


def _arrow_schema(fmt: str):
    import pyarrow as pa

    meta = pa.struct([("id", pa.int64()), ("source", pa.string()), ("origin", pa.string()), ("lang", pa.string()),
                      ("round", pa.int64()), ("parent_id", pa.int64()), ("operation", pa.string()),
                      ("generation", pa.int64()), ("tags", pa.list_(pa.string())), ("domain", pa.string()),
                      ("selection_reasons", pa.list_(pa.string()))])
    if fmt == "openai":
        fields = [("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))]
    elif fmt == "sharegpt":
        fields = [("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))]
    else:
        fields = [("instruction", pa.string()), ("input", pa.string()), ("output", pa.string()),
                  ("system", pa.string()), ("history", pa.list_(pa.list_(pa.string())))]
    return pa.schema(fields + [("meta", meta)])


def export(store: Store, fmt: str, out: Path, origins: list[str] | None = None, batch: int = 2000,
           everything: bool = False) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _arrow_schema(fmt)
        with pq.ParquetWriter(tmp, schema) as writer:
            buf: list[dict] = []
            for rec in iter_records(store, fmt, origins, everything=everything):
                buf.append(rec)
                if len(buf) >= batch:
                    writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                    n, buf = n + len(buf), []
            if buf:
                writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                n += len(buf)
    elif out.suffix in (".jsonl", ".json"):
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in iter_records(store, fmt, origins, everything=everything):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
    else:
        raise ValueError(f"{out}: export path must end in .jsonl or .parquet")
    tmp.replace(out)
    return n
