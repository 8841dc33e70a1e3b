"""The evolver's rules end to end on a real store, Chroma and MiniLM, with a scripted model: one seed per
rejection reason, plus accepted dialogues with lineage, attempts, steering and staging."""
import json

import pytest
import sqlalchemy as sa

from agents.resources import Resources, register
from settings import ROLES
from tests.conftest import chat, write_jsonl
from tests.fakes import ScriptedOpenAI
from tools.evolve_seeds import evolve_pending, operation_weights
from tools.importer import Importer
from tools.leakage_rounds import check_candidates

# seed instruction -> what the evolver model writes for it
EVOLVED = {
    "Explain how a hash map works.": "Explain how a hash map works, how collisions are resolved with chaining and open "
                                     "addressing, and when resizing happens.",
    "Describe the water cycle.": "Describe the water cycle in a tropical rainforest, naming each stage and how "
                                 "deforestation changes the amount of rain.",
    "List three uses of vinegar.": "{broken",  # evolver_error (twice: the repair gets the same reply)
    "Summarise the causes of the First World War.": "Summarise WWI.",  # too_short
    "Give me a synonym for happy.": "Give me a synonym for happy.",  # unchanged
    "Translate hello into French.": "I'm sorry, but I cannot help with rewriting this request.",  # refusal
    "Compute 17 times 23.": "Sure! 17 times 23 is 391, because 17 x 20 = 340 and 17 x 3 = 51, which adds to 391.",
    "Name the largest planet in the solar system.": "请说出太阳系中最大的行星，并比较它与地球的质量、体积和卫星数量。",
    "Write a haiku about autumn.": "Write a haiku about autumn that uses the attached photo as its only subject "
                                   "and matches its colours exactly.",  # judge: not answerable
    "Explain recursion to a child.": "Explain recursion to a ten-year-old with two everyday examples and one "
                                     "short Python function that counts down.",  # judge reply broken
    "Describe how vaccines work.": "Describe how mRNA vaccines train the immune system, step by step, and why "
                                   "booster doses are recommended.",  # answer refused
    "Explain what inflation is.": "Explain what inflation is, how central banks measure it with a price index, "
                                  "and two tools they use to slow it down.",  # answer cut
}
EXPECTED = {"List three uses of vinegar.": "evolver_error", "Summarise the causes of the First World War.": "too_short",
            "Give me a synonym for happy.": "unchanged", "Translate hello into French.": "refusal",
            "Compute 17 times 23.": "answered", "Name the largest planet in the solar system.": "language_switch",
            "Write a haiku about autumn.": "judge_rejected", "Explain recursion to a child.": "judge_error",
            "Describe how vaccines work.": "answer_refused", "Explain what inflation is.": "answer_cut"}


def _between(text: str, tag: str) -> str:
    return text.split(f"{tag}:\n<<<\n", 1)[1].split("\n>>>", 1)[0] if tag else text.split("<<<\n")[-1].split("\n>>>")[0]


def responder(body, task):
    msgs = body["messages"]
    user = msgs[-1]["content"]
    if task == "evolve":
        seed = _between(msgs[-1]["content"] if msgs[-1]["role"] == "user" and "<<<" in msgs[-1]["content"]
                        else msgs[-3]["content"], "")
        evolved = EVOLVED[seed]
        return evolved if evolved.startswith("{") else json.dumps({"instruction": evolved}, ensure_ascii=False)
    if task == "judge_evolution":
        rewritten = _between(msgs[1]["content"], "REWRITTEN")
        if "photo" in rewritten:
            return json.dumps({"is_instruction": True, "answerable": False, "evolved": True,
                               "reason": "it needs a photo that is not given"})
        if "ten-year-old" in rewritten:
            return "I think it is fine."
        return json.dumps({"is_instruction": True, "answerable": True, "evolved": True, "reason": "more depth"})
    if task == "dialogue_followup":
        return json.dumps({"message": f"Can you go one step further on point {user.count('Assistant:')}?"})
    assert task == "answer", task
    first = msgs[0]["content"]
    if "mRNA" in first:
        return "I'm sorry, I can't help with that."
    if "inflation" in first:
        return ("Inflation is", "length")
    return f"A careful answer, round {sum(m['role'] == 'user' for m in msgs)}."


