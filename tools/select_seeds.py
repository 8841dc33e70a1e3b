"""The seed selector's work: score tagged conversations, fine-tune M_FT when needed, select informative seeds.

Order of work each round: (1) base-model loss of tagged conversations not yet scored (``scoring.max_per_round``),
(2) M_FT re-trained only when none fits the current domains (tools.finetune.needs_refresh), then its loss on the
scored rows, (3) the paper's four criteria and/or ILA with the coverage analyst's and the console's steering.
Every seed, and every near miss worth showing, is a decision row with the numbers behind it.
"""
from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from settings import ALL_CRITERIA, IloopConfig
from state import decisions, rounds, seeds as seed_repo
from state.conversations import all_ids, content_hashes
from state.dataset import generations
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.diagnosis import held_out_ids
from state.domains import primary_domains
from state.losses import cached_losses, scored_since
from state.seeds import NewSeed
from state.vectors import VectorStore
from tools.assets import AssetStore
from tools.diagnosis_set import hold_out_round
from tools.finetune import NO_DOMAIN, finetune, latest_adapter, needs_refresh
from tools.instructions import conversation_collection
from tools.loss_scorer import LossScorer, scorer_from_config
from tools.scoring import score_conversations
from tools.seed_frame import build_frame, grid_cells, load_steering, skill_tagged_ids
from tools.seeds import combine, depth, resolve_cuts, select_criteria, select_ila


def _kinds(cfg) -> tuple[str, ...]:
    return ("cond", "resp") if cfg.scoring.ifd or cfg.selection.hard_measure == "ifd" else ("cond",)


def score_pool(store: Store, cfg: IloopConfig, scorer: LossScorer, limit: int, round_: int,
               all_conversations: bool = False) -> dict:
    """Score up to ``limit`` (0 = all) tagged conversations the cache has no loss for; returns figures."""
    ids = all_ids(store) if all_conversations else skill_tagged_ids(store)
    hashes = content_hashes(store, ids)
    done = set(ids)
    for kind in _kinds(cfg):  # scored = has every kind this configuration needs
        have = cached_losses(store, scorer.key, hashes.values(), kind)
        done &= {i for i, h in hashes.items() if h in have}
    todo = [i for i in ids if i not in done]
    if limit and len(todo) > limit:
        todo = sorted(random.Random(cfg.seed + round_).sample(todo, limit))
    if todo:
        score_conversations(store, scorer, todo, kinds=_kinds(cfg), cfg=cfg)
    return {"scored_new": len(todo), "scored_total": len(done) + len(todo), "candidates": len(ids),
            "tokens_per_s": round(scorer.tokens_per_s, 1), "padding_share": round(scorer.padding_share, 4)}


def ensure_mft(store: Store, cfg: IloopConfig, scorer: LossScorer, round_: int, force: bool = False):
    """The latest M_FT if it still fits, else a new one trained on the domain-balanced subset."""
    held = held_out_ids(store)  # diagnosis items stay out of every fine-tune, for good
    domain_of = {i: d for i, d in primary_domains(store).items() if i not in held}
    if not domain_of:  # no taxonomy yet: balance is impossible, so M_FT learns from a seeded sample of the pool
        domain_of = {i: NO_DOMAIN for i in all_ids(store) if i not in held}
    current = latest_adapter(cfg.home)
    why = "asked for" if force else needs_refresh(current, domain_of, cfg.finetune, scorer.name)
    if not why:
        return current
    adapter = finetune(store, scorer, domain_of, cfg.finetune, cfg.home, cfg.seed + round_)
    card = adapter.card
    decisions.record_one(store, round_, Node.SEED_SELECTOR, f"adapter:{adapter.fingerprint}", Action.FINETUNE, why,
                         {k: card.get(k) for k in ("base", "conversations", "seen_conversations", "steps", "domains",
                                                   "settings", "train_loss_first", "train_loss_last")})
    return adapter


