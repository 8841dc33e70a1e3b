from state.cograph import cooccurrence_from_store, degrees, load_cooccurrence, save_cooccurrence
from state.models import Conversation, ConversationTag, Domain, Tag


def link(s, tags: dict, links: list[tuple[int, str]], prefix: str) -> None:
    """Conversations 0..n numbered in ``links`` (conversation, tag name), added to session ``s``."""
    convs = [Conversation(content_hash=f"{prefix}{k}", messages="[]", source="t", lang="en")
             for k in range(1 + max(k for k, _ in links))]
    s.add_all(convs)
    s.flush()
    s.add_all([ConversationTag(conversation_id=convs[k].id, tag_id=tags[name].id) for k, name in links])


def seed(store):
    with store.session() as s:
        d = Domain(name="programming", description="code")
        s.add(d)
        s.flush()
        tags = {n: Tag(name=n, lang="en", domain_id=d.id) for n in ("python", "sorting", "recursion")}
        s.add_all(tags.values())
        s.flush()
        # an alias assigned to conversation 2 counts for its canonical tag
        tags["python programming"] = Tag(name="python programming", lang="en", canonical_id=tags["python"].id)
        s.add(tags["python programming"])
        s.flush()
        link(s, tags, [(0, "python"), (0, "sorting"), (1, "python"), (1, "recursion"), (2, "sorting"),
                       (2, "python programming")], "h")
        s.commit()
        return {n: t.id for n, t in tags.items() if n != "python programming"}


def test_graph_from_sql_counts_canonical_cooccurrence(store, tmp_path):
    ids = seed(store)
    g = cooccurrence_from_store(store)
    assert g.nodes[ids["python"]]["frequency"] == 3 and g.nodes[ids["python"]]["domain"] == "programming"
    assert g[ids["python"]][ids["sorting"]]["weight"] == 2
    assert g.has_edge(ids["python"], ids["recursion"]) and not g.has_edge(ids["sorting"], ids["recursion"])
    path = save_cooccurrence(g, tmp_path / "graphs", 4)
    assert path.name == "cooccurrence-round0004.json"
    back = load_cooccurrence(tmp_path / "graphs", 4)
    assert sorted(back.edges(data="weight")) == sorted(g.edges(data="weight"))
    assert back.nodes[ids["sorting"]]["name"] == "sorting"


def bilingual(store):
    """Three conversations tagged in both languages, as the tagger does; one rare Chinese tag is noise."""
    with store.session() as s:
        names = {("python", "en"): "canonical", ("sorting", "en"): "canonical", ("recursion", "en"): "canonical",
                 ("Python编程", "zh"): "canonical", ("排序", "zh"): "canonical", ("递归", "zh"): "canonical",
                 ("冷门", "zh"): "noise"}
        tags = {n: Tag(name=n, lang=lang, status=st) for (n, lang), st in names.items()}
        s.add_all(tags.values())
        s.flush()
        links = {0: ["python", "sorting", "Python编程", "排序", "冷门"], 1: ["python", "recursion", "Python编程", "递归"],
                 2: ["sorting", "排序"]}
        link(s, tags, [(k, n) for k, ns in links.items() for n in ns], "b")
        s.commit()
        return {n: t.id for n, t in tags.items()}


def test_the_graph_is_one_languages_noise_excluded(store):
    ids = bilingual(store)
    en = cooccurrence_from_store(store)  # English by default
    assert {en.nodes[n]["name"] for n in en.nodes} == {"python", "sorting", "recursion"}
    # degree = distinct co-occurring tags of the same language: python meets sorting and recursion, nothing else
    # (a mixed graph gave it 5: its translation and every Chinese tag of its conversations)
    assert dict(en.degree()) == {ids["python"]: 2, ids["sorting"]: 1, ids["recursion"]: 1}
    zh = cooccurrence_from_store(store, "zh")
    assert ids["冷门"] not in zh and dict(zh.degree()) == {ids["Python编程"]: 2, ids["排序"]: 1, ids["递归"]: 1}


def test_all_languages_side_by_side_never_link_across(store):
    ids = bilingual(store)
    both = cooccurrence_from_store(store, lang=None)
    assert both.number_of_nodes() == 6 and both.number_of_edges() == 4
    assert all(both.nodes[a]["lang"] == both.nodes[b]["lang"] for a, b in both.edges)
    assert sorted(degrees(both, "en")) == sorted(dict(cooccurrence_from_store(store).degree()).values()) == [1, 1, 2]
    assert both.graph["lang"] == "all" and not both.has_edge(ids["python"], ids["Python编程"])
