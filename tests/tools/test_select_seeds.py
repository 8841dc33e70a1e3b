"""Seed selection on a real SQLite store, real Chroma, the configured embedder's vectors and the real SmolLM2
scorer: totals over rounds on a growing pool, steering, ILA's cells on the stored plane, the projection sample."""
import json

import numpy as np
import pytest
import sqlalchemy as sa

from state.models import Conversation, Domain, Seed, Tag
from state.steering import set_user_priority
from state.tags import link_tags, tag_ids
from tools.formats import content_hash
from tools.loss_scorer import scorer_from_config
from tools.instructions import embed_conversations
from tools.seed_frame import build_frame, grid_cells
from tools.semantic_map import sample_vectors
from tools.seeds import depth
from tools.select_seeds import select_round

TOPICS = [("python", ["python programming", "debugging"], "software"),
          ("sql", ["sql queries", "database design", "indexing", "query planning", "transactions"], "software"),
          ("bread", ["baking", "recipe writing"], "food"),
          ("haiku", ["poetry composition", "syllable counting", "imagery"], "writing")]


def run(res, round_, **kw):
    return select_round(res.store, res.vectors, res.assets, res.config, round_, **kw)


def add_pool(res, n=24, start=0, rare=5):
    """n tagged conversations (k = start .. start+n-1, ids k+1 on an empty store); conversation rare+1 alone carries
    the tag 'rare skill k'; every fourth one (the SQL topic) has five tags."""
    store = res.store
    with store.session() as s:
        known = {d.name for d in s.query(Domain).all()}
        for name in sorted({t[2] for t in TOPICS} - known):
            s.add(Domain(name=name, description=""))
        s.commit()
        dom_id = {d.name: d.id for d in s.query(Domain).all()}
    convs = []
    for k in range(start, start + n):
        topic, tags, dom = TOPICS[k % len(TOPICS)]
        msgs = [{"role": "user", "content": f"Question {k} about {topic}: how do I get started?"},
                {"role": "assistant", "content": f"For {topic}, start small. Step {k}: read, try, repeat."}]
        convs.append((msgs, tags + ([f"rare skill {k}" if k != 5 else "rare skill"] if k == rare else []), dom))
    with store.session() as s:
        for msgs, _, _ in convs:
            s.add(Conversation(content_hash=content_hash(msgs), messages=json.dumps(msgs), source="t", lang="en",
                               n_turns=1, n_chars=50))
        s.commit()
    for cid, (_, tags, dom) in enumerate(convs, start=start + 1):
        ids = tag_ids(store, tags, "en")
        link_tags(store, [(cid, ids[t]) for t in tags])
        with store.engine.begin() as conn:
            conn.execute(sa.update(Tag.__table__).where(Tag.__table__.c.id.in_(list(ids.values())))
                         .values(status="canonical", domain_id=dom_id[dom]))
    return convs


def seeds_by_round(res) -> dict[int, dict[int, list[str]]]:
    with res.store.engine.connect() as conn:
        rows = conn.execute(sa.select(Seed.__table__.c.round, Seed.__table__.c.conversation_id,
                                      Seed.__table__.c.criteria)).all()
    out: dict[int, dict[int, list[str]]] = {}
    for rnd, cid, crits in rows:
        out.setdefault(rnd, {})[cid] = json.loads(crits)
    return out


