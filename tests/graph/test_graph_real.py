"""One round of the LangGraph loop with every LLM-calling node answered by a real packaged model.

The roles talk to the embedded llama.cpp server (Qwen2.5-Coder-1.5B, the default of every role) through a
recording pass-through on 127.0.0.1, which only notes the task name the LLM layer sends in ``X-Iloop-Task``; every
reply is the real model's. Limits are tiny (four conversations, one seed, short answers): six conversations took
10 min on the idle 2-core machine (806 s in a clean-clone CI run), most of it tagging and mapping. The assertions are about the graph doing each stage's work on real output,
not about its quality.
"""
import json
import time

import httpx
import pytest
import sqlalchemy as sa

from agents.resources import Resources, register
from graph.builder import compile_with_checkpointer
from settings import EMBEDDED, ROLES
from tests.conftest import write_jsonl
from tests.fakes import ScriptedOpenAI
from tools.embedded_server import embedded_servers, endpoint

pytestmark = pytest.mark.llm

MODEL = "qwen2.5-coder-1.5b"
# A loose paraphrase of MT-Bench question 81 ("Compose an engaging travel blog post about a recent trip to Hawaii,
# highlighting cultural experiences and must-see attractions."): close enough to land in the leakage band below.
NEAR_BENCHMARK = "Write a lively blog article about my holiday in Hawaii, covering the local culture and top sights."


def small_pool(assets, tmp_path):
    def first(name, n):
        records = json.loads(assets.pool_path(name).read_text(encoding="utf-8"))
        return [{"messages": [{"role": "user", "content": r["instruction"]}, {"role": "assistant",
                                                                              "content": r["output"]}]}
                for r in records if not r.get("input")][:n]
    near = {"messages": [{"role": "user", "content": NEAR_BENCHMARK},
                         {"role": "assistant", "content": "Aloha! Here is my trip..."}]}
    return write_jsonl(tmp_path / "pool.jsonl", first("alpaca-en", 2) + first("alpaca-zh", 1) + [near])


def test_one_real_round_runs_every_llm_node_on_the_packaged_model(config, assets, tmp_path):
    cfg = config.model_copy(update={
        "max_rounds": 1,
        "server": config.server.model_copy(update={"port_base": 18680}),
        "roles": {r: config.role(r).model_copy(update={"base_url": EMBEDDED, "model": MODEL, "max_tokens": 256})
                  for r in ROLES},
        "tagging": config.tagging.model_copy(update={"max_per_round": 0}),
        "evolution": config.evolution.model_copy(update={"max_per_round": 1, "turn_weights": [0, 1, 0, 0],
                                                         "answer_max_tokens": 64}),
        # one embedder and a wide band, so the judge is asked about the planted near-copy (and a few others)
        "leakage": config.leakage.model_copy(update={"models": ["use-multilingual-v3"], "llm_check": True,
                                                     "band_low": 0.55, "remove_threshold": 0.99, "max_turns": 1}),
        # the fourth stage's nodes on the real models: tests/tools/test_diagnose_real.py; in the graph:
        # tests/graph/test_graph.py (two rounds). Off here to keep this round's minutes where they were.
        "diagnosis": config.diagnosis.model_copy(update={"enabled": False})})
    real_url, _ = endpoint(cfg, "tagger")

    seconds: dict[str, float] = {}

    def forward(body, task):
        t0 = time.monotonic()
        r = httpx.post(f"{real_url}/chat/completions", json=body, timeout=300)
        r.raise_for_status()
        seconds[task] = seconds.get(task, 0.0) + time.monotonic() - t0
        return r.json()["choices"][0]["message"]["content"]

    with embedded_servers(cfg, ["tagger"]), ScriptedOpenAI(responder=forward) as proxy:
        cfg = cfg.model_copy(update={"roles": {r: cfg.role(r).model_copy(update={"base_url": proxy.base_url})
                                               for r in ROLES}})
        res = Resources(cfg)
        register(res)
        graph = compile_with_checkpointer(tmp_path / "ck.sqlite")
        out = graph.invoke({"pools": [str(small_pool(assets, tmp_path))]},
                           {"configurable": {"thread_id": "real", "iloop_config": cfg.model_dump_json()}})
        tasks = [q["task"] for q in proxy.requests]
    print(f"\nrequests (seconds) per task: { {t: (tasks.count(t), round(seconds.get(t, 0))) for t in sorted(set(tasks))} }")
    assert out["round"] == 1 and out["stop_reason"] == "max_rounds"
    # each LLM-calling node sent its unit to the model: tagger (and tag_new), taxonomist, evolver (rewrite, judge,
    # follow-up, answers) and the leakage guard's judge on the band item
    assert {"tag", "induce_domains", "map_tags", "leakage_check"} <= set(tasks)
    with res.store.engine.connect() as conn:
        tagged = conn.execute(sa.text("SELECT count(DISTINCT conversation_id) FROM conversation_tags")).scalar()
        domains = conn.execute(sa.text("SELECT count(*) FROM domains")).scalar()
        seeds = conn.execute(sa.text("SELECT count(*) FROM seeds")).scalar()
        nodes = dict(conn.execute(sa.text("SELECT node, count(*) FROM decisions GROUP BY node")).all())
        usage = dict(conn.execute(sa.text("SELECT role, calls FROM token_usage")).all())
    assert tagged >= 3 and domains >= 2  # the real 1.5B tagged most of four conversations; domains were induced
    assert nodes.get("tagger", 0) >= 1 and nodes.get("taxonomist", 0) >= 1 and nodes.get("finish") == 1
    assert usage.get("tagger", 0) >= 4 and usage.get("oracle", 0) >= 1 and usage.get("judge", 0) >= 1
    # the selector chose a seed (the hard-to-follow quota rounds up to one); the evolver rewrote and judged it
    assert seeds >= 1 and {"evolve", "judge_evolution"} <= set(tasks) and nodes.get("evolver", 0) >= 1
