"""What an export needs per conversation: the stored row, its canonical tag names, its domain and the actions of
the decisions about it, a page at a time."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

import sqlalchemy as sa

from state.conversations import rows_after
from state.db import Store
from state.decisions import actions_about
from state.models import ConversationTag, Domain, Tag


def _tags_and_domains(store: Store, ids: list[int]) -> tuple[dict[int, list[str]], dict[int, str]]:
    t, ct, d = Tag.__table__, ConversationTag.__table__, Domain.__table__
    canon = t.alias("canon")
    q = (sa.select(ct.c.conversation_id, canon.c.name, d.c.name.label("domain"))
         .select_from(ct.join(t, ct.c.tag_id == t.c.id)
                      .join(canon, canon.c.id == sa.func.coalesce(t.c.canonical_id, t.c.id))
                      .outerjoin(d, canon.c.domain_id == d.c.id))
         .where(ct.c.conversation_id.in_(ids)))
    tags: dict[int, list[str]] = defaultdict(list)
    votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with store.engine.connect() as conn:
        for cid, name, domain in conn.execute(q):
            if name not in tags[cid]:
                tags[cid].append(name)
            if domain:
                votes[cid][domain] += 1
    return tags, {cid: max(v, key=v.get) for cid, v in votes.items()}


def export_pages(store: Store, origins: list[str] | None = None, page: int = 2000, only: list[int] | None = None
                 ) -> Iterator[list[dict[str, Any]]]:
    """Pages of conversation rows, each with ``tags``, ``domain`` and ``reasons`` ("node:action") added; ``only``:
    sorted ids to export (the dataset), else every row."""
    last, k = 0, 0
    page = min(page, 900) if only is not None else page  # SQLite's bound-parameter limit for the IN list
    while True:
        if only is not None:
            if k >= len(only):
                return
            chunk, k = only[k:k + page], k + page
            rows = rows_after(store, 0, page, origins, chunk)
        else:
            rows = rows_after(store, last, page, origins)
        if not rows:
            if only is None:
                return
            continue
        last = rows[-1]["id"]
        ids = [r["id"] for r in rows]
        tags, domains = _tags_and_domains(store, ids)
        reasons: dict[int, list[str]] = defaultdict(list)
        for subject, node, action in actions_about(store, [f"conversation:{i}" for i in ids]):
            reasons[int(subject.split(":", 1)[1])].append(f"{node}:{action}")
        yield [dict(r, tags=tags.get(r["id"], []), domain=domains.get(r["id"], ""), reasons=reasons.get(r["id"], []))
               for r in rows]
