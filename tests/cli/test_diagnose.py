"""`iloop diagnose`, `iloop synthesize` and `iloop ledger` (cli/diagnose.py) on a real home with a scripted LLM
server and the real tiny scorer as M_FT."""
import json

from tests.cli.helpers import flat, iloop
from tests.conftest import chat, write_jsonl


def test_diagnose_synthesize_and_ledger_commands(home, tmp_path, monkeypatch):
    import sqlalchemy as sa

    from settings import ROLES
    from state.db import Store
    from tests.fakes import ScriptedOpenAI
    from tests.graph.test_graph import fake_llm

    r = iloop(home, "synthesize")
    assert r.exit_code == 2 and "iloop diagnose" in r.output
    assert "ledger is empty" in iloop(home, "ledger").output
    f = write_jsonl(tmp_path / "pool.jsonl", [chat(f"Explain topic {k} step by step.", f"Answer {k}.")
                                              for k in range(8)])
    assert iloop(home, "ingest", str(f)).exit_code == 0
    with Store(f"sqlite:///{home / 'iloop.sqlite'}").engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO seeds (conversation_id, round, strategy, criteria, evidence, status, attempts, "
                             "created_at) SELECT id, 1, 'criteria', '[\"hard\"]', '{}', 'selected', 0, '2026-01-01' "
                             "FROM conversations"))
    with ScriptedOpenAI(responder=fake_llm) as srv:
        for role in ROLES:
            monkeypatch.setenv(f"ILOOP_ROLES__{role.upper()}__BASE_URL", srv.base_url)
        monkeypatch.setenv("ILOOP_DIAGNOSIS__ANSWER_MAX_TOKENS", "16")
        r = iloop(home, "diagnose", "--limit", "3", "--json")
        assert r.exit_code == 0, r.output
        diag = json.loads(r.stdout)
        assert diag["items"] == 3 and diag["deficient"] == 3 and diag["candidate_tags"] + diag["mapped"] == 2
        r = iloop(home, "synthesize", "--limit", "2", "--json")
        assert r.exit_code == 0, r.output
        synth = json.loads(r.stdout)
    assert synth["round"] == diag["round"] and synth["synthesis"]["staged"] == 2
    assert synth["leakage"]["candidates"]["admitted"] == 2 and synth["tagged"]["tagged"] == 2
    ledger = json.loads(iloop(home, "ledger", "--json").stdout)
    assert ledger["rounds"][0]["findings"] == 3 and ledger["skills"][0]["rate_before"] == 1.0
    assert ledger["skills"][0]["rate_after"] is None  # no later round yet
    assert "round 1: 3 findings, 3 deficient (100%)" in flat(iloop(home, "ledger").output)
    stats = json.loads(iloop(home, "stats", "--json").stdout)
    assert stats["diagnosis"]["findings"] == 3 and stats["synthesis"]["staged"] == {"admitted": 2}
    assert stats["seeds"]["by_status"]["held_out"] == 3 and stats["conversations"]["by_origin"]["synthesized"] == 2
