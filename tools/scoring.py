"""Scoring conversations from the store with the SQL cache in front of the scorer.

The cache key is (scorer key, content hash, kind): a duplicate conversation, a re-ingested file or a second run
never pays for the same forward pass twice. What the cache lacks runs as a bulk step on the configured executor
(tools/executor.py: in this process, or on Ray actors that each load the model once); results are written after
every shard, so an interrupted run keeps what it scored.
"""
from __future__ import annotations

from typing import Iterable

from settings import IloopConfig
from state.conversations import content_hashes, load_messages
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

    hashes = content_hashes(store, ids)
    missing = sorted(set(ids) - set(hashes))
    if missing:
        raise KeyError(f"conversations not in the store: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    out: dict[str, dict[int, LossResult]] = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown loss kind {kind!r}; expected one of {KINDS}")
        # the cache is asked by content hash first: a round whose losses are all cached (the M_FT pass over every
        # scored conversation, a resumed run) decodes no messages; at 1M conversations that was ~6 GB of objects
        have = cached_losses(store, scorer.key, set(hashes.values()), kind)
        first_id = {h: i for i, h in hashes.items() if h not in have}
        if first_id:
            by_hash = {h: m for h, m in load_messages(store, sorted(first_id.values())).values()}
            step = LossStep.from_scorer(scorer, kind)
            hash_of = {step.item_key(m): h for h, m in by_hash.items()}

            def store_shard(part: list, results: list, bar) -> None:
                found = {hash_of[step.item_key(m)]: r for m, r in zip(part, results)}
                save_losses(store, scorer.key, kind, found)
                have.update(found)
                bar.update(len(part))

            with tqdm(total=len(by_hash), desc=f"loss/{kind}", unit="conv", disable=not show_progress,
                      mininterval=2) as bar:
                run_step(step, list(by_hash.values()), cfg, on_shard=lambda p, r: store_shard(p, r, bar))
        out[kind] = {i: have[h] for i, h in hashes.items()}
    return out


def ifd(cond: LossResult, resp: LossResult) -> float | None:
    """IFD = loss(response | query) / loss(response); None when either is missing."""
    if cond.loss is None or resp.loss is None or resp.loss <= 0:
        return None
    return cond.loss / resp.loss
