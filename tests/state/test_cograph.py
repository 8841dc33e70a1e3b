from state.cograph import cooccurrence_from_store, load_cooccurrence, save_cooccurrence
from state.models import Conversation, ConversationTag, Domain, Tag


def seed(store):
    with store.session() as s:
        d = Domain(name="programming", description="code")
        s.add(d)
        s.flush()
        tags = {n: Tag(name=n, lang="en", domain_id=d.id) for n in ("python", "sorting", "recursion")}
        for t in tags.values():
            s.add(t)
        s.flush()
        alias = Tag(name="python programming", lang="en", canonical_id=tags["python"].id)
        s.add(alias)
        s.flush()
        convs = [Conversation(content_hash=f"h{k}", messages="[]", source="t", lang="en") for k in range(3)]
        for c in convs:
            s.add(c)
        s.flush()
        links = [(0, "python"), (0, "sorting"), (1, "python"), (1, "recursion"), (2, "sorting")]
        for k, name in links:
            s.add(ConversationTag(conversation_id=convs[k].id, tag_id=tags[name].id))
        # an alias assigned to conversation 2 counts for its canonical tag
        s.add(ConversationTag(conversation_id=convs[2].id, tag_id=alias.id))
        s.commit()
        return {n: t.id for n, t in tags.items()}


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
