import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import state.models  # noqa: F401 - registers the tables
import state.models_diagnosis  # noqa: F401
import state.models_map  # noqa: F401 - registers map_points
from state import migrations
from state.db import Store, make_engine


def test_head_schema_equals_models(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "schema_version")]
    assert diff == []


def test_version_1_store_upgrades_without_losing_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        migrations.upgrade(conn, target=1)
        conn.execute(sa.text(
            "INSERT INTO conversations (content_hash, messages, source, source_ref, lang, origin, round_created, "
            "n_turns, n_chars, created_at) VALUES ('h1', :m, 'old', 'f#0', 'en', 'pool', 0, 1, 5, '2026-01-01')"),
            {"m": json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])})
        conn.execute(sa.text("INSERT INTO decisions (round, node, subject, action, reason, evidence, created_at) "
                             "VALUES (1, 'ingest', 'file:x', 'ingest', '', '{}', '2026-01-01')"))
    assert migrations.current_version(engine.connect()) == 1
    store = Store(url)  # migrates to head
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.HEAD
        row = conn.execute(sa.text("SELECT content_hash, operation FROM conversations")).one()
        assert row == ("h1", "")
        assert conn.execute(sa.text("SELECT count(*) FROM decisions")).scalar() == 1
        assert sa.inspect(conn).has_table("llm_calls")


def test_newer_store_is_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    try:
        Store(store.url)
    except RuntimeError as exc:
        assert "newer" in str(exc)
    else:
        raise AssertionError("a store from a newer version must be refused")
