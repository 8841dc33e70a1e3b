"""The leakage guard on a real store, real Chroma and the real MiniLM, against the packaged benchmark prompts."""
import json

import sqlalchemy as sa

from agents.resources import Resources
from settings import ROLES
from tests.conftest import chat, write_jsonl
from tests.fakes import ScriptedOpenAI
from tools.formats import content_hash
from tools.importer import Importer
from tools.instructions import embed_conversations
from tools.leakage_guard import check_candidates, check_pool

PLANTED = {
    "Write a C++ program to find the nth Fibonacci number using recursion.": "mt-bench",  # exact, turn 1
    "Write a story for kids about how a person learns to ride a bike. Do not include 'can' and 'ride' in your "
    "response.": "ifeval",  # exact
    "Tell me about Walt Disney's life and history.": "alpaca-eval",  # paraphrase (cosine 0.93)
    "Hi! Quick one for my quiz night: What is the capital of Australia? Thanks a lot.": "alpaca-eval",  # wrapped
}
CLEAN = ["Write a SQL query that returns the ten customers with the highest total order value.",
         "Give me three tips for keeping basil alive indoors.",
         "What were the main battles the Yamato battleship fought in?",  # same subject as an AlpacaEval prompt
         "Write a Python program that prints the first 20 Fibonacci numbers.",
         "How do I make cider vinegar from apples at home?"]
# MT-Bench 108's second turn, asked as the second user turn of an otherwise harmless conversation
SECOND_TURN = {"messages": [{"role": "user", "content": "Which of these is not a fruit: apple, carrot, pear?"},
                            {"role": "assistant", "content": "Carrot."},
                            {"role": "user", "content": "Could you replace it with a word that belongs with the others?"},
                            {"role": "assistant", "content": "Plum."}]}


def ingest(res, tmp_path, records):
    Importer(res.store, tmp_path / "r").ingest_file(write_jsonl(tmp_path / "pool.jsonl", records), "pool")
    embed_conversations(res.store, res.vectors, res.embedder, res.conversations)


def run_guard(res, round_, extra_files=None):
    """Both places of the guard, as `iloop leakage` runs them: the pool, then the staged candidates."""
    guard = res.leakage_guard()
    pool = check_pool(guard, res.config, round_, extra_files)
    return {**pool, "candidates": check_candidates(guard, res.config, round_, extra_files)["candidates"]}


def texts(res):
    with res.store.engine.connect() as conn:
        return {json.loads(m)[0]["content"] for m in conn.execute(sa.text("SELECT messages FROM conversations")).scalars()}


def test_planted_copies_and_paraphrases_are_removed_and_unrelated_items_stay(res, tmp_path):
    ingest(res, tmp_path, [chat(t) for t in [*PLANTED, *CLEAN]] + [SECOND_TURN])
    with res.store.engine.begin() as conn:  # a seed row on a planted item must go with it
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[]', '{}', 'selected', 0, '2026-01-01' FROM "
                             "conversations"))
    summary = run_guard(res, 1)
    assert summary["pool"]["checked"] == 10 and summary["pool"]["removed"] == 5
    assert texts(res) == set(CLEAN)
    with res.store.engine.connect() as conn:
        leaks = conn.execute(sa.text("SELECT benchmark, turn, method, similarity, messages FROM leaks")).all()
        decisions = conn.execute(sa.text("SELECT count(*) FROM decisions WHERE action='remove_leak'")).scalar()
        seeds = conn.execute(sa.text("SELECT count(*) FROM seeds")).scalar()
    by_text = {json.loads(m)[0]["content"]: (b, t, meth, s) for b, t, meth, s, m in leaks}
    for text, bench in PLANTED.items():
        assert by_text[text][0] == bench
    assert by_text[SECOND_TURN["messages"][0]["content"]][:2] == ("mt-bench", 1)
    assert by_text[list(PLANTED)[3]][2] == "ngram"  # the wrapped copy falls below the cosine cut
    assert decisions == 5 and seeds == 5 and res.vectors.count("conversations__minilm-l6-v2") == 5
    report = (res.config.home / "reports" / "leakage-round0001.jsonl").read_text().splitlines()
    assert len(report) == 5 and all({"similarity", "ngram", "bench_text", "item"} <= set(json.loads(r)) for r in report)
    # checked once: a second pass over the same benchmark set looks at nothing
    assert run_guard(res, 2)["pool"]["checked"] == 0


def test_a_user_benchmark_file_rechecks_the_pool_and_candidates_are_refused_or_admitted(res, tmp_path):
    ingest(res, tmp_path, [chat(t) for t in CLEAN])
    assert run_guard(res, 1)["pool"]["removed"] == 0
    mine = write_jsonl(tmp_path / "house-eval.jsonl", [{"id": "q7", "question": "Give me three tips for keeping basil "
                                                                                "alive indoors."}])
    summary = run_guard(res, 2, extra_files=[str(mine)])
    assert summary["pool"]["checked"] == 5 and summary["pool"]["removed"] == 1  # new set fingerprint: all re-checked
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT benchmark || ' ' || bench_ref FROM leaks")).scalar() == "house-eval q7"
    leak_msgs = [{"role": "user", "content": "How do I make apple juice?"}, {"role": "assistant", "content": "Press."}]
    ok_msgs = [{"role": "user", "content": "Explain how a bloom filter trades memory for false positives."},
               {"role": "assistant", "content": "It hashes..."}]
    with res.store.engine.begin() as conn:
        for msgs in (leak_msgs, ok_msgs):
            conn.execute(sa.text("INSERT INTO candidates (round, kind, parent_id, operation, messages, content_hash, "
                                 "lang, status, evidence, created_at) VALUES (3, 'evolved', 1, 'deepening', :m, :h, "
                                 "'en', 'pending', '{}', '2026-01-01')"),
                         {"m": json.dumps(msgs), "h": content_hash(msgs)})
    out = run_guard(res, 3)["candidates"]
    assert out == {"candidates": 2, "leaks": 1, "duplicates": 0, "admitted": 1}
    with res.store.engine.connect() as conn:
        status = dict(conn.execute(sa.text("SELECT status, messages FROM candidates")).all())
        origins = dict(conn.execute(sa.text("SELECT origin, count(*) FROM conversations GROUP BY 1")).all())
    assert "apple juice" in status["leak"] and "bloom filter" in status["admitted"]
    assert origins == {"pool": 4, "evolved": 1}


def test_the_llm_check_decides_band_pairs_when_enabled(config, tmp_path):
    # "Who sang lead vocals first in the band Starship?" is AlpacaEval 71 reworded: cosine in the band, no n-grams
    with ScriptedOpenAI(responder=lambda body, task: json.dumps({"same_task": "Starship" in body["messages"][-1]["content"]})
                        ) as srv:
        cfg = config.model_copy(update={
            "roles": {r: config.role(r).model_copy(update={"base_url": srv.base_url}) for r in ROLES},
            "leakage": config.leakage.model_copy(update={"llm_check": True, "remove_threshold": 0.95,
                                                         "band_low": 0.7})})
        res = Resources(cfg)
        ingest(res, tmp_path, [chat("Who sang lead vocals first in the band Starship?"), chat(CLEAN[2])])
        summary = run_guard(res, 1)
    assert summary["pool"]["removed"] == 1 and texts(res) == {CLEAN[2]}
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT method, llm_verdict FROM leaks")).one() == ("llm", "same")
    assert len(srv.requests) == 2  # one band pair each; the Yamato one was judged different
    assert {r["task"] for r in srv.requests} == {"leakage_check"}
