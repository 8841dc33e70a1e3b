"""Rounds, metrics, token usage and ingest bookkeeping on a real SQLite file."""
import pytest

from state import ingested_files, llm_calls, metrics, rounds


def test_rounds_number_across_threads_and_close_with_a_summary(store):
    assert rounds.start_round(store, "t1") == 1 and rounds.start_round(store, "t2") == 2
    rounds.finish_round(store, 1, "done", {"seeds": 3})
    rows = rounds.all_rounds(store)
    assert [(r["number"], r["status"]) for r in rows] == [(1, "done"), (2, "running")]
    assert rounds.last_thread_id(store) == "t2"


def test_latest_metrics_are_those_of_the_last_round(store):
    metrics.record_metrics(store, 1, {"graph_nodes": 5, "powerlaw_gamma": 2.1})
    metrics.record_metrics(store, 2, {"conversations_total": 9})
    assert metrics.latest_metrics(store) == {"conversations_total": 9.0}
    assert metrics.latest_of(store, ("graph_nodes", "powerlaw_gamma"), "graph_nodes") == \
        {"round": 1, "graph_nodes": 5.0, "powerlaw_gamma": 2.1}


def test_token_usage_accumulates_per_round_and_role(store):
    llm_calls.account(store, 1, "tagger", calls=1, prompt_tokens=10)
    llm_calls.account(store, 1, "tagger", calls=1, cache_hits=1)
    llm_calls.account(store, 2, "tagger", calls=1, repairs=1)
    assert llm_calls.tokens_by_role(store)["tagger"] == {"calls": 3, "cache_hits": 1, "prompt_tokens": 10,
                                                         "completion_tokens": 0, "rejections": 0, "repairs": 1}
    with pytest.raises(ValueError, match="unknown token-usage"):
        llm_calls.account(store, 1, "tagger", tokens=1)
    llm_calls.store_call(store, "k", "tagger", "m", [{"role": "user", "content": "x"}], "reply", (1, 2), 0.1, 1)
    llm_calls.store_call(store, "k", "tagger", "m", [], "other", (0, 0), 0.0, 1)  # first reply kept
    assert llm_calls.cached_response(store, "k") == "reply" and llm_calls.cached_response(store, "none") is None


def test_a_forced_reread_replaces_the_file_bookkeeping(store):
    assert not ingested_files.already_ingested(store, "fp", "pool")
    ingested_files.record_file(store, "/a.jsonl", "pool", "fp", 10, 8, {"kept": 8, "duplicate": 2}, 1)
    ingested_files.record_file(store, "/a.jsonl", "pool", "fp", 10, 0, {"duplicate": 10}, 2)
    assert ingested_files.already_ingested(store, "fp", "pool")
    assert ingested_files.figures(store) == {"files": 1, "records": 10, "kept": 0, "outcomes": {"duplicate": 10}}


def test_a_round_left_running_by_a_killed_process_is_interrupted_at_the_next_start(store):
    import json
    import subprocess
    import sys

    import sqlalchemy as sa

    from state import decisions
    from state.decisions import Action, Node
    from state.models import Round

    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()  # its pid is gone: the process that opened round 1 "was killed"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        t = Round.__table__
        host = rounds.socket.gethostname()
        with store.engine.begin() as conn:  # round 1 opened by the dead process, round 2 by a live one
            for number, thread, pid in ((1, "loop", killed.pid), (2, "other", alive.pid)):
                conn.execute(sa.insert(t).values(number=number, thread_id=thread, status="running",
                                                 summary=json.dumps({"pid": pid, "host": host})))
        assert rounds.start_round(store, "next") == 3
        status = {r["number"]: r["status"] for r in rounds.all_rounds(store)}
        assert status == {1: "interrupted", 2: "running", 3: "running"}
        assert decisions.count(store, Node.BEGIN_ROUND, Action.INTERRUPT) == 1
        (ev,) = decisions.evidence_of(store, Node.BEGIN_ROUND, Action.INTERRUPT)
        assert ev["thread_id"] == "loop" and ev["owner"]["pid"] == killed.pid
    finally:
        alive.kill()
        alive.wait()
    rounds.start_round(store, "after")  # now round 2's process is gone too; round 3 is this process's own
    status = {r["number"]: r["status"] for r in rounds.all_rounds(store)}
    assert status == {1: "interrupted", 2: "interrupted", 3: "interrupted", 4: "running"}
    assert decisions.count(store, Node.BEGIN_ROUND, Action.INTERRUPT) == 3


def test_a_loop_round_opened_again_by_a_resumed_thread_is_the_same_round(store):
    from state.metrics import by_round, record_metrics
    first, reopened = rounds.open_round(store, "t", 1)
    assert not reopened
    again, reopened = rounds.open_round(store, "t", 1)  # begin_round re-run after a kill, before its checkpoint
    assert (again, reopened) == (first, True)
    assert rounds.open_round(store, "t", 2)[0] == first + 1 and rounds.open_round(store, "other", 1)[0] == first + 2
    record_metrics(store, first, {"a": 1.0, "b": 2.0})
    record_metrics(store, first, {"a": 3.0})  # a node's metrics written again replace, never duplicate
    assert by_round(store, ("a", "b"))[first] == {"a": 3.0, "b": 2.0}