def test_run_scores_finetunes_and_selects_with_evidence(res):
    add_pool(res)
    # a pool size that makes the hard quota grow with the pool: ceil(50,000 x 24 / 300,000) = 4, then 8 at 48
    res.config.taxonomy.paper_pool_size = 300_000
    res.config.finetune.refresh_growth = 10.0  # one M_FT for both rounds (a retrain is tested in test_finetune)
    summary = run(res, 1, strategy="criteria")
    assert summary["scoring"]["scored_new"] == 24 and summary["scoring"]["tokens_per_s"] > 0
    assert summary["cells_covered"] is None  # no grid without ILA: no cell count, rather than a false 0
    by = summary["by_criterion"]
    # 6 SQL conversations carry 5 tags; conversation 6 alone has the once-seen "rare skill" tag
    assert by["multi_skill"] == 6 and by["long_tail"] == 1 and by["hard"] == summary["cuts"]["hard_quota"] == 4
    with res.store.engine.connect() as conn:
        decisions = conn.execute(sa.text("SELECT action, subject, reason, evidence FROM decisions "
                                         "WHERE node='seed_selector'")).all()
    seeds = seeds_by_round(res)[1]
    # conversation 6 is an SQL one (five tags) with the rare tag: both criteria keep it, in the paper's order
    assert {"long_tail", "multi_skill"} <= set(seeds[6])
    assert seeds[6].index("long_tail") < seeds[6].index("multi_skill")
    assert all("multi_skill" in seeds[k] for k in (2, 6, 10, 14, 18, 22))
    chosen = [d for d in decisions if d.action == "select_seed"]
    assert len(chosen) == len(seeds)
    ev = json.loads(next(d.evidence for d in chosen if d.subject == "conversation:6"))
    assert ev["rarest_tag"] == "rare skill" and ev["rarest_freq"] == 1 and ev["base_loss"] > 0
    assert any(d.action == "near_miss" for d in decisions) and any(d.action == "finetune" for d in decisions)

    # the pool doubles: round 2 scores only the new half and adds only what brings each criterion to its total
    add_pool(res, start=24, rare=29)
    again = run(res, 2, strategy="criteria")
    assert again["scoring"]["scored_new"] == 24 and again["already_seeds"] == len(seeds)
    assert again["held_before"]["hard"] == 4 and again["cuts"]["hard_quota"] == 8
    assert again["by_criterion"]["hard"] == 4  # 8 in total, not 4 + 8
    second = seeds_by_round(res)[2]
    assert len(second) == again["seeds_new"] > 0 and not set(second) & set(seeds)
    assert {k for k, c in second.items() if "multi_skill" in c} == {26, 30, 34, 38, 42, 46}  # the new SQL ones
    assert {k for k, c in second.items() if "long_tail" in c} == {30}  # k=29 carries the new once-seen tag
    held = {c: sum(c in v for r in seeds_by_round(res).values() for v in r.values()) for c in ("hard", "undertrained")}
    assert held["hard"] == 8 and held["undertrained"] <= again["cuts"]["undertrained_quota"]
    with res.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM decisions WHERE action='finetune'")).scalar() == 1

    # an unchanged pool: every quota is met and every match taken, so a third round adds nothing
    third = run(res, 3, strategy="criteria")
    assert third["seeds_new"] == 0 and third["scoring"]["scored_new"] == 0


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
    # a 3 x 3 grid and a budget above the number of non-empty cells, so the visiting order shows: every non-empty
    # cell gives one seed before any gives a second, and within a cell the deepest go first
    res.config.selection.ila_grid, res.config.selection.ila_budget = 3, 10
    first = run(res, 1, strategy="ila")
    path = res.config.home / "map-tsne.pkl"  # the default map
    assert path.exists() and first["by_criterion"]["ila"] == first["seeds_new"] == 10
    f = build_frame(res.store, scorer_from_config(res.config, res.assets).key)  # the losses round 1 cached
    cells, _ = grid_cells(res.store, res.vectors, res.conversations, res.config.home, res.config.embedding.model, f,
                          res.config.selection)
    d = depth(f)
    row = {int(i): k for k, i in enumerate(f.ids)}
    seeds = seeds_by_round(res)[1]
    assert (cells >= 0).all()  # every candidate has a vector
    per_cell, taken = np.bincount(cells, minlength=9), np.bincount(cells[[row[c] for c in seeds]], minlength=9)
    assert (per_cell > 0).sum() >= 2  # the plane puts the four topics in more than one cell
    assert first["cells_covered"] == (taken > 0).sum() == (per_cell > 0).sum()  # budget 10 >= non-empty cells
    m = taken.max()
    for c in np.flatnonzero(per_cell):
        ranked = sorted(np.flatnonzero(cells == c), key=lambda k: -d[k])
        assert {int(f.ids[k]) for k in ranked[:taken[c]]} == {s for s in seeds if cells[row[s]] == c}  # deepest
        assert taken[c] >= min(per_cell[c], m - 1)  # no cell gives a k-th seed while another lacks its (k-1)-th
    last = [d[sorted(np.flatnonzero(cells == c), key=lambda k: -d[k])[m - 1]] for c in np.flatnonzero(taken == m)]
    short = [d[sorted(np.flatnonzero(cells == c), key=lambda k: -d[k])[m - 1]]
             for c in np.flatnonzero((taken == m - 1) & (per_cell >= m))]
    assert not short or min(last) >= max(short)  # within the last round, the deepest went first
    stamp = path.stat().st_mtime_ns
    run(res, 2, strategy="both")
    assert path.stat().st_mtime_ns == stamp  # fitted once, only applied afterwards
    bad = res.config.model_copy(update={"embedding": res.config.embedding.model_copy(update={"model": "other"})})
    from agents.resources import Resources
    from tools.projection import ProjectionError
    with pytest.raises(ProjectionError, match=f"fitted on {res.config.embedding.model}"):
        run(Resources(bad), 3, strategy="ila")


