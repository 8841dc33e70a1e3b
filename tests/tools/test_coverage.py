import networkx as nx

from tools.coverage import domain_entropy, find_gaps


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


def test_domain_entropy_is_zero_for_one_domain_and_log_n_for_an_even_spread():
    import math
    assert domain_entropy({"a": 10}) == 0.0 and domain_entropy({}) == 0.0
    assert abs(domain_entropy({"a": 5, "b": 5, "c": 5}) - math.log(3)) < 1e-9

