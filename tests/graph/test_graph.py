"""The LangGraph state machine on a real SQLite store, real Chroma and the real MiniLM.

The LLM roles point at a scripted OpenAI-compatible server here (the real packaged models are exercised in
tests/agents/test_tagger_real.py); the graph, SQL, Chroma and embeddings are all real.
"""
import json

import pytest
import sqlalchemy as sa

from agents import embed as embed_agent
from graph.builder import compile_with_checkpointer
from settings import ROLES
from agents.resources import Resources, register
from tests.conftest import chat, write_jsonl
from tests.fakes import ScriptedOpenAI
from tests.graph.scripted import fake_llm, pool_file


@pytest.fixture
def llm_res(config):
    with ScriptedOpenAI(responder=fake_llm) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "tagging": config.tagging.model_copy(update={"batch_size": 5})})  # several batches per round
        r = Resources(cfg)
        register(r)
        yield r


def run_config(res, thread="t1"):
    return {"configurable": {"thread_id": thread, "iloop_config": res.config.model_dump_json()}}


def test_loop_ingests_guards_tags_selects_evolves_then_plateaus(llm_res, tmp_path):
    res = Resources(llm_res.config.model_copy(update={"measure": llm_res.config.measure.model_copy(
        update={"patience": 1})}))
    register(res)
    pool = pool_file(tmp_path)
    graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
    out = graph.invoke({"pools": [str(pool)]}, run_config(res))
    # round 1's dataset (a seed and its longer evolution) is rated harder than a random pair of pool items, so the
    # loop goes on; round 2 added no seed (the hard-to-follow quota is a total, already held by round 1's seed)
    # and generated nothing: no figure grew, so it plateaued, with the figures in a decision
    assert out["round"] == 2 and out["stop_reason"] == "plateau"
    first, second = (h["growth_figures"] for h in out["history"])
    assert first["difficulty_mean"] > 0.01 and set(second.values()) == {0.0}
    assert {"entropy", "occupied_cells", "tag_share", "depth_mean", "difficulty_mean"} <= set(second)
    m = out["metrics"]
    assert m["dataset_size"] == 2 == m["reference_size"] and m["new_items_size"] == 0
    assert m["dataset_difficulty_mean"] > m["reference_difficulty_mean"] and m["generation_max"] == 1
    assert m["dataset_depth_scored"] == 1.0 and m["pool_size"] == 24 and m["pool_occupied_cells"] >= 2
    from state.stats import collect
    measured = collect(res.store)["measure"]
    assert [r["round"] for r in measured["rounds"]] == [1, 2] and measured["rounds"][1]["dataset"]["size"] == 2
    nodes = measured["rounds"][0]["nodes"]  # every node timed; the tagger's LLM calls counted under it
    assert len(nodes) == 15 and nodes["tagger"]["tokens"] > 0 and nodes["embed"]["tokens"] == 0
    assert measured["last_decision"]["action"] == "stop" and "0.01" in measured["last_decision"]["reason"]
    # the report reads the same figures: the comparison table and every plot
    from tools.report import write_report
    page = write_report(res.store, res.vectors, res.conversations, res.config, tmp_path / "report")
    text = page.read_text()
    assert "random reference" in text and "<b>stop</b>" in text and "by node" in text
    for png in ("rounds", "map", "domains", "degrees", "counts"):
        assert (tmp_path / "report" / f"{png}.png").stat().st_size > 5000 and f"{png}.png" in text
    assert m["conversations_total"] == 25 and m["embedded_total"] == 25 and m["conversations_tagged"] == 25
    assert m["origin_evolved"] == 1 and m["domains"] == 4 and m["graph_nodes"] == m["tags_canonical"]
    with res.store.engine.connect() as conn:
        nodes = dict(conn.execute(sa.text("SELECT node, count(*) FROM decisions GROUP BY node")).all())
        assert nodes["ingest"] == 2 and nodes["tagger"] == 2 and nodes["taxonomist"] >= 3
        assert nodes["coverage_analyst"] >= 1 and nodes["finish"] == 1
        steer = conn.execute(sa.text("SELECT count(*) FROM steering WHERE set_by='coverage_analyst'")).scalar()
        zh_domain = conn.execute(sa.text("SELECT d.name FROM tags t JOIN domains d ON d.id = t.domain_id "
                                         "WHERE t.name = '烹饪'")).scalar()
        actions = dict(conn.execute(sa.text("SELECT action, count(*) FROM decisions WHERE node='seed_selector' "
                                            "GROUP BY action")).all())
        criteria = [json.loads(c) for c in conn.execute(sa.text("SELECT criteria FROM seeds")).scalars()]
        seed_rounds = list(conn.execute(sa.text("SELECT round FROM seeds")).scalars())
        losses = dict(conn.execute(sa.text("SELECT model_key LIKE '%lora-%', count(*) FROM loss_scores "
                                           "GROUP BY 1")).all())
        leaks = conn.execute(sa.text("SELECT benchmark, method, origin, count(*) FROM leaks GROUP BY 1, 2, 3")).all()
        child = conn.execute(sa.text("SELECT c.messages, c.operation, c.parent_id, s.status, p.messages FROM "
                                     "conversations c JOIN conversations p ON p.id = c.parent_id JOIN seeds s ON "
                                     "s.conversation_id = p.id WHERE c.origin = 'evolved'")).one()
        evolver = dict(conn.execute(sa.text("SELECT action, count(*) FROM decisions WHERE node='evolver' "
                                            "GROUP BY action")).all())
    assert steer >= 1 and zh_domain == "home and food"
    assert (res.config.home / "graphs" / "cooccurrence-round0001.json").exists()
    # the planted benchmark prompts were removed before tagging, with a report
    assert [(b, o, n) for b, _, o, n in leaks] == [("alpaca-eval", "pool", 6)]
    assert {method for _, method, _, _ in leaks} <= {"semantic", "ngram"}
    assert "history of Walt Disney" in (res.config.home / "reports" / "leakage-round0001.jsonl").read_text()
    # the seed selector scored the 24 clean pool items and the evolved one with the base model and M_FT, trained
    # M_FT once and chose the hard-to-follow seed the scaled quota allows
    assert m["scored_total"] == 25 and losses == {0: 25, 1: 25}
    assert actions["finetune"] == 1 and actions["select_seed"] == len(criteria) >= 1
    assert ["hard"] in criteria and all(set(c) <= {"hard", "long_tail", "multi_skill", "undertrained"}
                                        for c in criteria)
    # the seed became a dialogue with lineage; round 2's re-evolution of it was rejected with a reason
    messages, operation, parent, seed_status, parent_messages = child
    messages, parent_messages = json.loads(messages), json.loads(parent_messages)
    assert seed_status == "evolved" and operation in ("breadth", "reasoning", "concretizing", "deepening")
    assert messages[0]["content"].startswith(parent_messages[0]["content"]) and messages[1]["role"] == "assistant"
    # the accepted item and round 1's summary; round 2 had no seed to evolve
    assert evolver == {"evolve": 2} and len(criteria) == actions["select_seed"]
    assert seed_rounds and set(seed_rounds) == {1}


