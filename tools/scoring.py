"""Scoring conversations from the store with the SQL cache in front of the scorer.

The cache key is (scorer key, content hash, kind): a duplicate conversation, a re-ingested file or a second run
never pays for the same forward pass twice. What the cache lacks runs as a bulk step on the configured executor
(tools/executor.py: in this process, or on Ray actors that each load the model once); results are written after
every shard, so an interrupted run keeps what it scored.
"""
from __future__ import annotations

from typing import Iterable

from settings import IloopConfig
from state.conversations import load_messages
from state.db import Store
from state.losses import KINDS, LossResult, cached_losses, save_losses
from tools.bulk_steps import LossStep
from tools.executor import run_step
from tools.loss_scorer import LossScorer


def score_conversations(store: Store, scorer: LossScorer, ids: list[int], kinds: Iterable[str] = ("cond",),
                        show_progress: bool = True, cfg: IloopConfig | None = None
                        ) -> dict[str, dict[int, LossResult]]:
    """kind -> conversation id -> LossResult for every id, scoring only what the cache lacks; ``cfg`` chooses the
    executor and the shard size (without it: this process, no shard markers)."""
    from tqdm import tqdm

    convs = load_messages(store, ids)
    missing = sorted(set(ids) - set(convs))
    if missing:
        raise KeyError(f"conversations not in the store: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    out: dict[str, dict[int, LossResult]] = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown loss kind {kind!r}; expected one of {KINDS}")
        by_hash: dict[str, list[dict]] = {h: m for h, m in convs.values()}
        have = cached_losses(store, scorer.key, by_hash, kind)
        todo = [h for h in by_hash if h not in have]
        if todo:
            step = LossStep.from_scorer(scorer, kind)
            hash_of = {step.item_key(by_hash[h]): h for h in todo}

            def store_shard(part: list, results: list, bar) -> None:
                found = {hash_of[step.item_key(m)]: r for m, r in zip(part, results)}
                save_losses(store, scorer.key, kind, found)
                have.update(found)
                bar.update(len(part))

            with tqdm(total=len(todo), desc=f"loss/{kind}", unit="conv", disable=not show_progress,
                      mininterval=2) as bar:
                run_step(step, [by_hash[h] for h in todo], cfg, on_shard=lambda p, r: store_shard(p, r, bar))
        out[kind] = {i: have[h] for i, (h, _) in convs.items()}
    return out


def ifd(cond: LossResult, resp: LossResult) -> float | None:
    """IFD = loss(response | query) / loss(response); None when either is missing."""
    if cond.loss is None or resp.loss is None or resp.loss <= 0:
        return None
    return cond.loss / resp.loss
