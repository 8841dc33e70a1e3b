import sqlalchemy as sa

from state.db import Store


def test_wal_mode_and_the_dialect_insert(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    from state.models import Domain
    rows = [dict(name="math", description="", round_created=1), dict(name="math", description="x", round_created=2)]
    store.insert_ignore(Domain.__table__, rows, ["name"])
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name, round_created FROM domains")).all() == [("math", 1)]