def test_two_rounds_diagnose_synthesize_and_fill_the_ledger(llm_res, tmp_path):
    """The oracle diagnoser and targeted synthesizer in the loop: round 1 holds out a diagnosis sample before
    evolution, M_FT (SmolLM2 fine-tuned on the dataset) answers it, the oracle's skills become ledger rows and
    synthesized items with lineage; round 2 re-trains M_FT on the dataset that now holds them and measures the
    skills again on a fresh sample."""
    cfg = llm_res.config.model_copy(update={
        "max_rounds": 2,
        "selection": llm_res.config.selection.model_copy(update={"hard_count": 12}),
        "evolution": llm_res.config.evolution.model_copy(update={"max_per_round": 1, "turn_weights": [1, 0, 0, 0]}),
        "diagnosis": llm_res.config.diagnosis.model_copy(update={"sample_size": 3, "answer_max_tokens": 16}),
        "synthesis": llm_res.config.synthesis.model_copy(update={"per_skill": 1.0, "max_per_round": 2})})
    res = Resources(cfg)
    register(res)
    graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
    out = graph.invoke({"pools": [str(pool_file(tmp_path, leaks=0))]}, run_config(res, "diag"))
    assert out["round"] == 2
    from tools.ledger import build_ledger
    with res.store.engine.connect() as conn:
        items = conn.execute(sa.text("SELECT d.round, s.status FROM diagnosis_items d JOIN seeds s ON s.id = d.seed_id"
                                     )).all()
        evolved_parents = set(conn.execute(sa.text("SELECT parent_id FROM conversations WHERE origin='evolved'"
                                                   )).scalars())
        held = set(conn.execute(sa.text("SELECT conversation_id FROM diagnosis_items")).scalars())
        synth = conn.execute(sa.text("SELECT c.origin, c.operation, y.finding_ids, k.name FROM syntheses y JOIN "
                                     "candidates d ON d.id = y.candidate_id JOIN conversations c ON "
                                     "c.id = d.conversation_id JOIN skills k ON k.id = y.skill_id")).all()
        adapters = conn.execute(sa.text("SELECT round, count(DISTINCT adapter) FROM findings GROUP BY round")).all()
        tagged_synth = conn.execute(sa.text("SELECT count(DISTINCT t.conversation_id) FROM conversation_tags t JOIN "
                                            "conversations c ON c.id = t.conversation_id WHERE c.origin = "
                                            "'synthesized'")).scalar()
    # three fresh items a round, held out (never evolved), none of them a parent of an evolution
    assert sorted(r for r, _ in items) == [1, 1, 1, 2, 2, 2] and {st for _, st in items} == {"held_out"}
    assert not held & evolved_parents
    # two synthesized dialogues a round, linked to their skill and findings, tagged in the round that made them
    assert len(synth) == 4 and {(o, op) for o, op, _, _ in synth} == {("synthesized", "targeted")}
    assert all(json.loads(f) for _, _, f, _ in synth) and tagged_synth == 4
    ledger = build_ledger(res.store, res.config.home)
    assert [r["findings"] for r in ledger["rounds"]] == [3, 3] and len(adapters) == 2
    # round 1's two admitted items are in round 2's M_FT (its card's train_ids), credited to their skills
    assert sum(s["items_before_after"] for s in ledger["skills"] if s["first_round"] == 1) == 2
    # round 2's M_FT is not round 1's: it trained on the synthesized items, so round 2 is the "after"
    assert ledger["rounds"][0]["adapters"] != ledger["rounds"][1]["adapters"]
    top = ledger["skills"][0]
    assert top["first_round"] == 1 and top["rate_before"] == 1.0 and top["after_round"] == 2
    assert top["rate_after"] == 1.0 and top["change"] == 0.0 and top["diagnosed"] == 6
    assert sum(s["items"]["admitted"] for s in ledger["skills"]) == 4
    assert out["metrics"]["diagnosis_items"] == 3 and out["metrics"]["synthesis_staged"] == 2
    # the M_FT that answered round 2 never trained on a diagnosis item, not even round 1's
    from tools.finetune import latest_adapter
    card = latest_adapter(res.config.home, "diagnosis").card
    assert card["extra_conversations"] >= 4 and not set(card["train_ids"]) & held
    # a resumed round (here: the same round asked again) reports what it stored, asking nothing
    from tools.diagnose import diagnose_round
    from tools.synthesize import synthesize_round
    again = diagnose_round(res.store, res.assets, res.text_space("tags"), res.config, 2)
    assert again["resumed"] and again["items"] == 3 and again["deficient"] == 3
    assert synthesize_round(res.store, res.embedder, res.config, 2)["staged"] == 2
    # and the nodes themselves, resumed after the kill, give the round's metrics again
    from agents import oracle_diagnoser, targeted_synthesizer
    resumed = oracle_diagnoser.node({"db_round": 2}, run_config(res, "diag"))["diagnosis"]["metrics"]
    assert resumed["diagnosis_items"] == 3 and resumed["diagnosis_answer_tokens_per_s"] > 0
    assert targeted_synthesizer.node({"db_round": 2}, run_config(res, "diag"))["synthesis"]["metrics"][
        "synthesis_staged"] == 2


def test_max_rounds_stops_the_loop(llm_res, tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", [chat("one")])
    cfg = llm_res.config.model_copy(update={"max_rounds": 1})
    graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
    r1 = Resources(cfg)
    register(r1)
    out = graph.invoke({"pools": [str(pool)]}, run_config(r1))
    assert out["round"] == 1 and out["stop_reason"] == "max_rounds"


def test_resume_continues_from_the_checkpoint_after_a_crash(llm_res, tmp_path, monkeypatch):
    res = llm_res
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
        compile_with_checkpointer(ck).invoke({"pools": [str(pool)]}, run_config(res, "crash"))
    except RuntimeError as exc:
        assert "power cut" in str(exc)
    else:
        raise AssertionError("the patched embed node should have failed")
    monkeypatch.setattr(embed_agent, "node", real_embed)
    graph = compile_with_checkpointer(ck)  # a new process would do the same
    out = graph.invoke(None, run_config(res, "crash"))
    # ingest ran once in round 1 before the crash and once per later round after the resume: round 1 not redone
    assert calls["ingest"] == out["round"] >= 2
    m = out["metrics"]
    assert m["embedded_total"] == m["conversations_total"] >= 5
