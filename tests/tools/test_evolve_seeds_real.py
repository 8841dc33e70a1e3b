"""The evolver on the real packaged model (Qwen2.5-Coder-1.5B GGUF through the embedded llama.cpp server) over 5
real Alpaca seeds, then the leakage guard admits the dialogues: accepted items are stored with their lineage."""
import json
import time

import pytest
import sqlalchemy as sa

from agents.resources import Resources
from tools.evolve_seeds import evolve_pending
from tools.importer import Importer
from tools.leakage_rounds import check_candidates

pytestmark = pytest.mark.llm


def test_real_model_evolves_five_real_seeds_into_dialogues_with_lineage(config, assets, tmp_path):
    cfg = config.model_copy(update={
        "server": config.server.model_copy(update={"port_base": 18580}),
        # short answers and 1-2 rounds keep this test to a few minutes on 2 cores
        "evolution": config.evolution.model_copy(update={"turn_weights": [1, 1, 0, 0], "answer_max_tokens": 400})})
    res = Resources(cfg)
    Importer(res.store, tmp_path / "r").ingest_file(assets.pool_path("alpaca-en"), "alpaca-en")
    with res.store.engine.begin() as conn:
        # five seeds with a self-contained instruction (no separate input field), as the selector would store them
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[\"multi_skill\"]', '{}', 'selected', 0, "
                             "'2026-01-01' FROM conversations WHERE messages NOT LIKE '%\\n\\n%' ORDER BY id LIMIT 5"))
    t0 = time.monotonic()
    summary = evolve_pending(res.store, res.embedder, res.config, 1)
    admitted = check_candidates(res.leakage_guard(), res.config, 1)["candidates"]["admitted"]
    with res.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT c.messages, c.operation, p.messages, s.status FROM conversations c JOIN "
                                    "conversations p ON p.id = c.parent_id JOIN seeds s ON s.conversation_id = p.id "
                                    "WHERE c.origin = 'evolved'")).all()
    print(f"\n{summary['counts']} in {time.monotonic() - t0:.0f} s")
    for messages, op, parent, _ in rows:
        print(f"  [{op}] {json.loads(parent)[0]['content'][:70]!r}\n    -> {json.loads(messages)[0]['content'][:160]!r}")
    # Measured with the run's seed (0) sent to the server, on the AMD EPYC CI machine: 4 accepted, 1 unchanged, in
    # 316 s. Without a seed the same test gave 3 and 2 of 5 on different runs (docs/evolution.md).
    assert summary["seeds"] == 5 and summary["counts"].get("accepted", 0) >= 3
    assert admitted == summary["staged"] == len(rows)
    for messages, op, parent, status in rows:
        messages, parent = json.loads(messages), json.loads(parent)
        assert status == "evolved" and op in ("breadth", "reasoning", "concretizing", "deepening")
        assert [m["role"] for m in messages][:2] == ["user", "assistant"] and messages[-1]["role"] == "assistant"
        assert messages[0]["content"] != parent[0]["content"] and len(messages) in (2, 4)
