"""Ledger bookkeeping across two rounds on a real store: a skill diagnosed in round 1, items made for it, measured
again in round 2 after a new M_FT; and the case where round 2's M_FT is the same (no "after")."""
from state import candidates, diagnosis, syntheses
from state.candidates import NewCandidate
from state.conversations import NewConversation, add_conversations
from state.diagnosis import HeldOut, NewFinding, NewSkill
from state.syntheses import NewSynthesis
from tools.formats import content_hash
from tools.ledger import build_ledger
from tools.synthesize import summary_decision, synthesize_round


def _items(store, round_, n, start):
    msgs = [[{"role": "user", "content": f"q{start + k}"}, {"role": "assistant", "content": "a"}] for k in range(n)]
    ids = add_conversations(store, [NewConversation(m, content_hash(m), "t", "en") for m in msgs])
    diagnosis.hold_out(store, round_, [HeldOut(cid, None, "maths", "hard") for cid in ids.values()])
    return diagnosis.items(store, round_)


SKILL = NewSkill("phrase:unit conversion", "unit conversion", None, 0.5, "candidate", "maths")


def _round(store, round_, adapter, deficient, start):
    items = _items(store, round_, len(deficient), start)
    findings = [NewFinding(it.id, adapter, "ans", 3, False, "ok", deficient=d, severity=2 if d else 0)
                for it, d in zip(items, deficient)]
    # the same skill named twice in one finding (two phrases, one tag) is linked once
    fids = diagnosis.add_findings(store, round_, findings, [[(SKILL, "unit conversion", 0.5), (SKILL, "units", 0.4)]
                                                            if d else [] for d in deficient])
    sid = _skill_id(store)
    return sid, [f for f, d in zip(fids, deficient) if d]


def _skill_id(store):
    import sqlalchemy as sa
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM skills WHERE key = 'phrase:unit conversion'")).scalar_one()


def test_a_skill_diagnosed_fixed_and_measured_again(store):
    sid, fids = _round(store, 1, "A", [True, True, False, False], 0)
    msgs = [{"role": "user", "content": "convert units"}, {"role": "assistant", "content": "ok"}]
    syntheses.add(store, 1, [NewSynthesis(sid, fids, "convert units", "staged"),
                             NewSynthesis(sid, fids, "too short", "rejected", "too_short")],
                  [NewCandidate(1, "synthesized", None, "targeted", msgs, content_hash(msgs), "en"), None],
                  [summary_decision(1, {"staged": 1, "asked": 2}, 1)])
    staged = candidates.pending(store)
    candidates.set_status(store, {staged[0].id: ("admitted", None)})
    _round(store, 2, "B", [True, False, False, False], 10)
    ledger = build_ledger(store)
    assert [(r["round"], r["findings"], r["deficient"]) for r in ledger["rounds"]] == [(1, 4, 2), (2, 4, 1)]
    skill = ledger["skills"][0]
    assert skill["first_round"] == 1 and skill["diagnosed"] == 3 and skill["rounds_diagnosed"] == [1, 2]
    assert skill["rate_before"] == 0.5 and skill["rate_after"] == 0.25 and skill["after_round"] == 2
    assert skill["change"] == -0.25 and skill["status"] == "candidate" and skill["mean_severity"] == 2
    assert skill["items"]["written"] == 2 and skill["items"]["admitted"] == 1
    assert skill["items"]["rejected"] == {"too_short": 1} and skill["items_before_after"] == 1
    assert syntheses.done_rounds(store) == {1}


def test_without_a_new_m_ft_there_is_no_after(store):
    _round(store, 1, "A", [True, False], 0)
    _round(store, 2, "A", [False, False], 10)  # the same adapter answered: not a re-measure after fine-tuning
    skill = build_ledger(store)["skills"][0]
    assert skill["rate_before"] == 0.5 and skill["rate_after"] is None and skill["change"] is None
    assert skill["rates"] == {1: 0.5, 2: 0.0}


def test_a_round_with_nothing_to_synthesize_is_done_and_asks_nothing(store, config):
    items = _items(store, 1, 2, 0)  # every answer fine: no deficient skill
    diagnosis.add_findings(store, 1, [NewFinding(it.id, "A", "ans", 3, False, "ok") for it in items], [[], []])
    # no embedder and no LLM: a round with no plan must not reach for either
    assert synthesize_round(store, None, config, 1)["asked"] == 0
    assert syntheses.done_rounds(store) == {1}
    assert synthesize_round(store, None, config, 1)["resumed"]


def test_items_before_after_counts_only_what_the_after_m_ft_trained_on(store, tmp_path):
    import json
    sid, fids = _round(store, 1, "A", [True, False], 0)
    msgs = [[{"role": "user", "content": f"convert units {k}"}, {"role": "assistant", "content": "ok"}] for k in (1, 2)]
    syntheses.add(store, 1, [NewSynthesis(sid, fids, "convert units", "staged")] * 2,
                  [NewCandidate(1, "synthesized", None, "targeted", m, content_hash(m), "en") for m in msgs],
                  [summary_decision(1, {"staged": 2, "asked": 2}, 1)])
    staged = candidates.pending(store)
    candidates.set_status(store, {c.id: ("admitted", 900 + k) for k, c in enumerate(staged)})
    _round(store, 2, "B", [False, False], 10)
    card = tmp_path / "h" / "adapters" / "mft-B" / "iloop-adapter.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"fingerprint": "B", "train_ids": [1, 2, 900]}))  # the second item came too late
    assert build_ledger(store, tmp_path / "h")["skills"][0]["items_before_after"] == 1
    assert build_ledger(store)["skills"][0]["items_before_after"] == 2  # without the cards: admitted before round 2
