"""embed: puts every conversation's instruction into Chroma (ids = content hash, so nothing is embedded twice).

The instruction is the first user turn: it is what the semantic map, leakage checks and ILA compare.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.models import Conversation
from state.vectors import collection_name


def instruction_text(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def conversation_collection(res) -> str:
    return collection_name("conversations", res.config.embedding.model)


def embed_all(res, page: int = 5000, progress=None) -> int:
    t = Conversation.__table__
    name, done, last_id = conversation_collection(res), 0, 0
    while True:
        with res.store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.id, t.c.content_hash, t.c.messages, t.c.lang, t.c.origin, t.c.source)
                                .where(t.c.id > last_id).order_by(t.c.id).limit(page)).all()
        if not rows:
            return done
        last_id = rows[-1].id
        have = res.vectors.existing_ids(name, [r.content_hash for r in rows])
        todo = [r for r in rows if r.content_hash not in have]
        if todo:
            texts = [instruction_text(json.loads(r.messages)) for r in todo]
            metas = [{"conversation_id": r.id, "lang": r.lang, "origin": r.origin, "source": r.source} for r in todo]
            done += res.embedder.encode_cached(res.vectors, name, [r.content_hash for r in todo], texts, metas,
                                               progress=progress)


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    from tqdm import tqdm

    res = resources(config)
    with res.store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(Conversation.__table__)).scalar() or 0
    pending = max(0, total - res.vectors.count(conversation_collection(res)))
    with tqdm(total=pending, desc="embed", unit="text", disable=pending == 0, mininterval=2) as bar:
        n = embed_all(res, progress=bar.update)
    res.store.record_decision(state.get("db_round", 0), "embed", f"collection:{conversation_collection(res)}",
                              "embed", f"embedded {n} new instructions", {"model": res.config.embedding.model,
                                                                          "embedded": n})
    return {"embedded": n}
