"""Seed-selection commands of `iloop`: score, finetune, select."""
from __future__ import annotations

import json
import sys
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from cli.common import fail, out, resources


def score(limit: Optional[int] = typer.Option(None, help="Conversations to score now (default "
                                                 "scoring.max_per_round; 0 = all)."),
          all_conversations: bool = typer.Option(False, "--all", help="Score untagged conversations too."),
          ifd: bool = typer.Option(False, help="Also score the response alone (IFD)."),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Base-model loss of the responses (cached in SQL); the seed selector's first step."""
    from state.losses import losses_of_model
    from tools.loss_scorer import ScorerError, scorer_from_config
    from tools.select_seeds import score_pool

    res = resources()
    if ifd:
        res.config.scoring.ifd = True
    try:
        scorer = scorer_from_config(res.config, res.assets)
        figures = score_pool(res.store, res.config, scorer,
                             res.config.scoring.max_per_round if limit is None else limit, 0,
                             all_conversations=all_conversations)
    except ScorerError as exc:
        fail(str(exc))
    losses = np.array(losses_of_model(res.store, scorer.key))
    figures.update(model_key=scorer.key, device=scorer.device,
                   loss_mean=round(float(losses.mean()), 4) if len(losses) else None,
                   loss_std=round(float(losses.std()), 4) if len(losses) else None)
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    out.print(f"scored {figures['scored_new']} new conversations ({figures['scored_total']} of "
              f"{figures['candidates']} candidates scored) with {scorer.key} on {scorer.device}: "
              f"{figures['tokens_per_s']} tok/s, padding {figures['padding_share']:.1%}; "
              f"loss mean {figures['loss_mean']} std {figures['loss_std']}")


def finetune(per_domain: Optional[int] = typer.Option(None, help="Conversations per domain (finetune.per_domain)."),
             epochs: Optional[int] = typer.Option(None, help="Passes over the subset (finetune.epochs)."),
             steps: Optional[int] = typer.Option(None, help="Cap on optimizer steps (finetune.steps; 0 = epochs x "
                                                  "subset / batch)."),
             lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (finetune.learning_rate)."),
             force: bool = typer.Option(False, help="Train even if the latest adapter still fits.")) -> None:
    """LoRA fine-tune of the scoring model on a domain-balanced subset (M_FT), saved under <home>/adapters."""
    from state import rounds
    from tools.finetune import FinetuneError
    from tools.loss_scorer import ScorerError, scorer_from_config
    from tools.select_seeds import ensure_mft

    res = resources()
    ft = res.config.finetune
    for name, value in (("per_domain", per_domain), ("epochs", epochs), ("steps", steps), ("learning_rate", lr)):
        if value is not None:
            setattr(ft, name, value)
    round_ = rounds.start_round(res.store, "cli-finetune")
    try:
        scorer = scorer_from_config(res.config, res.assets)
        adapter = ensure_mft(res.store, res.config, scorer, round_, force=force)
    except (FinetuneError, ScorerError) as exc:
        rounds.finish_round(res.store, round_, "failed", {"error": str(exc)})
        fail(str(exc))
    card = adapter.card
    rounds.finish_round(res.store, round_, "done", {"adapter": adapter.path.name})
    seen = card.get("seen_conversations", "?")  # cards written before epochs existed lack it
    out.print(f"adapter {adapter.path} ({card['conversations']} conversations from {len(card['domains'])} domains, "
              f"{seen} seen in {card.get('steps', '?')} steps; training loss {card['train_loss_first']:.4f} -> "
              f"{card['train_loss_last']:.4f})")


def select(strategy: Optional[str] = typer.Option(None, help="criteria | ila | both (default "
                                                   "selection.strategy)."),
           hard_measure: Optional[str] = typer.Option(None, help="reduction | ifd (default selection.hard_measure)."),
           dry_run: bool = typer.Option(False, help="Show what would be chosen; store nothing."),
           as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Score, fine-tune when needed and select informative seeds (the seed selector node, as one command)."""
    from state import rounds
    from tools.finetune import FinetuneError
    from tools.loss_scorer import ScorerError
    from tools.projection import ProjectionError
    from tools.select_seeds import select_round

    if strategy not in (None, "criteria", "ila", "both"):
        fail(f"--strategy {strategy!r}: expected criteria, ila or both")
    if hard_measure not in (None, "reduction", "ifd"):
        fail(f"--hard-measure {hard_measure!r}: expected reduction or ifd")
    res = resources()
    if hard_measure:
        res.config.selection.hard_measure = hard_measure
    round_ = rounds.start_round(res.store, "cli-select")
    try:
        summary = select_round(res.store, res.vectors, res.assets, res.config, round_, strategy=strategy,
                               dry_run=dry_run)
    except (FinetuneError, ScorerError, ProjectionError) as exc:
        rounds.finish_round(res.store, round_, "failed", {"error": str(exc)})
        fail(str(exc))
    rounds.finish_round(res.store, round_, "done", {"seeds": summary["seeds_new"], "dry_run": dry_run})
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        return
    t = Table("criterion", "seeds")
    for crit, n in summary["by_criterion"].items():
        t.add_row(crit, str(n))
    out.print(t)
    cuts = summary["cuts"]
    out.print(f"{summary['seeds_new']} new seeds{' (dry run, nothing stored)' if dry_run else ''} from "
              f"{summary['candidates']} tagged conversations ({summary['scored']} scored, "
              f"{summary['already_seeds']} already seeds"
              + "".join(f"; dropped {n}: {why}" for why, n in summary.get("dropped", {}).items() if n)
              + f"). Cuts (quotas are totals over all rounds): hard quota {cuts['hard_quota']}, long-tail < "
              f"{cuts['long_tail_max_freq']}, middle band < {cuts['mid_band_max_freq']}, undertrained loss > "
              f"{cuts['undertrained_threshold']} (quota {cuts['undertrained_quota']})")
