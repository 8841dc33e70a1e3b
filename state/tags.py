"""Tags: raw names, conversation links, en/zh alignment counts, and what the normaliser reads and rewrites."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from state.db import Store
from state.models import Conversation, ConversationTag, Tag, TagAlignment, TagMerge, utcnow


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


def tag_info(store: Store) -> dict[int, tuple[str, str]]:
    """tag id -> (name, lang) of every tag."""
    t = Tag.__table__
    with store.engine.connect() as conn:
        return {i: (n, lang) for i, n, lang in conn.execute(sa.select(t.c.id, t.c.name, t.c.lang))}


def tagged_count(store: Store) -> int:
    """Conversations with at least one tag."""
    ct = ConversationTag.__table__
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count(sa.distinct(ct.c.conversation_id)))).scalar() or 0


# ---- what the normaliser reads and writes ---------------------------------------------------------------------
@dataclass
class TagRow:
    id: int
    name: str
    status: str
    canonical_id: int | None


def tags_of_language(store: Store, lang: str) -> tuple[list[TagRow], list[tuple[int, int]]]:
    """Every tag of one language in id order, and its (conversation id, tag id) links."""
    t, ct = Tag.__table__, ConversationTag.__table__
    with store.engine.connect() as conn:
        tags = [TagRow(*r) for r in conn.execute(sa.select(t.c.id, t.c.name, t.c.status, t.c.canonical_id)
                                                 .where(t.c.lang == lang).order_by(t.c.id))]
        links = [tuple(r) for r in conn.execute(sa.select(ct.c.conversation_id, ct.c.tag_id)
                                                .select_from(ct.join(t, ct.c.tag_id == t.c.id)).where(t.c.lang == lang))]
    return tags, links


def alignment_partners(store: Store, zh_ids: list[int]) -> list[tuple[int, int, int]]:
    """(English canonical id, Chinese raw id, count) for the given Chinese tags, English aliases resolved."""
    t, a = Tag.__table__, TagAlignment.__table__
    with store.engine.connect() as conn:
        canon = {i: c or i for i, c in conn.execute(sa.select(t.c.id, t.c.canonical_id))}
        rows = conn.execute(sa.select(a.c.en_tag_id, a.c.zh_tag_id, a.c.count).where(a.c.zh_tag_id.in_(zh_ids))).all()
    return [(canon.get(en, en), zh, n) for en, zh, n in rows]


@dataclass
class TagUpdate:
    tag_id: int
    canonical_id: int | None  # None: canonical itself
    status: str  # canonical | alias | noise
    frequency: int
    round_merged: int | None = None  # set only when the tag's canonical pointer changed now


@dataclass
class TagMergeRow:
    round: int
    from_tag_id: int
    to_tag_id: int
    method: str  # threshold | dbscan | alignment
    similarity: float


def rewrite_tags(store: Store, updates: list[TagUpdate], merges: list[TagMergeRow]) -> None:
    """Write a normalisation pass: canonical pointers, status, frequency, and the new merges' history."""
    t = Tag.__table__
    cols = dict(canonical_id=sa.bindparam("canonical_id"), status=sa.bindparam("status"),
                frequency=sa.bindparam("frequency"))
    keep = [dict(b_id=u.tag_id, canonical_id=u.canonical_id, status=u.status, frequency=u.frequency)
            for u in updates if u.round_merged is None]
    moved = [dict(b_id=u.tag_id, canonical_id=u.canonical_id, status=u.status, frequency=u.frequency,
                  round_merged=u.round_merged) for u in updates if u.round_merged is not None]
    now = utcnow()
    with store.engine.begin() as conn:
        if keep:
            conn.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(**cols), keep)
        if moved:
            conn.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
                **cols, round_merged=sa.bindparam("round_merged")), moved)
        if merges:
            conn.execute(sa.insert(TagMerge.__table__), [dict(vars(m), created_at=now) for m in merges])


def recent_merges(store: Store, limit: int = 50) -> list[dict]:
    """The newest merges that hold now: alias name, canonical name, language, method, similarity, round.

    tag_merges keeps every merge ever made; a re-normalisation can undo one (the alias is canonical again) or
    re-point it, and records a merge it repeats again. Only a merge whose alias still points at its target is
    shown, once (its newest record), so the list never holds more rows than there are aliases."""
    t, m = Tag.__table__, TagMerge.__table__
    src, dst = t.alias("src"), t.alias("dst")
    newest = sa.select(sa.func.max(m.c.id)).group_by(m.c.from_tag_id, m.c.to_tag_id).scalar_subquery()
    with store.engine.connect() as conn:
        return [dict(x) for x in conn.execute(
            sa.select(src.c.name.label("alias"), dst.c.name.label("canonical"), src.c.lang, m.c.method,
                      m.c.similarity, m.c.round)
            .select_from(m.join(src, m.c.from_tag_id == src.c.id).join(dst, m.c.to_tag_id == dst.c.id))
            .where(src.c.status == "alias", src.c.canonical_id == m.c.to_tag_id, m.c.id.in_(newest))
            .order_by(m.c.id.desc()).limit(limit)).mappings()]


def status_counts(store: Store) -> dict[tuple[str, str], int]:
    """(lang, status) -> number of tags."""
    t = Tag.__table__
    with store.engine.connect() as conn:
        return {(lang, st): n for lang, st, n in conn.execute(
            sa.select(t.c.lang, t.c.status, sa.func.count()).group_by(t.c.lang, t.c.status))}
