"""seed_selector: scores tagged conversations, fine-tunes M_FT when needed and selects informative seeds.

Order of work each round: (1) base-model loss of tagged conversations not yet scored (``scoring.max_per_round``),
(2) M_FT re-trained only when none fits the current domains (tools.finetune.needs_refresh), then its loss on the
scored rows, (3) the paper's four criteria and/or ILA with the coverage analyst's and the console's steering.
Every seed, and every near miss worth showing, is a decision row with the numbers behind it.
"""
from __future__ import annotations

import math
import random
import sys
from typing import Any, Callable

import numpy as np
from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.models import Seed, utcnow
from tools.finetune import NO_DOMAIN, finetune, latest_adapter, needs_refresh
from tools.loss_scorer import LossScorer, scorer_from_config
from tools.scoring import all_conversation_ids, cached_losses, content_hashes, score_conversations
from tools.seed_frame import build_frame, grid_cells, load_steering, skill_tags
from tools.seeds import ALL_CRITERIA, combine, depth, resolve_cuts, select_criteria, select_ila
from tools.taxonomy import primary_domains


def _stderr(msg: str) -> None:
    # stdout belongs to the CLI's machine-readable output (`iloop run` prints JSON there)
    print(msg, file=sys.stderr, flush=True)


def _kinds(cfg) -> tuple[str, ...]:
    return ("cond", "resp") if cfg.scoring.ifd or cfg.selection.hard_measure == "ifd" else ("cond",)


def score_pool(res, scorer: LossScorer, limit: int, round_: int, all_conversations: bool = False) -> dict:
    """Score up to ``limit`` (0 = all) tagged conversations the cache has no loss for; returns figures."""
    ids = all_conversation_ids(res.store) if all_conversations else sorted(skill_tags(res.store)[0])
    hashes = content_hashes(res.store, ids)
    done = set(ids)
    for kind in _kinds(res.config):  # scored = has every kind this configuration needs
        have = cached_losses(res.store, scorer.key, hashes.values(), kind)
        done &= {i for i, h in hashes.items() if h in have}
    todo = [i for i in ids if i not in done]
    if limit and len(todo) > limit:
        todo = sorted(random.Random(res.config.seed + round_).sample(todo, limit))
    if todo:
        score_conversations(res.store, scorer, todo, kinds=_kinds(res.config))
    return {"scored_new": len(todo), "scored_total": len(done) + len(todo), "candidates": len(ids),
            "tokens_per_s": round(scorer.tokens_per_s, 1), "padding_share": round(scorer.padding_share, 4)}


def ensure_mft(res, scorer: LossScorer, round_: int, force: bool = False, log: Callable[[str], None] = _stderr):
    """The latest M_FT if it still fits, else a new one trained on the domain-balanced subset."""
    domain_of = primary_domains(res.store)
    if not domain_of:  # no taxonomy yet: balance is impossible, so M_FT learns from a seeded sample of the pool
        domain_of = {i: NO_DOMAIN for i in all_conversation_ids(res.store)}
    cfg = res.config
    current = latest_adapter(cfg.home)
    why = "asked for" if force else needs_refresh(current, domain_of, cfg.finetune, scorer.name)
    if not why:
        return current
    adapter = finetune(res.store, scorer, domain_of, cfg.finetune, cfg.home, cfg.seed + round_, log=log)
    card = adapter.card
    res.store.record_decision(round_, "seed_selector", f"adapter:{adapter.fingerprint}", "finetune", why,
                              {k: card[k] for k in ("base", "conversations", "domains", "settings",
                                                    "train_loss_first", "train_loss_last")})
    return adapter


def _reason(crit: str, k: int, f, cuts, s, extra: dict) -> str:
    if crit == "hard":
        if s.hard_measure == "ifd":
            return f"hard: IFD {f.ifd[k]:.3f} (top {cuts.hard_quota})"
        return f"hard: loss reduction {f.base_loss[k] - f.ft_loss[k]:.4f} (smallest {cuts.hard_quota})"
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


