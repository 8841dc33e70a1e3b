"""Seed selection on a real SQLite store, real Chroma, real MiniLM vectors and the real SmolLM2 scorer."""
import json

import pytest
import sqlalchemy as sa

from state.models import Conversation, Domain, Seed, Tag
from state.steering import set_user_priority
from state.tags import link_tags, tag_ids
from tools.formats import content_hash
from tools.instructions import embed_conversations
from tools.select_seeds import select_round

TOPICS = [("python", ["python programming", "debugging"], "software"),
          ("sql", ["sql queries", "database design", "indexing", "query planning", "transactions"], "software"),
          ("bread", ["baking", "recipe writing"], "food"),
          ("haiku", ["poetry composition", "syllable counting", "imagery"], "writing")]


def run(res, round_, **kw):
    return select_round(res.store, res.vectors, res.assets, res.config, round_, **kw)


def add_pool(res, n=24):
    store = res.store
    with store.session() as s:
        doms = {d: Domain(name=d, description="") for d in {t[2] for t in TOPICS}}
        for d in doms.values():
            s.add(d)
        s.commit()
        dom_id = {name: d.id for name, d in doms.items()}
    convs = []
    for k in range(n):
        topic, tags, dom = TOPICS[k % len(TOPICS)]
        msgs = [{"role": "user", "content": f"Question {k} about {topic}: how do I get started?"},
                {"role": "assistant", "content": f"For {topic}, start small. Step {k}: read, try, repeat."}]
        convs.append((msgs, tags + (["rare skill"] if k == 5 else []), dom))
    with store.session() as s:
        for msgs, _, _ in convs:
            s.add(Conversation(content_hash=content_hash(msgs), messages=json.dumps(msgs), source="t", lang="en",
                               n_turns=1, n_chars=50))
        s.commit()
    for cid, (_, tags, dom) in enumerate(convs, start=1):
        ids = tag_ids(store, tags, "en")
        link_tags(store, [(cid, ids[t]) for t in tags])
        with store.engine.begin() as conn:
            conn.execute(sa.update(Tag.__table__).where(Tag.__table__.c.id.in_(list(ids.values())))
                         .values(status="canonical", domain_id=dom_id[dom]))
    return convs


def test_run_scores_finetunes_and_selects_with_evidence(res):
    add_pool(res)
    summary = run(res, 1, strategy="criteria")
    assert summary["scoring"]["scored_new"] == 24 and summary["scoring"]["tokens_per_s"] > 0
    by = summary["by_criterion"]
    # 6 SQL conversations carry 5 tags; conversation 6 alone has the once-seen "rare skill" tag
    assert by["multi_skill"] == 6 and by["long_tail"] == 1 and by["hard"] == 1
    with res.store.engine.connect() as conn:
        seeds = {r.conversation_id: json.loads(r.criteria) for r in conn.execute(sa.select(Seed.__table__))}
        decisions = conn.execute(sa.text("SELECT action, subject, reason, evidence FROM decisions "
                                         "WHERE node='seed_selector'")).all()
    assert seeds[6] == ["long_tail"] or "long_tail" in seeds[6]
    assert all("multi_skill" in seeds[k] for k in (2, 6, 10, 14, 18, 22))
    chosen = [d for d in decisions if d.action == "select_seed"]
    assert len(chosen) == len(seeds)
    ev = json.loads(next(d.evidence for d in chosen if d.subject == "conversation:6"))
    assert ev["rarest_tag"] == "rare skill" and ev["rarest_freq"] == 1 and ev["base_loss"] > 0
    assert any(d.action == "near_miss" for d in decisions) and any(d.action == "finetune" for d in decisions)

    # a second round finds the same pool already scored and chosen: no new scoring, no retraining, no repeats
    again = run(res, 2, strategy="criteria")
    assert again["scoring"]["scored_new"] == 0 and again["already_seeds"] == len(seeds)
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM decisions WHERE action='finetune'")).scalar() == 1
        second = set(conn.execute(sa.text("SELECT conversation_id FROM seeds WHERE round = 2")).scalars())
    assert len(second) == again["seeds_new"] and not second & set(seeds)


def test_steering_from_the_console_changes_the_seeds(res):
    add_pool(res)
    set_user_priority(res.store, "criterion", "multi_skill", 0.0)
    set_user_priority(res.store, "criterion", "hard", 3.0)
    summary = run(res, 1, strategy="criteria", dry_run=True)
    assert summary["by_criterion"]["multi_skill"] == 0 and summary["by_criterion"]["hard"] == 3
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Seed.__table__)).scalar() == 0  # dry run


def test_ila_uses_one_stored_projection(res):
    add_pool(res)
    embed_conversations(res.store, res.vectors, res.embedder, res.conversations)
    first = run(res, 1, strategy="ila")
    path = res.config.home / "projection.json"
    assert path.exists() and first["by_criterion"]["ila"] == first["seeds_new"] > 0
    assert first["cells_covered"] == first["seeds_new"]  # one seed per cell before any cell gives a second
    stamp = path.stat().st_mtime_ns
    run(res, 2, strategy="both")
    assert path.stat().st_mtime_ns == stamp  # fitted once, only applied afterwards
    bad = res.config.model_copy(update={"embedding": res.config.embedding.model_copy(update={"model": "other"})})
    from agents.resources import Resources
    from tools.projection import ProjectionError
    with pytest.raises(ProjectionError, match="fitted on minilm"):
        run(Resources(bad), 3, strategy="ila")
