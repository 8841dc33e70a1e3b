"""Read-only views of the store for the console's Data page: paged conversation search, a conversation's lineage
and the map's points with their labels. Every query is paged or capped: a store of millions is never loaded whole.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Domain, Seed, Tag
from state.models_map import MapPoint


def first_user_text(messages: str, limit: int = 300) -> str:
    """The first user turn of a stored messages JSON, cut to ``limit`` characters ('' when it has none)."""
    try:
        turns = json.loads(messages)
    except (TypeError, ValueError):
        return ""
    text = next((m.get("content", "") for m in turns if isinstance(m, dict) and m.get("role") == "user"), "")
    return text if len(text) <= limit else text[:limit] + "…"


def _with_tag(t, name: str):
    """Conversations carrying a tag of this name, as itself or through an alias of it (noise excluded)."""
    ct, canon = ConversationTag.__table__, Tag.__table__.alias("canon")
    named = sa.select(canon.c.id).where(sa.func.lower(canon.c.name) == name.lower())
    return sa.select(ct.c.conversation_id).select_from(ct.join(t, ct.c.tag_id == t.c.id)).where(
        t.c.status != "noise", sa.func.coalesce(t.c.canonical_id, t.c.id).in_(named))


def _in_domain(t, name: str):
    """Conversations with at least one canonical tag mapped to this domain (through aliases too)."""
    ct, d, canon = ConversationTag.__table__, Domain.__table__, Tag.__table__.alias("canon")
    mapped = sa.select(canon.c.id).select_from(canon.join(d, canon.c.domain_id == d.c.id)).where(d.c.name == name)
    return sa.select(ct.c.conversation_id).select_from(ct.join(t, ct.c.tag_id == t.c.id)).where(
        t.c.status != "noise", sa.func.coalesce(t.c.canonical_id, t.c.id).in_(mapped))


def search_conversations(store: Store, text: str = "", tag: str = "", domain: str = "", origin: str = "",
                         round_: int | None = None, page: int = 0, page_size: int = 25
                         ) -> tuple[int, list[dict[str, Any]]]:
    """(matching conversations, one page newest first) by text in the messages, tag, domain, origin and the round
    that created them."""
    c, t = Conversation.__table__, Tag.__table__
    where = []
    if text:
        where.append(sa.func.lower(c.c.messages).like(f"%{text.lower()}%"))
    if tag:
        where.append(c.c.id.in_(_with_tag(t, tag)))
    if domain:
        where.append(c.c.id.in_(_in_domain(t, domain)))
    if origin:
        where.append(c.c.origin == origin)
    if round_ is not None:
        where.append(c.c.round_created == round_)
    cols = [c.c.id, c.c.origin, c.c.round_created, c.c.lang, c.c.source, c.c.operation, c.c.n_turns, c.c.parent_id,
            c.c.messages]
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(c).where(*where)).scalar() or 0
        rows = conn.execute(sa.select(*cols).where(*where).order_by(c.c.id.desc())
                            .offset(page * page_size).limit(page_size)).mappings().all()
    out = []
    for r in rows:
        row = dict(r)
        row["instruction"] = first_user_text(row.pop("messages"), 200)
        out.append(row)
    return total, out


def conversation(store: Store, conversation_id: int) -> dict[str, Any] | None:
    """One conversation whole, with its tags (canonical names) and seed status; None when it is not stored."""
    c, t, ct, s = Conversation.__table__, Tag.__table__, ConversationTag.__table__, Seed.__table__
    canon = t.alias("canon")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(c).where(c.c.id == conversation_id)).mappings().first()
        if row is None:
            return None
        tags = conn.execute(sa.select(canon.c.name, canon.c.lang).select_from(
            ct.join(t, ct.c.tag_id == t.c.id).join(canon, canon.c.id == sa.func.coalesce(t.c.canonical_id, t.c.id)))
            .where(ct.c.conversation_id == conversation_id, t.c.status != "noise").distinct()).all()
        seed = conn.execute(sa.select(s.c.round, s.c.criteria, s.c.status, s.c.evidence)
                            .where(s.c.conversation_id == conversation_id)).mappings().first()
    out = dict(row)
    out["messages"] = json.loads(out["messages"])
    out["tags"] = sorted(f"{n} ({lang})" for n, lang in tags)
    out["seed"] = dict(seed) if seed else None
    return out


def lineage(store: Store, conversation_id: int, depth: int = 8) -> dict[str, list[dict[str, Any]]]:
    """Ancestors (the pool item first) and descendants (breadth first, ``depth`` generations) of a conversation:
    pool -> seed -> evolved -> evolved again."""
    c = Conversation.__table__
    cols = [c.c.id, c.c.origin, c.c.round_created, c.c.operation, c.c.parent_id, c.c.messages]

    def brief(r) -> dict[str, Any]:
        d = dict(r)
        d["instruction"] = first_user_text(d.pop("messages"), 160)
        return d

    up, down = [], []
    with store.engine.connect() as conn:
        current = conn.execute(sa.select(*cols).where(c.c.id == conversation_id)).mappings().first()
        seen = {conversation_id}
        while current is not None and current["parent_id"] is not None and len(up) < depth:
            current = conn.execute(sa.select(*cols).where(c.c.id == current["parent_id"])).mappings().first()
            if current is None or current["id"] in seen:
                break
            seen.add(current["id"])
            up.append(brief(current))
        frontier = [conversation_id]
        for _ in range(depth):
            kids = conn.execute(sa.select(*cols).where(c.c.parent_id.in_(frontier)).order_by(c.c.id).limit(200)
                                ).mappings().all()
            kids = [k for k in kids if k["id"] not in seen]
            if not kids:
                break
            seen.update(k["id"] for k in kids)
            down += [brief(k) for k in kids]
            frontier = [k["id"] for k in kids]
    return {"ancestors": list(reversed(up)), "descendants": down}


def maps(store: Store) -> dict[str, int]:
    """Fitted maps and their placed points, most points first."""
    m = MapPoint.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(m.c.map_id, sa.func.count()).group_by(m.c.map_id)).all()
    return dict(sorted(((k, int(v)) for k, v in rows), key=lambda kv: -kv[1]))


def map_points(store: Store, map_id: str, limit: int = 5000, seed: int = 0) -> list[dict[str, Any]]:
    """Up to ``limit`` conversations placed on one map (generated ones always, the pool by a seeded sample), with
    origin, round and id; the caller labels domains (state.domains.primary_domains)."""
    m, c = MapPoint.__table__, Conversation.__table__
    base = sa.select(c.c.id, c.c.origin, c.c.round_created, m.c.x, m.c.y).select_from(
        m.join(c, c.c.content_hash == m.c.content_hash)).where(m.c.map_id == map_id)
    # a seeded, stable sample of the pool: order by a hash of the id (the reference set is drawn the same way)
    mixed = ((c.c.id * 2654435761 + seed) % 4294967291)
    with store.engine.connect() as conn:
        generated = conn.execute(base.where(c.c.origin != "pool").order_by(c.c.id.desc()).limit(limit)).mappings().all()
        pool = conn.execute(base.where(c.c.origin == "pool").order_by(mixed).limit(max(0, limit - len(generated)))
                            ).mappings().all()
    return [dict(r) for r in list(pool) + list(generated)]