def select_seeds(res, round_: int, base_key: str, ft_key: str | None, resp_key: str | None,
                 strategy: str | None = None, dry_run: bool = False, log: Callable[[str], None] = _stderr) -> dict:
    cfg, s = res.config, res.config.selection
    strategy = strategy or s.strategy
    f = build_frame(res.store, base_key, ft_key, resp_key)
    steering = load_steering(res.store)
    cuts = resolve_cuts(f, s, cfg.taxonomy.paper_pool_size)
    chosen, near = ({}, {}) if strategy == "ila" else select_criteria(f, s, cuts, steering, cfg.seed + round_)
    proj = {}
    if strategy in ("ila", "both"):
        f.cell, proj = grid_cells(res, f, s.ila_grid, s.projection_sample, log=log)
        chosen["ila"] = select_ila(f, cuts, steering)
    picks = combine(chosen)
    min_freq, rarest = f.min_tag()
    extra = {"min_freq": min_freq, "rarest": rarest, "depth": depth(f), "weight": steering.row_weights(f)}
    seeds, decisions = [], []
    for k, crits in sorted(picks.items()):
        cid = int(f.ids[k])
        ev = _evidence(k, f, extra)
        seeds.append(dict(conversation_id=cid, round=round_, strategy=strategy, criteria=crits, evidence=ev))
        decisions.append(dict(round=round_, node="seed_selector", subject=f"conversation:{cid}", action="select_seed",
                              reason="; ".join(_reason(c, k, f, cuts, s, extra) for c in crits),
                              evidence={**ev, "criteria": crits}))
    for crit, rows in near.items():
        for k in rows:
            if int(k) not in picks:
                decisions.append(dict(round=round_, node="seed_selector", subject=f"conversation:{int(f.ids[k])}",
                                      action="near_miss", reason=f"{crit}: not chosen",
                                      evidence={**_evidence(int(k), f, extra), "criterion": crit}))
    counts = {c: sum(c in v for v in picks.values()) for c in ALL_CRITERIA}
    cells = f.cell[[k for k in picks]] if f.cell is not None and picks else np.array([], dtype=np.int64)
    summary = {"strategy": strategy, "candidates": len(f.ids), "scored": int((~np.isnan(f.base_loss)).sum()),
               "already_seeds": int(f.exclude.sum()), "seeds_new": len(picks), "by_criterion": counts,
               "cuts": {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(cuts).items()},
               "cells_covered": int(len(np.unique(cells[cells >= 0]))), "projection": proj}
    if not dry_run:
        _store_seeds(res, seeds)
        res.store.record_decisions(decisions)
        res.store.record_decision(round_, "seed_selector", f"round:{round_}", "select",
                                  f"{len(picks)} new seeds ({strategy})", summary)
    return summary


def _store_seeds(res, seeds: list[dict]) -> None:
    import json
    now = utcnow()
    rows = [dict(s, criteria=json.dumps(s["criteria"]), evidence=json.dumps(s["evidence"]), status="selected",
                 created_at=now) for s in seeds]
    for k in range(0, len(rows), 20_000):
        res.store.insert_ignore(Seed.__table__, rows[k:k + 20_000], ["conversation_id"])


def run(res, round_: int, strategy: str | None = None, dry_run: bool = False,
        log: Callable[[str], None] = _stderr) -> dict:
    """Score, fine-tune when needed, select: what the node does, also used by `iloop select`."""
    cfg = res.config
    base = scorer_from_config(cfg, res.assets, log=log)
    figures = score_pool(res, base, cfg.scoring.max_per_round, round_)
    ft_key = None
    if figures["scored_total"] and cfg.selection.hard_measure == "reduction":
        adapter = ensure_mft(res, base, round_, log=log)
        tuned = scorer_from_config(cfg, res.assets, adapter=adapter.path, log=log)
        scored = sorted(skill_tags(res.store)[0])
        hashes = content_hashes(res.store, scored)
        have = cached_losses(res.store, base.key, hashes.values(), "cond")
        score_conversations(res.store, tuned, [i for i in scored if hashes[i] in have])
        ft_key = tuned.key
        figures["ft_tokens_per_s"] = round(tuned.tokens_per_s, 1)
    resp_key = base.key if "resp" in _kinds(cfg) else None
    summary = select_seeds(res, round_, base.key, ft_key, resp_key, strategy, dry_run, log)
    return {**summary, "scoring": figures}


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    round_ = state.get("db_round", 0)
    summary = run(res, round_)
    metrics = {"seeds_new": summary["seeds_new"], "seeds_total": summary["already_seeds"] + summary["seeds_new"],
               "scored_new": summary["scoring"]["scored_new"], "scored_total": summary["scoring"]["scored_total"],
               "seed_cells_covered": summary["cells_covered"]}
    metrics.update({f"seeds_{c}": n for c, n in summary["by_criterion"].items()})
    for key in ("loss_mean", "loss_std", "undertrained_threshold"):
        if summary["cuts"].get(key) is not None:
            metrics[key] = summary["cuts"][key]
    if summary["scoring"]["tokens_per_s"]:
        metrics["scoring_tokens_per_s"] = summary["scoring"]["tokens_per_s"]
    # measure writes these with the round's other metrics
    return {"seeds": {**{k: summary[k] for k in ("strategy", "seeds_new", "by_criterion", "cells_covered")},
                      "metrics": metrics}}
