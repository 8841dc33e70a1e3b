"""Tag rows and their links: small SQL helpers shared by the tagger, the normaliser and the analyst."""
from __future__ import annotations

import random
from collections import defaultdict

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Tag, TagAlignment, utcnow


def tag_ids(store: Store, names: list[str], lang: str) -> dict[str, int]:
    """Ids of raw tag names, creating the missing ones (status 'raw' until the normaliser sees them)."""
    t = Tag.__table__
    unique = sorted(set(names))
    store.insert_ignore(t, [dict(name=n, lang=lang, frequency=0, status="raw", created_at=utcnow())
                              for n in unique], ["name", "lang"])
    with store.engine.connect() as conn:
        return {n: i for i, n in conn.execute(sa.select(t.c.id, t.c.name).where(t.c.lang == lang,
                                                                                t.c.name.in_(unique)))}


def link_tags(store: Store, pairs: list[tuple[int, int]]) -> None:
    store.insert_ignore(ConversationTag.__table__, [dict(conversation_id=c, tag_id=t) for c, t in set(pairs)],
                        ["conversation_id", "tag_id"])


def untagged_ids(store: Store, limit: int = 0, seed: int = 0, origins: list[str] | None = None) -> list[int]:
    """Conversations without any tag link; a seeded random sample when limit > 0 (representative frequencies)."""
    c, ct = Conversation.__table__, ConversationTag.__table__
    q = sa.select(c.c.id).where(~sa.exists().where(ct.c.conversation_id == c.c.id))
    if origins:
        q = q.where(c.c.origin.in_(origins))
    with store.engine.connect() as conn:
        ids = list(conn.execute(q.order_by(c.c.id)).scalars())
    if limit and len(ids) > limit:
        ids = sorted(random.Random(seed).sample(ids, limit))
    return ids


def canonical_tags_of(store: Store, conversation_ids: list[int] | None = None) -> dict[int, set[int]]:
    """conversation id -> canonical tag ids (aliases resolved, noise excluded)."""
    t, ct = Tag.__table__, ConversationTag.__table__
    canon = sa.func.coalesce(t.c.canonical_id, t.c.id)
    q = sa.select(ct.c.conversation_id, canon).select_from(ct.join(t, ct.c.tag_id == t.c.id))
    if conversation_ids is not None:
        q = q.where(ct.c.conversation_id.in_(conversation_ids))
    out: dict[int, set[int]] = defaultdict(set)
    with store.engine.connect() as conn:
        status = dict(conn.execute(sa.select(t.c.id, t.c.status)).all())
        for cid, tid in conn.execute(q):
            if status.get(tid) != "noise":
                out[cid].add(tid)
    return out


def add_alignments(store: Store, pairs: list[tuple[int, int]]) -> None:
    """Count (English raw tag, Chinese raw tag) pairs (the tagger passes positional pairs of parallel lists)."""
    if not pairs:
        return
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for pair in pairs:
        counts[pair] += 1
    table = TagAlignment.__table__
    stmt = store.insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=["en_tag_id", "zh_tag_id"],
                                      set_={"count": table.c.count + stmt.excluded.count})
    with store.engine.begin() as conn:
        conn.execute(stmt, [dict(en_tag_id=a, zh_tag_id=b, count=n) for (a, b), n in counts.items()])


def canonical_alignment(store: Store) -> dict[tuple[int, int], int]:
    """(English canonical id, Chinese canonical id) -> count, aliases resolved."""
    t, a = Tag.__table__, TagAlignment.__table__
    with store.engine.connect() as conn:
        canon = {i: c or i for i, c in conn.execute(sa.select(t.c.id, t.c.canonical_id))}
        out: dict[tuple[int, int], int] = defaultdict(int)
        for en, zh, n in conn.execute(sa.select(a.c.en_tag_id, a.c.zh_tag_id, a.c.count)):
            out[(canon.get(en, en), canon.get(zh, zh))] += n
    return dict(out)
