"""The measure step's figures: the dataset, the round's new items, the seeds, a random reference and the pool, each
on the same fixed map with the same figures (tools/dataset_figures.py), as metric rows ``<set>_<figure>``.

- ``dataset``: seeds (less diagnosis items) + accepted evolutions + admitted syntheses (state/dataset.py);
- ``new_items``: dataset items that entered this round (seeds selected in it, items generated in it);
- ``seed_set``: the selected seeds alone;
- ``reference``: a random subset of the tagged pool of the dataset's size: would picking at random from the same
  candidates have done as well? The first items of a fixed seeded order of ids computed in SQL
  (state/dataset.pool_sample), so an item's membership changes only where the dataset or the pool changed; when
  the tagged pool is smaller than the dataset the reference is all of it, and ``dataset_matched`` (a dataset
  subsample of the reference's size) is what round 1 is compared with;
- ``pool``: a sample of the whole pool on the map (the entropy and coverage a set could reach).
Base losses come from the scoring cache; up to ``measure.score_limit`` dataset and reference items that lack one
are scored here (generated items first; the list is kept as a decision, so a re-run scores the same ones), so
depth is not measured on the seeds alone.
"""
from __future__ import annotations

import logging

import numpy as np

from settings import IloopConfig
from state import decisions
from state.conversations import content_hashes, load_messages
from state.dataset import dataset_parts, generations, generated_lineage, pool_sample, seed_rounds
from state.db import Store
from state.decisions import Action, Node
from state.domains import primary_domains
from state.losses import cached_losses
from state.vectors import VectorStore
from tools.dataset_figures import SetArrays, set_figures
from tools.difficulty import rate, sample_order
from tools.projection import ProjectionError
from tools.seed_frame import skill_tags
from tools.semantic_map import cells_of, ensure_map

logger = logging.getLogger(__name__)
SETS = ("dataset", "new_items", "seed_set", "reference", "pool", "matched_dataset")


def dataset_sets(store: Store, round_: int, seed: int, pool_n: int) -> dict[str, list[int]]:
    """The id lists of every set measured this round."""
    seeds, generated = dataset_parts(store)
    dataset = sorted(seeds + generated)
    picked, lineage = seed_rounds(store), generated_lineage(store)
    new = sorted([i for i in seeds if picked.get(i) == round_] + [i for i in generated if lineage[i][1] == round_])
    return {"dataset": dataset, "new_items": new, "seed_set": seeds,
            "reference": pool_sample(store, len(dataset), seed, tagged_only=True),
            "pool": pool_sample(store, pool_n, seed, tagged_only=False)}


def scoring_list(store: Store, round_: int, sets: dict[str, list[int]], hashes: dict[int, str],
                 tags_of: dict[int, list[int]], base_key: str, limit: int, seed: int) -> list[int]:
    """The round's items to score for depth, chosen once and kept as a decision, so a re-run after a crash scores
    the same ones: tagged items without a base loss, the dataset's generated items first (a seed has one from its
    selection), then its seeds, then the reference, each in the fixed seeded order, at most ``limit``."""
    subject = f"round:{round_}:score"
    stored = decisions.evidence_of(store, Node.MEASURE, Action.SCORE, subject) if round_ else []
    if stored:
        return [int(i) for i in stored[-1]["ids"]]
    seeds = set(sets["seed_set"])
    groups = [[i for i in sets["dataset"] if i not in seeds], sets["seed_set"], sets["reference"]]
    chosen: list[int] = []
    for group in groups:
        taken = set(chosen)
        lacking = [i for i in group if tags_of.get(i) and i not in taken]
        have = cached_losses(store, base_key, [hashes[i] for i in lacking], "cond")
        chosen += sample_order({i: hashes[i] for i in lacking if hashes[i] not in have}, seed)
        if len(chosen) >= limit:
            break
    chosen = chosen[:limit]
    if round_:
        decisions.record_one(store, round_, Node.MEASURE, subject, Action.SCORE,
                             f"{len(chosen)} dataset and reference items without a base loss", {"ids": chosen})
    return chosen


