"""begin_round on a home whose last round was killed: that round is closed as interrupted, with a decision."""
import json

import sqlalchemy as sa

from agents import begin_round
from state import decisions, rounds
from state.decisions import Action, Node
from state.models import Round


def test_the_next_start_closes_a_round_a_killed_run_left_running(res):
    store = res.store
    with store.engine.begin() as conn:  # what a `kill -9` during round 1 leaves: running, its process gone
        conn.execute(sa.insert(Round.__table__).values(number=1, thread_id="run-a", status="running",
                                                       summary=json.dumps({"pid": 2 ** 22 + 7, "host": "x"})))
    run_config = {"configurable": {"thread_id": "run-b", "iloop_config": res.config.model_dump_json()}}
    out = begin_round.node({}, run_config)
    assert out["db_round"] == 2
    assert [(r["number"], r["status"]) for r in rounds.all_rounds(store)] == [(1, "interrupted"), (2, "running")]
    (row,) = [d for d in decisions.recent(store, "begin_round") if d["action"] == Action.INTERRUPT.value]
    assert row["subject"] == "round:1" and row["round"] == 2 and "run-a" in row["reason"]
    assert decisions.count(store, Node.BEGIN_ROUND, Action.START) == 1