def _reason(crit: str, k: int, f, cuts, s, extra: dict) -> str:
    if crit == "hard":
        if s.hard_measure == "ifd":
            return f"hard: IFD {f.ifd[k]:.3f} <= 1 (top {cuts.hard_quota} in total)"
        return f"hard: loss reduction {f.base_loss[k] - f.ft_loss[k]:.4f} (smallest {cuts.hard_quota} in total)"
    if crit == "long_tail":
        band = "" if extra["min_freq"][k] < cuts.long_tail_max_freq else ", middle band, drawn"
        return f"long_tail: tag '{f.tag_names[extra['rarest'][k]]}' in {int(extra['min_freq'][k])} conversations " \
               f"(cut {cuts.long_tail_max_freq}{band})"
    if crit == "multi_skill":
        return f"multi_skill: {int(f.n_tags[k])} tags (>= {s.multi_skill_min_tags})"
    if crit == "undertrained":
        return f"undertrained: loss {f.base_loss[k]:.3f} > {cuts.undertrained_threshold:.3f}"
    return f"ila: depth {extra['depth'][k]:.3f} in cell {int(f.cell[k])}"


def _evidence(k: int, f, extra: dict) -> dict[str, Any]:
    num = lambda a: None if a is None or np.isnan(a[k]) else round(float(a[k]), 5)
    ev = {"base_loss": num(f.base_loss), "ft_loss": num(f.ft_loss), "ifd": num(f.ifd),
          "n_tags": int(f.n_tags[k]), "depth": num(extra["depth"]), "weight": round(float(extra["weight"][k]), 3),
          "domain": f.domain_names[f.domain[k]] if f.domain[k] >= 0 else None}
    if extra["rarest"][k] >= 0:
        ev.update(rarest_tag=f.tag_names[extra["rarest"][k]], rarest_freq=int(extra["min_freq"][k]))
    if f.cell is not None:
        ev["cell"] = int(f.cell[k])
    return ev