def _first_query(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def _difficulty(llm, store: Store, ids: list[int], hashes: dict[int, str], k: int, seed: int, role: str,
                cache: dict[int, int | None]) -> tuple[list[int], int]:
    """Difficulty of the first ``k`` ids in the fixed order; ``cache`` spares a second call within one round when
    two sets share an item."""
    pick = sample_order({i: hashes[i] for i in ids if i in hashes}, seed)[:k]
    todo = [i for i in pick if i not in cache]
    if todo:
        msgs = load_messages(store, todo)
        values, _ = rate(llm, [_first_query(msgs[i][1]) for i in todo], role)
        cache.update(zip(todo, values))
    got = [cache[i] for i in pick]
    return [v for v in got if v is not None], sum(v is None for v in got)


def measure_round(store: Store, vectors: VectorStore, collection: str, cfg: IloopConfig, round_: int,
                  base_key: str | None, score_missing=None, llm=None) -> tuple[dict[str, float], str]:
    """(flat metrics of every set, ``<set>_<figure>``, plus generation figures; the map's id, '' without one).
    ``score_missing(ids)`` scores
    conversations without a cached base loss (None: measure what the cache has); ``llm``: rate difficulty (None:
    no difficulty figures)."""
    m = cfg.measure
    sets = dataset_sets(store, round_, cfg.seed, m.pool_sample)
    everything = sorted({i for ids in sets.values() for i in ids})
    hashes = content_hashes(store, everything)
    tags_of, info = skill_tags(store)
    canonical = {t for ts in tags_of.values() for t in ts}
    if score_missing is not None and base_key and m.score_limit:
        todo = scoring_list(store, round_, sets, hashes, tags_of, base_key, m.score_limit, cfg.seed)
        have = cached_losses(store, base_key, [hashes[i] for i in todo], "cond")
        todo = [i for i in todo if hashes[i] not in have]
        if todo:
            logger.info("measure: scoring %d dataset and reference conversations without a base loss", len(todo))
            score_missing(todo)
    losses = cached_losses(store, base_key, list(hashes.values()), "cond") if base_key else {}
    try:
        proj = ensure_map(vectors, collection, cfg.home, cfg.embedding.model, cfg.selection, cfg.seed, store)
        cells = dict(zip(everything, cells_of(store, vectors, collection, proj, everything, cfg.selection.ila_grid)))
    except ProjectionError as exc:  # nothing embedded yet: no map figures this round, the rest still counts
        logger.warning("measure: no map figures this round: %s", exc)
        proj, cells = None, {i: -1 for i in everything}
    domains = primary_domains(store, everything)
    rated: dict[int, int | None] = {}
    out: dict[str, float] = {}
    if len(sets["reference"]) < len(sets["dataset"]):  # a tagged pool smaller than the dataset: compare at its size
        sets["matched_dataset"] = sorted(sample_order({i: hashes[i] for i in sets["dataset"]}, cfg.seed)[
            :len(sets["reference"])])
    for name, ids in sets.items():
        if name == "pool" and not ids:
            continue
        vec_ids = sample_order({i: hashes[i] for i in ids}, cfg.seed)[:m.vendi_sample]
        got = vectors.get_vectors(collection, [hashes[i] for i in vec_ids])
        vecs = np.stack([got[hashes[i]] for i in vec_ids if hashes[i] in got]) if got else None
        difficulty, rejected = ([], 0) if llm is None or name == "pool" or not m.difficulty_sample else \
            _difficulty(llm, store, ids, hashes, m.difficulty_sample, cfg.seed, m.difficulty_role, rated)
        loss = np.array([losses[hashes[i]].loss if hashes[i] in losses and losses[hashes[i]].loss is not None
                         else np.nan for i in ids], dtype=float)
        arrays = SetArrays(np.array([cells[i] for i in ids], dtype=np.int64),
                           np.array([len(tags_of.get(i, ())) for i in ids]), loss,
                           [domains.get(i) for i in ids], [tags_of.get(i, []) for i in ids], vecs, difficulty)
        figures = set_figures(arrays, len(canonical))
        if difficulty or rejected:
            figures["difficulty_rejected"] = float(rejected)
        out.update({f"{name}_{k}": v for k, v in figures.items()})
    gen = generations(store)
    in_dataset = [gen[i] for i in sets["dataset"] if i in gen]
    out["generation_max"] = float(max(in_dataset, default=0))
    out["generation_new_max"] = float(max((gen[i] for i in sets["new_items"] if i in gen), default=0))
    for g in sorted(set(in_dataset)):
        out[f"generation_{g}_items"] = float(in_dataset.count(g))
    out["map_fitted_on"] = float(proj.fitted_on) if proj else 0.0
    return out, (proj.map_id if proj else "")


def measure_with_models(store: Store, vectors: VectorStore, collection: str, assets, cfg: IloopConfig,
                        round_: int) -> tuple[dict[str, float], str]:
    """``measure_round`` with the base scorer (for missing losses) and the difficulty judge started here."""
    from tools.embedded_server import embedded_servers
    from tools.llm import LLM
    from tools.loss_scorer import scorer_from_config
    from tools.scoring import score_conversations

    scorer = scorer_from_config(cfg, assets)
    score = lambda ids: score_conversations(store, scorer, ids, show_progress=False, cfg=cfg)
    if not cfg.measure.difficulty_sample:
        return measure_round(store, vectors, collection, cfg, round_, scorer.key, score)
    llm = LLM(cfg, store, round_)
    try:
        with embedded_servers(cfg, [cfg.measure.difficulty_role]):
            return measure_round(store, vectors, collection, cfg, round_, scorer.key, score, llm)
    finally:
        llm.close()