def test_projection_sample_is_seeded_and_spans_sources_ingested_in_order(res):
    # two sources embedded one after the other; a sample of a third of them must not be the first pool's vectors
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(300, 8)) + 5, rng.normal(size=(300, 8)) - 5
    res.vectors.upsert("sample-test", [f"a{k:03d}" for k in range(300)], first.astype(np.float32))
    res.vectors.upsert("sample-test", [f"b{k:03d}" for k in range(300)], second.astype(np.float32))
    ids, vecs = sample_vectors(res.vectors, "sample-test", 200, seed=7)
    assert len(ids) == len(set(ids)) == 200 and vecs.shape == (200, 8)
    share = sum(i.startswith("a") for i in ids) / len(ids)
    assert 0.4 < share < 0.6, share  # the first N Chroma returns would be all from the first source
    assert np.allclose(vecs[ids.index(ids[0])], res.vectors.get_vectors("sample-test", [ids[0]])[ids[0]])
    assert sample_vectors(res.vectors, "sample-test", 200, seed=7)[0] == ids
    assert sample_vectors(res.vectors, "sample-test", 200, seed=8)[0] != ids
    assert sorted(sample_vectors(res.vectors, "sample-test", 1000, seed=7)[0]) == sorted(
        [f"a{k:03d}" for k in range(300)] + [f"b{k:03d}" for k in range(300)])  # a small store is taken whole
    # the stored plane is fitted on that sample: centred between the two sources, not on the first one (+5)
    from tools.projection import Projection, projection_path
    from tools.tsne_map import TsneMap, tsne_path
    pca = res.config.selection.model_copy(update={"map_method": "pca", "projection_sample": 200, "ila_grid": 10})
    grid_cells(res.store, res.vectors, "sample-test", res.config.home, "m", build_frame(res.store, "k"), pca, 7)
    proj = Projection.load(projection_path(res.config.home))
    assert proj.fitted_on == 200 and abs(np.mean(proj.mean)) < 1.0, proj.mean
    unset = res.config.selection.model_copy(update={"ila_grid": 10})  # map_method unset: the home keeps its PCA
    grid_cells(res.store, res.vectors, "sample-test", res.config.home, "m", build_frame(res.store, "k"), unset, 7)
    assert not tsne_path(res.config.home).exists()
    tsne = res.config.selection.model_copy(update={"map_method": "tsne", "map_sample": 150})
    grid_cells(res.store, res.vectors, "sample-test", res.config.home, "m", build_frame(res.store, "k"), tsne, 7)
    assert TsneMap.load(tsne_path(res.config.home)).fitted_on == 150
