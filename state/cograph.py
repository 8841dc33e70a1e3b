"""The tag co-occurrence graph, built from SQL and saved per round (node-link JSON) so any round can be reloaded.

Nodes are canonical tags (attributes: name, lang, frequency, domain), noise tags excluded; an edge joins two tags
assigned to the same conversation, weighted by how many conversations they share, so a tag's degree is the number
of distinct tags it co-occurs with. Edges never cross languages: the tagger gives every conversation the same tags in
English and Chinese, so a mixed graph would link each tag to its own translation and to every tag of the other
list, roughly doubling degrees and making the exponent incomparable with the report's (one vocabulary) Figure 15.
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

NOISE = "noise"


def cooccurrence_from_store(store: Store, lang: str | None = "en") -> nx.Graph:
    """The graph of one language's canonical tags; ``lang=None``: every language, each its own graph side by side
    (one file for the coverage analyst, still no edge between languages)."""
    t, ct, d = Tag.__table__, ConversationTag.__table__, Domain.__table__
    c = t.alias("c")  # the canonical tag an assigned tag (itself or an alias) resolves to
    keep = [c.c.canonical_id.is_(None), c.c.status != NOISE] + ([c.c.lang == lang] if lang else [])
    with store.engine.connect() as conn:
        names = {row.id: row for row in conn.execute(
            sa.select(c.c.id, c.c.name, c.c.lang, d.c.name.label("domain"))
            .select_from(c.outerjoin(d, c.c.domain_id == d.c.id)).where(*keep))}
        per_conv: dict[tuple[int, str], set[int]] = defaultdict(set)
        for conv_id, tag_id, tag_lang in conn.execute(
                sa.select(ct.c.conversation_id, c.c.id, c.c.lang)
                .select_from(ct.join(t, ct.c.tag_id == t.c.id)
                             .join(c, c.c.id == sa.func.coalesce(t.c.canonical_id, t.c.id))).where(*keep)):
            per_conv[conv_id, tag_lang].add(tag_id)
    g = graph_from_assignments(per_conv.values(), {i: (r.name, r.lang, r.domain) for i, r in names.items()})
    g.graph["lang"] = lang or "all"
    return g


def degrees(g: nx.Graph, lang: str | None = None) -> list[int]:
    """Degrees (distinct co-occurring tags) of the nodes of one language, or of all."""
    return [deg for node, deg in g.degree() if lang is None or g.nodes[node].get("lang") == lang]


def graph_from_assignments(assignments, attrs: dict[int, tuple[str, str, str | None]] | None = None) -> nx.Graph:
    """The graph from per-conversation canonical tag sets (pure: the benchmark drives it directly)."""
    attrs = attrs or {}
    freq: Counter = Counter()
    edges: Counter = Counter()
    for tags in assignments:
        freq.update(tags)
        if len(tags) > 1:
            edges.update(combinations(sorted(tags), 2))
    g = nx.Graph()
    for tag_id, n in freq.items():
        name, lang, domain = attrs.get(tag_id, (str(tag_id), "", ""))
        g.add_node(tag_id, name=name, lang=lang, domain=domain or "", frequency=n)
    g.add_edges_from((a, b, {"weight": w}) for (a, b), w in edges.items())
    return g


def save_cooccurrence(g: nx.Graph, directory: Path, round_: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"cooccurrence-round{round_:04d}.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), ensure_ascii=False))
    return path


def load_cooccurrence(directory: Path, round_: int | None = None) -> nx.Graph:
    files = sorted(directory.glob("cooccurrence-round*.json"))
    if round_ is not None:
        files = [f for f in files if f.name == f"cooccurrence-round{round_:04d}.json"]
    if not files:
        raise FileNotFoundError(f"no saved co-occurrence graph in {directory}" +
                                (f" for round {round_}" if round_ is not None else ""))
    return nx.node_link_graph(json.loads(files[-1].read_text()), edges="edges")
