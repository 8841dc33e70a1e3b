"""The fourth stage on real packaged models, end to end on 5 real Alpaca diagnosis items: M_FT (SmolLM2-135M
LoRA-tuned on the dataset) answers with transformers generate, the oracle (Qwen2.5-Coder-1.5B through the embedded
llama.cpp server) writes findings, the skills map to tags with the real embedder, and the targeted synthesizer's
items go through the judge and the leakage guard into the store with their lineage."""
import json
import time

import pytest
import sqlalchemy as sa

from agents.resources import Resources
from tools.diagnose import diagnose_round
from tools.importer import Importer
from tools.leakage_rounds import check_candidates
from tools.ledger import build_ledger
from tools.synthesize import synthesize_round

pytestmark = pytest.mark.llm


def test_real_models_diagnose_five_items_and_synthesize_for_a_finding(config, assets, tmp_path):
    cfg = config.model_copy(update={
        "server": config.server.model_copy(update={"port_base": 18780}),
        "diagnosis": config.diagnosis.model_copy(update={"sample_size": 5, "max_share": 1.0,
                                                         "answer_max_tokens": 96}),
        # four chances: the 1.5B writes some too-short or off-skill items, and one fresh-clone run lost both of two
        "synthesis": config.synthesis.model_copy(update={"max_per_round": 6, "max_per_skill": 2}),
        "evolution": config.evolution.model_copy(update={"turn_weights": [1, 0, 0, 0], "answer_max_tokens": 256})})
    res = Resources(cfg)
    Importer(res.store, tmp_path / "r").ingest_file(assets.pool_path("alpaca-en"), "alpaca-en")
    with res.store.engine.begin() as conn:
        # 12 seeds with self-contained instructions, as the selector would store them: 5 are held out, 7 train M_FT
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[\"multi_skill\"]', '{}', 'selected', 0, "
                             "'2026-01-01' FROM conversations WHERE messages NOT LIKE '%\\n\\n%' ORDER BY id LIMIT 12"))
    t0 = time.monotonic()
    diag = diagnose_round(res.store, res.assets, res.text_space("tags"), res.config, 1)
    t1 = time.monotonic()
    synth = synthesize_round(res.store, res.embedder, res.config, 1)
    admitted = check_candidates(res.leakage_guard(), res.config, 1)["candidates"]["admitted"]
    t2 = time.monotonic()
    with res.store.engine.connect() as conn:
        findings = conn.execute(sa.text("SELECT f.deficient, f.severity, f.description, f.answer, f.detail, f.status "
                                        "FROM findings f")).all()
        made = conn.execute(sa.text("SELECT c.messages, y.finding_ids, k.name FROM syntheses y JOIN candidates d ON "
                                    "d.id = y.candidate_id JOIN conversations c ON c.id = d.conversation_id JOIN "
                                    "skills k ON k.id = y.skill_id WHERE c.origin = 'synthesized'")).all()
        held = conn.execute(sa.text("SELECT count(*) FROM seeds WHERE status = 'held_out'")).scalar()
    print(f"\ndiagnosis {diag.get('timings')} ({diag.get('answer_tokens_per_s')} tok/s), {t1 - t0:.0f} s; "
          f"synthesis {synth['counts']}, {t2 - t1:.0f} s")
    for deficient, sev, desc, answer, detail, status in findings:
        print(f"  [{status} deficient={deficient} sev={sev}] {json.loads(detail).get('skills')} {desc[:100]!r}")
    for messages, _, skill in made:
        print(f"  for {skill!r}: {json.loads(messages)[0]['content'][:160]!r}")
    assert diag["items"] == 5 and held == 5 and len(findings) == 5
    assert all(answer.strip() for *_, answer, _, _ in findings)  # M_FT answered every query
    ok = [f for f in findings if f[5] == "ok"]
    assert ok and diag["deficient"] >= 1  # SmolLM2 answers are weak: the oracle finds at least one lacking
    assert diag["mapped"] + diag["candidate_tags"] == diag["skills_named"] >= 2
    assert admitted >= 1 and len(made) == admitted
    for messages, finding_ids, skill in made:
        messages = json.loads(messages)
        assert [m["role"] for m in messages] == ["user", "assistant"] and json.loads(finding_ids) and skill
    ledger = build_ledger(res.store)
    assert ledger["rounds"][0]["findings"] == len(ok)
    assert sum(s["items"]["admitted"] for s in ledger["skills"]) == admitted
