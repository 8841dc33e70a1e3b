"""The tag co-occurrence graph, built from SQL and saved per round (node-link JSON) so any round can be reloaded.

Nodes are canonical tags (attributes: name, lang, frequency, domain); an edge joins two tags assigned to the same
conversation, weighted by how many conversations they share.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import networkx as nx
import sqlalchemy as sa

from state.db import Store
from state.models import ConversationTag, Domain, Tag


def build_graph(store: Store) -> nx.Graph:
    t, ct, d = Tag.__table__, ConversationTag.__table__, Domain.__table__
    canon = sa.func.coalesce(t.c.canonical_id, t.c.id)
    g = nx.Graph()
    with store.engine.connect() as conn:
        names = {row.id: row for row in conn.execute(
            sa.select(t.c.id, t.c.name, t.c.lang, d.c.name.label("domain"))
            .select_from(t.outerjoin(d, t.c.domain_id == d.c.id)).where(t.c.canonical_id.is_(None)))}
        per_conv: dict[int, set[int]] = defaultdict(set)
        for conv_id, tag_id in conn.execute(sa.select(ct.c.conversation_id, canon.label("c"))
                                            .select_from(ct.join(t, ct.c.tag_id == t.c.id))):
            per_conv[conv_id].add(tag_id)
    freq: Counter = Counter()
    edges: Counter = Counter()
    for tags in per_conv.values():
        freq.update(tags)
        edges.update(combinations(sorted(tags), 2))
    for tag_id, n in freq.items():
        row = names.get(tag_id)
        g.add_node(tag_id, name=row.name if row else str(tag_id), lang=row.lang if row else "",
                   domain=(row.domain if row else None) or "", frequency=n)
    for (a, b), w in edges.items():
        g.add_edge(a, b, weight=w)
    return g


def save_graph(g: nx.Graph, directory: Path, round_: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"cooccurrence-round{round_:04d}.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), ensure_ascii=False))
    return path


def load_graph(directory: Path, round_: int | None = None) -> nx.Graph:
    files = sorted(directory.glob("cooccurrence-round*.json"))
    if round_ is not None:
        files = [f for f in files if f.name == f"cooccurrence-round{round_:04d}.json"]
    if not files:
        raise FileNotFoundError(f"no saved co-occurrence graph in {directory}" +
                                (f" for round {round_}" if round_ is not None else ""))
    return nx.node_link_graph(json.loads(files[-1].read_text()), edges="edges")
