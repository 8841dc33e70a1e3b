"""The Streamlit console, driven with Streamlit's app tester on a real store."""
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import chat, write_jsonl
from tools.importer import Importer


def test_console_shows_store_and_saves_a_priority(config, store, tmp_path, monkeypatch):
    monkeypatch.setenv("ILOOP_HOME", str(config.home))
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [chat("a"), chat("b")]), "p")
    from state import decisions, metrics, rounds
    from state.decisions import Action, Node
    n = rounds.start_round(store, "t")
    metrics.record_metrics(store, n, {"conversations_total": 2})
    decisions.record_one(store, n, Node.INGEST, "file:p.jsonl", Action.INGEST, "2 of 2 kept")
    from state.tags import link_tags, tag_ids
    ids = tag_ids(store, ["python programming", "debugging"], "en")
    link_tags(store, [(1, ids["python programming"]), (1, ids["debugging"]), (2, ids["debugging"])])
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO domains (name, description, round_created) VALUES ('software', 'code', 1)"))
        conn.execute(sa.text("UPDATE tags SET status='canonical', frequency=1, domain_id=1"))
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "instruct-loop console"
    table_text = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "software" in table_text and "python programming" in table_text
    assert [m.value for m in at.metric][:2] == ["2", "1"]
    form_kind = [s for s in at.selectbox if s.label == "kind"][0]
    form_kind.select("domain")
    [t for t in at.text_input if t.label.startswith("key")][0].input("mathematics")
    [s for s in at.slider if s.label == "weight"][0].set_value(2.5)
    at.button[0].click().run()
    assert not at.exception
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT kind, key, weight, set_by FROM steering")).one()
    assert tuple(row) == ("domain", "mathematics", 2.5, "user")
    # a misspelt criterion is refused on screen instead of silently steering nothing
    [s for s in at.selectbox if s.label == "kind"][0].select("criterion")
    [t for t in at.text_input if t.label.startswith("key")][0].input("hard-to-follow")
    at.button[0].click().run()
    assert any("unknown criterion" in e.value for e in at.error)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM steering")).scalar() == 1


def test_console_lists_seeds_with_their_criteria(config, store, tmp_path, monkeypatch):
    monkeypatch.setenv("ILOOP_HOME", str(config.home))
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [chat("Sort a list in SQL")]), "p")
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, "
                             "created_at) VALUES (1, 1, 'criteria', '[\"hard\", \"multi_skill\"]', "
                             "'{\"base_loss\": 2.5}', 'selected', '2026-11-23 00:00:00')"))
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not at.exception
    text = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "Sort a list in SQL" in text and "multi_skill" in text


def test_console_shows_evolutions_with_their_seed_and_leaks_and_checks_operation_keys(config, store, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setenv("ILOOP_HOME", str(config.home))
    Importer(store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "p.jsonl", [chat("Sort a list.")]), "p")
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO conversations (content_hash, messages, source, source_ref, lang, origin, "
                             "parent_id, round_created, n_turns, n_chars, operation, created_at) VALUES ('h2', :m, "
                             "'evolved', 'candidate:1', 'en', 'evolved', 1, 1, 1, 40, 'deepening', '2026-01-01')"),
                     {"m": '[{"role": "user", "content": "Sort a list with merge sort in O(n log n)."}, '
                           '{"role": "assistant", "content": "def ms(xs): ..."}]'})
        conn.execute(sa.text("INSERT INTO leaks (round, origin, source, content_hash, messages, turn, benchmark, "
                             "bench_ref, bench_text, similarity, ngram, llm_verdict, method, created_at) VALUES (1, "
                             "'pool', 'p', 'h9', '[]', 0, 'mt-bench', '81/t1', 'Compose a travel blog', 0.97, 0.9, '', "
                             "'semantic', '2026-01-01')"))
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not at.exception
    table_text = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "merge sort in O(n log n)" in table_text and "Sort a list." in table_text and "deepening" in table_text
    assert "Compose a travel blog" in table_text
    [s for s in at.selectbox if s.label == "kind"][0].select("operation")
    [t for t in at.text_input if t.label.startswith("key")][0].input("shorten")
    at.button[0].click().run()
    assert any("unknown operation" in e.value for e in at.error)


def test_console_shows_the_power_law_fit_of_the_english_graph(config, store, tmp_path, monkeypatch):
    import random

    monkeypatch.setenv("ILOOP_HOME", str(config.home))
    Importer(store, tmp_path / "r").ingest_file(
        write_jsonl(tmp_path / "p.jsonl", [chat(f"question {k}") for k in range(60)]), "p")
    from state.tags import link_tags, tag_ids
    names = [f"skill {k}" for k in range(40)]
    ids = tag_ids(store, names, "en")
    rng = random.Random(0)  # a hub-and-spoke graph: the first tags appear far more often
    link_tags(store, [(c, ids[n]) for c in range(1, 61)
                      for n in {names[min(int(rng.paretovariate(1.2)) - 1, 39)] for _ in range(4)}])
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tags SET status='canonical', frequency=1"))
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "degree power law (en tags): gamma" in text and "the data favour" in text
