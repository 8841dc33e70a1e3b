"""A dry run of the seed selector for the console's Steering page: the seeds each criterion and each domain would
get from the pool as it is scored now, under the current steering and under a proposed change (weights and the
steerable quotas). Nothing is written, and nothing is scored: the preview reads the loss cache, so it runs in
seconds, and it covers the four criteria (ILA needs the map's grid and is left to the round itself)."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from settings import IloopConfig
from settings.steerable import with_settings
from state.dataset import generations
from state.db import Store
from state.domains import NO_DOMAIN
from state.losses import counts_by_model
from tools.finetune import latest_adapter
from tools.loss_scorer import scorer_from_config
from tools.seed_frame import build_frame, load_steering
from tools.seeds import combine, resolve_cuts, select_criteria


def _domain_name(f, k: int) -> str:
    return f.domain_names[f.domain[k]] if f.domain[k] >= 0 else NO_DOMAIN


def _picks(f, cfg: IloopConfig, steering, seed: int) -> dict[str, Any]:
    cuts = resolve_cuts(f, cfg.selection, cfg.taxonomy.paper_pool_size)
    chosen, _, _ = select_criteria(f, cfg.selection, cuts, steering, seed)
    picks = combine(chosen)
    by_domain = Counter(_domain_name(f, k) for k in picks)
    return {"seeds": len(picks), "by_criterion": {c: len(v) for c, v in chosen.items()},
            "by_domain": dict(sorted(by_domain.items()))}


def preview_selection(store: Store, assets, cfg: IloopConfig, weights: dict[str, dict[str, float]],
                      settings: dict[str, float], seed_round: int) -> dict[str, Any]:
    """{"current": ..., "proposed": ...} new seeds per criterion and per domain; ``weights``: kind -> key ->
    weight replacing the stored ones (the rest stay), ``settings``: steered values for the proposal."""
    if not counts_by_model(store):
        return {"error": "nothing is loss-scored yet: the seed selector scores the pool in its first round"}
    base = scorer_from_config(cfg, assets)
    adapter = latest_adapter(cfg.home)
    ft_key = scorer_from_config(cfg, assets, adapter=adapter.path).key if (
        adapter is not None and cfg.selection.hard_measure == "reduction") else None
    resp_key = base.key if cfg.scoring.ifd or cfg.selection.hard_measure == "ifd" else None
    too_deep = {i for i, g in generations(store).items() if g >= cfg.evolution.max_generation}
    f = build_frame(store, base.key, ft_key, resp_key, too_deep)
    now = load_steering(store)
    proposed = replace(now, **{kind: {**getattr(now, kind), **keys} for kind, keys in weights.items()
                               if hasattr(now, kind)})
    seed = cfg.seed + seed_round
    # what a domain weight can act on: a domain with no open candidate changes nothing, and the page says so
    open_rows = np.flatnonzero(~f.exclude) if f.exclude is not None else np.arange(len(f.ids))
    return {"candidates": len(open_rows), "candidates_by_domain": dict(Counter(_domain_name(f, k) for k in open_rows)),
            "current": _picks(f, cfg, now, seed),
            "proposed": _picks(f, with_settings(cfg, settings), proposed, seed)}