@pytest.fixture
def evo_res(config, tmp_path):
    with ScriptedOpenAI(responder=responder) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "evolution": config.evolution.model_copy(update={"turn_weights": [0, 0, 1, 0]})})
        res = Resources(cfg)
        register(res)
        Importer(res.store, tmp_path / "r").ingest_file(
            write_jsonl(tmp_path / "seeds.jsonl", [chat(s, "An answer.") for s in EVOLVED]), "seeds")
        with res.store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, "
                                 "attempts, created_at) SELECT id, 1, 'criteria', '[\"hard\"]', '{}', 'selected', 0, "
                                 "'2026-01-01' FROM conversations ORDER BY id"))
        yield res, srv


def test_every_rejection_reason_is_a_decision_and_valid_seeds_become_dialogues(evo_res):
    res, srv = evo_res
    summary = evolve_pending(res.store, res.embedder, res.config, 1)
    assert summary["seeds"] == 12 and summary["staged"] == 2
    assert summary["counts"] == {"accepted": 2, **{r: 1 for r in EXPECTED.values()}}
    with res.store.engine.connect() as conn:
        rejections = conn.execute(sa.text("SELECT c.messages, d.evidence FROM decisions d JOIN conversations c ON "
                                          "d.subject = 'conversation:' || c.id WHERE d.action = 'reject_evolution'"
                                          )).all()
        seeds = dict(conn.execute(sa.text("SELECT status || '/' || attempts, count(*) FROM seeds GROUP BY 1")).all())
        staged = conn.execute(sa.text("SELECT messages, parent_id, operation, status, evidence FROM candidates")).all()
    got = {json.loads(m)[0]["content"]: json.loads(ev)["reason"] for m, ev in rejections}
    assert got == EXPECTED
    assert seeds == {"evolved/1": 2, "selected/1": 10}  # rejected seeds get another attempt next round
    for messages, parent, op, status, evidence in staged:
        messages, evidence = json.loads(messages), json.loads(evidence)
        assert status == "pending" and op in ("breadth", "reasoning", "concretizing", "deepening")
        assert [m["role"] for m in messages] == ["user", "assistant"] * 3 and evidence["rounds"] == 3
        assert messages[0]["content"] in EVOLVED.values() and messages[2]["content"].startswith("Can you go")
        assert evidence["similarity"] < res.config.evolution_settings().max_similarity


def test_second_attempt_exhausts_seeds_and_a_rerun_asks_nothing_new(evo_res):
    res, srv = evo_res
    evolve_pending(res.store, res.embedder, res.config, 1)
    calls = len(srv.requests)
    again = evolve_pending(res.store, res.embedder, res.config, 2)  # the 10 rejected seeds, each with a new random operation
    assert again["seeds"] == 10 and len(srv.requests) > calls
    with res.store.engine.connect() as conn:
        status = dict(conn.execute(sa.text("SELECT status, count(*) FROM seeds GROUP BY 1")).all())
    assert status == {"evolved": 2, "exhausted": 10} and evolve_pending(res.store, res.embedder, res.config, 3)["seeds"] == 0


def test_operation_steering_and_weights_pick_the_operation(evo_res):
    res, _ = evo_res
    with res.store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO steering (kind, key, weight, set_by, round, note, updated_at) VALUES "
                             "('operation', 'breadth', 0, 'user', 0, '', '2026-01-01'), "
                             "('operation', 'deepening', 0, 'user', 0, '', '2026-01-01')"))
    assert operation_weights(res.store, res.config) == {"breadth": 0, "reasoning": 1.0, "concretizing": 1.0, "deepening": 0}
    evolve_pending(res.store, res.embedder, res.config, 1)
    with res.store.engine.connect() as conn:
        ops = {json.loads(e)["operation"] for e in conn.execute(sa.text(
            "SELECT evidence FROM decisions WHERE node='evolver' AND subject LIKE 'conversation:%'")).scalars()}
    assert ops <= {"reasoning", "concretizing"} and ops


def test_staged_dialogues_are_admitted_with_lineage_by_the_leakage_guard(evo_res):
    res, _ = evo_res
    evolve_pending(res.store, res.embedder, res.config, 1)
    summary = check_candidates(res.leakage_guard(), res.config, 1)
    assert summary["candidates"] == {"candidates": 2, "leaks": 0, "duplicates": 0, "admitted": 2}
    with res.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT c.origin, c.operation, c.n_turns, p.source, c.round_created FROM "
                                    "conversations c JOIN conversations p ON p.id = c.parent_id")).all()
        statuses = set(conn.execute(sa.text("SELECT status FROM candidates")).scalars())
    assert len(rows) == 2 and all(r[0] == "evolved" and r[1] and r[2] == 3 and r[3] == "seeds" and r[4] == 1
                                  for r in rows)
    assert statuses == {"admitted"} and res.vectors.count(res.conversations) == 14
