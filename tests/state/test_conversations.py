"""The conversations repository on a real SQLite file: the one insert path, pages, removal."""
import sqlalchemy as sa

from state import conversations, seeds
from state.conversations import NewConversation
from state.seeds import NewSeed
from state.tags import link_tags, tag_ids


def conv(text: str, **kw) -> NewConversation:
    msgs = [{"role": "user", "content": text}, {"role": "assistant", "content": "an answer"}]
    return NewConversation(messages=msgs, content_hash=f"h-{text}", source="t", lang="en", **kw)


def test_one_insert_path_counts_turns_and_skips_stored_or_repeated_content(store):
    ids = conversations.add_conversations(store, [conv("a"), conv("b"), conv("a")])
    assert set(ids) == {"h-a", "h-b"}
    again = conversations.add_conversations(store, [conv("b"), conv("c", origin="evolved", parent_id=ids["h-a"])])
    assert set(again) == {"h-c"} and conversations.count(store) == 3
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT n_turns, n_chars, origin, parent_id FROM conversations WHERE id = :i"),
                           {"i": again["h-c"]}).one()
    assert tuple(row) == (1, len("c") + len("an answer"), "evolved", ids["h-a"])


def test_a_batch_costs_a_fixed_number_of_statements_not_one_per_item(store):
    # the stored-hash lookup once ran inside a comprehension, once per item: a 1,000-row ingest batch sent 2,000
    # SELECTs of 1,000 hashes each (the ShareGPT import spent 64% of its time there)
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    conversations.add_conversations(store, [conv(str(k)) for k in range(50)])
    first = len(statements)
    conversations.add_conversations(store, [conv(str(k)) for k in range(25, 400)])
    assert conversations.count(store) == 400
    assert first <= 4 and len(statements) - first <= 4


def test_pages_cover_every_row_once_and_honour_a_condition(store):
    conversations.add_conversations(store, [conv(str(k)) for k in range(7)])
    seen = [c.id for page in conversations.pages(store, page=3) for c in page]
    assert seen == sorted(seen) and len(seen) == 7
    from state.models import Conversation
    odd = [c.id for p in conversations.pages(store, 2, where=Conversation.__table__.c.id % 2 == 1) for c in p]
    assert odd == [i for i in seen if i % 2]
    loaded = conversations.load(store, seen[:2])
    assert loaded[seen[0]].messages[0]["content"] == "0" and loaded[seen[0]].lang == "en"


def test_delete_takes_links_and_seed_rows_and_orphans_children(store):
    ids = conversations.add_conversations(store, [conv("parent")])
    child = conversations.add_conversations(store, [conv("child", parent_id=ids["h-parent"])])
    pid = ids["h-parent"]
    link_tags(store, [(pid, t) for t in tag_ids(store, ["python"], "en").values()])
    seeds.add_seeds(store, [NewSeed(pid, 1, "criteria", ["hard"])])
    conversations.delete_conversations(store, [pid])
    with store.engine.connect() as conn:
        left = [conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in ("conversation_tags", "seeds")]
        parent = conn.execute(sa.text("SELECT parent_id FROM conversations WHERE id = :i"), {"i": child["h-child"]})
        assert left == [0, 0] and parent.scalar() is None
