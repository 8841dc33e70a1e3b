"""Export the dataset as ShareGPT, OpenAI or Alpaca records (JSONL or Parquet) with provenance metadata.

Every record carries ``meta``: id, source, origin, lang, round, parent id, operation, tags (canonical names),
domain and selection reasons (the actions of decisions about it). Files load with
``datasets.load_dataset("json" | "parquet", data_files=...)``. Parquet uses an explicit schema so empty lists and
missing values do not change column types between row groups.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Decision, Domain, Tag

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


def _tags_and_reasons(conn, ids: list[int]) -> tuple[dict, dict, dict]:
    t, ct, d, dec = Tag.__table__, ConversationTag.__table__, Domain.__table__, Decision.__table__
    canon = t.alias("canon")
    tags: dict[int, list[str]] = defaultdict(list)
    domains: dict[int, str] = {}
    q = (sa.select(ct.c.conversation_id, canon.c.name, d.c.name.label("domain"))
         .select_from(ct.join(t, ct.c.tag_id == t.c.id)
                      .join(canon, canon.c.id == sa.func.coalesce(t.c.canonical_id, t.c.id))
                      .outerjoin(d, canon.c.domain_id == d.c.id))
         .where(ct.c.conversation_id.in_(ids)))
    domain_votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cid, name, domain in conn.execute(q):
        if name not in tags[cid]:
            tags[cid].append(name)
        if domain:
            domain_votes[cid][domain] += 1
    for cid, votes in domain_votes.items():
        domains[cid] = max(votes, key=votes.get)
    reasons: dict[int, list[str]] = defaultdict(list)
    subjects = [f"conversation:{i}" for i in ids]
    for subject, action, node in conn.execute(sa.select(dec.c.subject, dec.c.action, dec.c.node)
                                              .where(dec.c.subject.in_(subjects))):
        reasons[int(subject.split(":", 1)[1])].append(f"{node}:{action}")
    return tags, domains, reasons


def iter_records(store: Store, fmt: str, origins: list[str] | None = None, page: int = 2000
                 ) -> Iterator[dict[str, Any]]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    c = Conversation.__table__
    last = 0
    while True:
        q = sa.select(c).where(c.c.id > last).order_by(c.c.id).limit(page)
        if origins:
            q = q.where(c.c.origin.in_(origins))
        with store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            if not rows:
                return
            tags, domains, reasons = _tags_and_reasons(conn, [r["id"] for r in rows])
        last = rows[-1]["id"]
        for r in rows:
            rec = to_format(json.loads(r["messages"]), fmt)
            rec["meta"] = {"id": r["id"], "source": r["source"], "origin": r["origin"], "lang": r["lang"],
                           "round": r["round_created"], "parent_id": r["parent_id"], "operation": r["operation"],
                           "tags": tags.get(r["id"], []), "domain": domains.get(r["id"], ""),
                           "selection_reasons": reasons.get(r["id"], [])}
            yield rec


def _arrow_schema(fmt: str):
    import pyarrow as pa

    meta = pa.struct([("id", pa.int64()), ("source", pa.string()), ("origin", pa.string()), ("lang", pa.string()),
                      ("round", pa.int64()), ("parent_id", pa.int64()), ("operation", pa.string()),
                      ("tags", pa.list_(pa.string())), ("domain", pa.string()),
                      ("selection_reasons", pa.list_(pa.string()))])
    if fmt == "openai":
        fields = [("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))]
    elif fmt == "sharegpt":
        fields = [("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))]
    else:
        fields = [("instruction", pa.string()), ("input", pa.string()), ("output", pa.string()),
                  ("system", pa.string()), ("history", pa.list_(pa.list_(pa.string())))]
    return pa.schema(fields + [("meta", meta)])


def export(store: Store, fmt: str, out: Path, origins: list[str] | None = None, batch: int = 2000) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _arrow_schema(fmt)
        with pq.ParquetWriter(tmp, schema) as writer:
            buf: list[dict] = []
            for rec in iter_records(store, fmt, origins):
                buf.append(rec)
                if len(buf) >= batch:
                    writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                    n, buf = n + len(buf), []
            if buf:
                writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                n += len(buf)
    elif out.suffix in (".jsonl", ".json"):
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in iter_records(store, fmt, origins):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
    else:
        raise ValueError(f"{out}: export path must end in .jsonl or .parquet")
    tmp.replace(out)
    return n
