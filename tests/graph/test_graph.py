"""The LangGraph state machine on a real SQLite store, real Chroma and the real MiniLM."""
import sqlalchemy as sa

from agents import embed as embed_agent
from graph.builder import build_graph, compile_with_checkpointer
from tests.conftest import chat, write_jsonl


def run_config(res, thread="t1"):
    return {"configurable": {"thread_id": thread, "iloop_config": res.config.model_dump_json()}}


def test_loop_ingests_embeds_measures_then_plateaus(res, tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", [chat(f"Explain topic number {k} in detail") for k in range(25)])
    graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
    out = graph.invoke({"pools": [str(pool)]}, run_config(res))
    assert out["round"] == 2 and out["stop_reason"] == "plateau"  # round 2 found nothing new
    assert [h["growth"] for h in out["history"]][1] == 0.0
    assert out["metrics"]["conversations_total"] == 25 and out["metrics"]["embedded_total"] == 25
    with res.store.engine.connect() as conn:
        nodes = dict(conn.execute(sa.text("SELECT node, count(*) FROM decisions GROUP BY node")).all())
        assert nodes == {"begin_round": 2, "ingest": 2, "embed": 2, "finish": 1}
        assert conn.execute(sa.text("SELECT count(DISTINCT round) FROM metrics")).scalar() == 2


def test_max_rounds_stops_the_loop(res, tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", [chat("one")])
    cfg = res.config.model_copy(update={"max_rounds": 1})
    graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
    from graph.context import Resources, register
    r1 = Resources(cfg)
    register(r1)
    out = graph.invoke({"pools": [str(pool)]}, run_config(r1))
    assert out["round"] == 1 and out["stop_reason"] == "max_rounds"


def test_resume_continues_from_the_checkpoint_after_a_crash(res, tmp_path, monkeypatch):
    pool = write_jsonl(tmp_path / "pool.jsonl", [chat(f"question {k}") for k in range(5)])
    calls = {"ingest": 0}
    from agents import ingest as ingest_agent
    real_ingest, real_embed = ingest_agent.node, embed_agent.node

    def counting_ingest(state, config):
        calls["ingest"] += 1
        return real_ingest(state, config)

    def crashing_embed(state, config):
        raise RuntimeError("power cut")

    monkeypatch.setattr(ingest_agent, "node", counting_ingest)
    monkeypatch.setattr(embed_agent, "node", crashing_embed)
    ck = tmp_path / "ck.sqlite"
    try:
        build_graph  # the graph is built at compile time, after the patch
        compile_with_checkpointer(ck).invoke({"pools": [str(pool)]}, run_config(res, "crash"))
    except RuntimeError as exc:
        assert "power cut" in str(exc)
    else:
        raise AssertionError("the patched embed node should have failed")
    monkeypatch.setattr(embed_agent, "node", real_embed)
    graph = compile_with_checkpointer(ck)  # a new process would do the same
    out = graph.invoke(None, run_config(res, "crash"))
    assert calls["ingest"] == 2  # round 1 before the crash, round 2 after resume; round 1 not redone
    assert out["metrics"]["embedded_total"] == 5 and out["stop_reason"] == "plateau"
