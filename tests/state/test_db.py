import sqlalchemy as sa

from state.db import Store


def test_wal_mode_and_round_bookkeeping(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    r1 = store.start_round("t1")
    r2 = store.start_round("t1")
    assert (r1, r2) == (1, 2)
    store.record_metrics(r2, {"a": 1.5, "b": 2})
    store.record_decision(r2, "node", "conversation:1", "keep", "because", {"x": [1, 2]})
    store.finish_round(r2, "done", {"ok": True})
    assert store.latest_metrics() == {"a": 1.5, "b": 2.0}
    assert store.last_thread_id() == "t1"
    with store.engine.connect() as conn:
        ev = conn.execute(sa.text("SELECT evidence FROM decisions")).scalar()
        assert '"x": [1, 2]' in ev
        assert conn.execute(sa.text("SELECT status FROM rounds WHERE number=2")).scalar() == "done"
