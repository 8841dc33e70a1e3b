import networkx as nx
import sqlalchemy as sa

from agents.coverage_analyst import find_gaps, write_priorities


def hand_graph():
    g = nx.Graph()
    tags = {1: ("python", 50, "software"), 2: ("sql", 40, "software"), 3: ("debugging", 30, "software"),
            4: ("poetry", 2, "writing"), 5: ("calculus", 20, "math"), 6: ("origami", 1, "crafts")}
    for i, (name, f, dom) in tags.items():
        g.add_node(i, name=name, frequency=f, domain=dom, lang="en")
    g.add_edges_from([(1, 2), (1, 3), (2, 3), (3, 5), (1, 5), (4, 5)])
    g.add_node(6, name="origami", frequency=1, domain="crafts", lang="en")  # isolated
    return g


def test_thin_domains_and_long_tail_isolated_tags_are_found():
    shares = {"software": 100, "math": 40, "writing": 5, "crafts": 1, "other": 50}
    gaps = find_gaps(hand_graph(), shares, long_tail_q=0.34, thin_ratio=0.5, max_tags=10)
    domains = {g["key"]: g for g in gaps if g["kind"] == "domain"}
    assert set(domains) == {"writing", "crafts"}  # mean share of real domains = 36.5; "other" ignored
    assert domains["crafts"]["weight"] == 5.0 and domains["writing"]["weight"] > 1
    tags = [g for g in gaps if g["kind"] == "tag"]
    assert tags[0]["key"] == "origami" and tags[0]["weight"] == 3.0  # long-tail and low-degree first
    assert "poetry" in [t["key"] for t in tags]
    assert "python" not in [t["key"] for t in tags]
    assert all(g["evidence"] for g in gaps)


def test_priorities_never_overwrite_the_users(store):
    from app import save_priority
    save_priority(store, "domain", "writing", 0.2, "we do not want more poems")
    gaps = [dict(kind="domain", key="writing", weight=4.0, reason="thin", evidence={}),
            dict(kind="tag", key="origami", weight=3.0, reason="long-tail", evidence={})]
    assert write_priorities(store, gaps, 3) == 1
    assert write_priorities(store, gaps, 4) == 1  # the analyst's own rows are replaced each round
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, key, weight, set_by, round FROM steering ORDER BY kind")).all()
    assert [tuple(r) for r in rows] == [("domain", "writing", 0.2, "user", 0), ("tag", "origami", 3.0,
                                                                                 "coverage_analyst", 4)]
