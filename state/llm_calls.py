"""The LLM response cache and the per-(round, role) token accounting."""
from __future__ import annotations

import json
from collections import Counter

import sqlalchemy as sa

from state.db import Store
from state.models import LLMCall, TokenUsage, utcnow

USAGE_FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "rejections", "repairs")


def cached_response(store: Store, key: str) -> str | None:
    t = LLMCall.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.response).where(t.c.key == key)).scalar()


def store_call(store: Store, key: str, role: str, model: str, messages: list[dict], text: str,
               usage: tuple[int, int], latency: float, round_: int) -> None:
    store.insert_ignore(LLMCall.__table__, [dict(
        key=key, role=role, model=model, request=json.dumps(messages, ensure_ascii=False), response=text,
        prompt_tokens=usage[0], completion_tokens=usage[1], latency_s=latency, round=round_, created_at=utcnow())],
        ["key"])


def account(store: Store, round_: int, role: str, **delta: int) -> None:
    """Add to the (round, role) counters; unknown counter names are an error."""
    unknown = set(delta) - set(USAGE_FIELDS)
    if unknown:
        raise ValueError(f"unknown token-usage counters {sorted(unknown)}")
    t = TokenUsage.__table__
    row = {f: delta.get(f, 0) for f in USAGE_FIELDS}
    stmt = store.insert(t).values(round=round_, role=role, **row)
    stmt = stmt.on_conflict_do_update(index_elements=["round", "role"],
                                      set_={f: t.c[f] + stmt.excluded[f] for f in USAGE_FIELDS})
    with store.engine.begin() as conn:
        conn.execute(stmt)


def tokens_by_role(store: Store) -> dict[str, dict[str, int]]:
    t = TokenUsage.__table__
    out: dict[str, Counter] = {}
    with store.engine.connect() as conn:
        for u in conn.execute(sa.select(t)).mappings():
            agg = out.setdefault(u["role"], Counter())
            for k in USAGE_FIELDS:
                agg[k] += u[k]
    return {role: dict(v) for role, v in sorted(out.items())}


def tokens_of_round(store: Store, round_: int) -> int:
    """Prompt + completion tokens of every LLM call made in one round (cache hits cost none)."""
    t = TokenUsage.__table__
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(t.c.prompt_tokens + t.c.completion_tokens), 0))
                                .where(t.c.round == round_)).scalar())


def usage_by_round(store: Store) -> dict[int, dict[str, dict[str, int]]]:
    """round -> role -> the usage counters of that round."""
    t = TokenUsage.__table__
    out: dict[int, dict[str, dict[str, int]]] = {}
    with store.engine.connect() as conn:
        for u in conn.execute(sa.select(t)).mappings():
            out.setdefault(u["round"], {})[u["role"]] = {k: u[k] for k in USAGE_FIELDS}
    return out
