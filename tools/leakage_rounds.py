"""A round's two leakage checks, as the loop's guard nodes and `iloop leakage` run them: the pool (before anything
is tagged or seeded) and the staged candidates (before they become conversations), each with its summary decision.
The guard itself (what is compared, how leaks are recorded) is tools/leakage_guard.py."""
from __future__ import annotations

from typing import Any

from settings import IloopConfig
from state import candidates, conversations, decisions, leaks
from state.decisions import Action, Node
from tools.embedded_server import embedded_servers
from tools.instructions import embed_conversations
from tools.leakage_guard import LeakageGuard, judge_llm


def check_pool(guard: LeakageGuard, cfg: IloopConfig, round_: int, extra_files: list[str] | None = None
               ) -> dict[str, Any]:
    """The pool's check (before anything is tagged or seeded): every stored conversation not yet checked against
    the current benchmark set; leaks are removed."""
    from tqdm import tqdm

    idx = guard.bench_index(extra_files)
    with embedded_servers(cfg, ["judge"] if cfg.leakage.llm_check else []):
        llm = judge_llm(cfg, guard.store, round_)
        todo = conversations.count(guard.store, leaks.not_checked_against(idx.fp))
        with tqdm(total=todo, desc="leakage", unit="conv", mininterval=2) as bar:
            this_call = guard.guard_pool(idx, round_, llm, progress=bar.update)
    # A loop round's totals come from the store (a re-run after a crash reports its killed run's work too), what only
    # this call saw (band matches, screened turns, judge calls) apart; a stage command (round 0) reports its call.
    pool = {**leaks.round_pool_figures(guard.store, round_), "this_call": this_call} if round_ else this_call
    summary = {"benchmark_prompts": len(idx.prompts), "bench_fp": idx.fp[:12], "pool": pool}
    decisions.record_one(guard.store, round_, Node.LEAKAGE_GUARD, f"round:{round_}", Action.CHECK,
                         f"pool: {pool['checked']} checked, {pool['removed']} removed", summary)
    return summary


def check_candidates(guard: LeakageGuard, cfg: IloopConfig, round_: int, extra_files: list[str] | None = None,
                     kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The new items' check: staged candidates are admitted as conversations (and embedded) unless they leak.
    With ``kinds`` (the loop's guards) the figures are the round's candidates of those kinds as the store has
    them, so a guard re-run after a crash reports what its killed run admitted, not an empty pass."""
    idx = guard.bench_index(extra_files)
    with embedded_servers(cfg, ["judge"] if cfg.leakage.llm_check else []):
        new = guard.admit_candidates(idx, round_, judge_llm(cfg, guard.store, round_), kinds)
    if kinds:
        by, ids = candidates.round_outcomes(guard.store, round_, kinds)
        new.update(candidates=sum(by.values()), leaks=by.get("leak", 0), duplicates=by.get("duplicate", 0),
                   admitted=len(set(ids) | set(new["ids"])), ids=sorted(set(ids) | set(new["ids"])))
        # marked checked again (an upsert): a killed run may have admitted them without marking them
        leaks.mark_checked(guard.store, new["ids"], idx.fp, round_)
    if new["ids"]:  # a killed run's admissions may still lack their vectors: embedding skips those it has
        embed_conversations(guard.store, guard.vectors, guard.embedder, guard.conversations)
    summary = {"benchmark_prompts": len(idx.prompts), "bench_fp": idx.fp[:12],
               "candidates": {k: v for k, v in new.items() if k != "ids"}, "admitted_ids": new["ids"]}
    # its own subject: the pool check's summary of the round is "round:<n>" (one summary per subject, state.decisions)
    decisions.record_one(guard.store, round_, Node.LEAKAGE_GUARD, f"round:{round_}:{'+'.join(kinds or ('candidates',))}",
                         Action.CHECK,
                         f"candidates: {new['admitted']} admitted, {new['leaks']} leaks, {new['duplicates']} "
                         f"duplicates", {k: v for k, v in summary.items() if k != "admitted_ids"})
    return summary