def select_seeds(store: Store, vectors: VectorStore, cfg: IloopConfig, round_: int, base_key: str,
                 ft_key: str | None, resp_key: str | None, strategy: str | None = None, dry_run: bool = False,
                 scoring: dict | None = None) -> dict:
    """Select the round's seeds; ``scoring``: the round's scoring figures, kept in the summary decision so a
    re-run after a crash reports them as the first run measured them."""
    s = cfg.selection
    strategy = strategy or s.strategy
    done = [] if dry_run else decisions.evidence_of(store, Node.SEED_SELECTOR, Action.SELECT, f"round:{round_}")
    if done:  # this round already selected (a re-run after a crash): its seeds stand, its summary is returned
        return {**done[-1], "resumed": True}
    # Evolutions of evolutions are candidates again, up to the deepest generation allowed
    too_deep = {i for i, g in generations(store).items() if g >= cfg.evolution.max_generation}
    f = build_frame(store, base_key, ft_key, resp_key, too_deep)
    steering = load_steering(store)
    cuts = resolve_cuts(f, s, cfg.taxonomy.paper_pool_size)
    chosen, near, drops = ({}, {}, {}) if strategy == "ila" else select_criteria(f, s, cuts, steering,
                                                                                 cfg.seed + round_)
    proj = {}
    if strategy in ("ila", "both"):
        f.cell, proj = grid_cells(store, vectors, conversation_collection(cfg.embedding.model), cfg.home,
                                  cfg.embedding.model, f, s, cfg.seed)
        chosen["ila"] = select_ila(f, cuts, steering)
    picks = combine(chosen)
    min_freq, rarest = f.min_tag()
    extra = {"min_freq": min_freq, "rarest": rarest, "depth": depth(f), "weight": steering.row_weights(f)}
    new, rows = [], []
    for k, crits in sorted(picks.items()):
        cid = int(f.ids[k])
        ev = _evidence(k, f, extra)
        new.append(NewSeed(cid, round_, strategy, crits, ev))
        rows.append(DecisionRow(round_, Node.SEED_SELECTOR, f"conversation:{cid}", Action.SELECT_SEED,
                                "; ".join(_reason(c, k, f, cuts, s, extra) for c in crits), {**ev, "criteria": crits}))
    for crit, near_rows in near.items():
        for k in near_rows:
            if int(k) not in picks:
                rows.append(DecisionRow(round_, Node.SEED_SELECTOR, f"conversation:{int(f.ids[k])}", Action.NEAR_MISS,
                                        f"{crit}: not chosen", {**_evidence(int(k), f, extra), "criterion": crit}))
    counts = {c: sum(c in v for v in picks.values()) for c in ALL_CRITERIA}
    deep_only = len((too_deep - seed_repo.seed_conversation_ids(store)) & set(f.ids.tolist()))
    cells = f.cell[[k for k in picks]] if f.cell is not None and picks else np.array([], dtype=np.int64)
    summary = {"strategy": strategy, "candidates": len(f.ids), "scored": int((~np.isnan(f.base_loss)).sum()),
               "already_seeds": int(f.exclude.sum()) - deep_only,
               "too_deep": deep_only, "seeds_new": len(picks), "by_criterion": counts,
               "held_before": {c: f.held.get(c, 0) for c in ALL_CRITERIA}, "dropped": drops,
               "cuts": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(cuts).items()},
               # ILA's grid cells of the new seeds; None when no grid was built (criteria alone), not 0
               "cells_covered": int(len(np.unique(cells[cells >= 0]))) if f.cell is not None else None,
               "projection": proj,
               **({"scoring": scoring} if scoring is not None else {})}
    if not dry_run:  # seeds, their decisions and the summary in one transaction: a crash leaves all or none
        rows.append(DecisionRow(round_, Node.SEED_SELECTOR, f"round:{round_}", Action.SELECT,
                                f"{len(picks)} new seeds ({strategy})" + "".join(
                                    f"; dropped {n} ({why})" for why, n in drops.items() if n), summary))
        with store.engine.begin() as conn:
            seed_repo.add_seeds(store, new, conn)
            decisions.record(store, rows, conn)
    return summary


def select_round(store: Store, vectors: VectorStore, assets: AssetStore, cfg: IloopConfig, round_: int,
                 strategy: str | None = None, dry_run: bool = False) -> dict:
    """Score, fine-tune when needed, select: the seed selector node's work, also `iloop select`."""
    base = scorer_from_config(cfg, assets)
    figures = score_pool(store, cfg, base, cfg.scoring.max_per_round, round_)
    start = rounds.started_at(store, round_) if round_ else None
    if start is not None:  # what the round scored, also when a killed run scored part of it
        figures["scored_new"] = scored_since(store, base.key, start)
    ft_key = None
    if figures["scored_total"] and cfg.selection.hard_measure == "reduction":
        adapter = ensure_mft(store, cfg, base, round_)
        tuned = scorer_from_config(cfg, assets, adapter=adapter.path)
        scored = skill_tagged_ids(store)
        hashes = content_hashes(store, scored)
        have = cached_losses(store, base.key, hashes.values(), "cond")
        score_conversations(store, tuned, [i for i in scored if hashes[i] in have], cfg=cfg)
        ft_key = tuned.key
        figures["ft_tokens_per_s"] = round(tuned.tokens_per_s, 1)
    resp_key = base.key if "resp" in _kinds(cfg) else None
    summary = select_seeds(store, vectors, cfg, round_, base.key, ft_key, resp_key, strategy, dry_run, figures)
    if cfg.diagnosis.enabled and not dry_run:  # before the evolver can take them: diagnosis items are never evolved
        summary["held_out"] = hold_out_round(store, cfg, round_, Node.SEED_SELECTOR)
    return {**summary, "scoring": summary.get("scoring", figures)}
