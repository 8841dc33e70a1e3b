"""The measure step's figures: the dataset, the round's new items, the seeds, a random reference and the pool, each
on the same fixed map with the same figures (tools/dataset_figures.py), as metric rows ``<set>_<figure>``.

- ``dataset``: seeds (less diagnosis items) + accepted evolutions + admitted syntheses (state/dataset.py);
- ``new_items``: dataset items that entered this round (seeds selected in it, items generated in it);
- ``seed_set``: the selected seeds alone;
- ``reference``: a random subset of the tagged pool of the dataset's size: would picking at random from the same
  candidates have done as well? Drawn as the first items of one fixed order (tools/difficulty.sample_order), so
  the reference of a bigger dataset contains the smaller one's;
- ``pool``: a sample of the whole pool on the map (the entropy and coverage a set could reach).
Base losses come from the scoring cache; up to ``measure.score_limit`` dataset and reference items that lack one
are scored here, so depth is not measured on the seeds alone.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from settings import IloopConfig
from state.conversations import content_hashes, load_messages
from state.dataset import dataset_parts, generations, generated_lineage, pool_ids, seed_rounds
from state.db import Store
from state.diagnosis import held_out_ids
from state.domains import primary_domains
from state.losses import cached_losses
from state.vectors import VectorStore
from tools.dataset_figures import SetArrays, set_figures
from tools.difficulty import rate, sample_order
from tools.projection import ProjectionError
from tools.seed_frame import skill_tags
from tools.semantic_map import cells_of, ensure_map

logger = logging.getLogger(__name__)
SETS = ("dataset", "new_items", "seed_set", "reference", "pool")


def dataset_sets(store: Store, round_: int, seed: int, pool_sample: int) -> dict[str, list[int]]:
    """The id lists of every set measured this round."""
    seeds, generated = dataset_parts(store)
    dataset = sorted(seeds + generated)
    picked, lineage = seed_rounds(store), generated_lineage(store)
    new = sorted([i for i in seeds if picked.get(i) == round_] + [i for i in generated if lineage[i][1] == round_])
    held = held_out_ids(store)
    tagged = set(skill_tags(store)[0])
    pool = [i for i in pool_ids(store) if i not in held]
    candidates = [i for i in pool if i in tagged]
    order = sample_order(content_hashes(store, candidates), seed)
    pool_order = sample_order(content_hashes(store, pool), seed) if len(pool) > pool_sample else pool
    return {"dataset": dataset, "new_items": new, "seed_set": seeds, "reference": sorted(order[:len(dataset)]),
            "pool": sorted(pool_order[:pool_sample])}


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
                  base_key: str | None, score_missing=None, llm=None) -> dict[str, Any]:
    """Flat metrics of every set (``<set>_<figure>``) plus generation figures. ``score_missing(ids)`` scores
    conversations without a cached base loss (None: measure what the cache has); ``llm``: rate difficulty (None:
    no difficulty figures)."""
    m = cfg.measure
    sets = dataset_sets(store, round_, cfg.seed, m.pool_sample)
    everything = sorted({i for ids in sets.values() for i in ids})
    hashes = content_hashes(store, everything)
    tags_of, info = skill_tags(store)
    canonical = {t for ts in tags_of.values() for t in ts}
    if score_missing is not None and base_key and m.score_limit:
        want = sorted(set(sets["dataset"]) | set(sets["reference"]))
        have = cached_losses(store, base_key, [hashes[i] for i in want], "cond")
        todo = [i for i in want if hashes[i] not in have and tags_of.get(i)][:m.score_limit]
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
    return out


def measure_with_models(store: Store, vectors: VectorStore, collection: str, assets, cfg: IloopConfig,
                        round_: int) -> dict[str, Any]:
    """``measure_round`` with the base scorer (for missing losses) and the difficulty judge started here."""
    from tools.embedded_server import embedded_servers
    from tools.llm import LLM
    from tools.loss_scorer import scorer_from_config
    from tools.scoring import score_conversations

    scorer = scorer_from_config(cfg, assets)
    score = lambda ids: score_conversations(store, scorer, ids, show_progress=False)
    if not cfg.measure.difficulty_sample:
        return measure_round(store, vectors, collection, cfg, round_, scorer.key, score)
    llm = LLM(cfg, store, round_)
    try:
        with embedded_servers(cfg, [cfg.measure.difficulty_role]):
            return measure_round(store, vectors, collection, cfg, round_, scorer.key, score, llm)
    finally:
        llm.close()
