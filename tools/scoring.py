"""Scoring conversations from the store with the SQL cache in front of the scorer.

The cache key is (scorer key, content hash, kind): a duplicate conversation, a re-ingested file or a second run
never pays for the same forward pass twice. Results are written after every chunk, so an interrupted run keeps
what it scored.
"""
from __future__ import annotations

from typing import Iterable

from state.conversations import load_messages
from state.db import Store
from state.losses import KINDS, LossResult, cached_losses, save_losses
from tools.loss_scorer import LossScorer

def score_conversations(store: Store, scorer: LossScorer, ids: list[int], kinds: Iterable[str] = ("cond",),
                        chunk: int = 256, show_progress: bool = True) -> dict[str, dict[int, LossResult]]:
    """kind -> conversation id -> LossResult for every id, scoring only what the cache lacks."""
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
            encoded = dict(zip(todo, scorer.encode([by_hash[h] for h in todo], kind)))
            total = sum(len(e.ids) for e in encoded.values())
            with tqdm(total=total, desc=f"loss/{kind}", unit="tok", unit_scale=True, disable=not show_progress,
                      mininterval=2) as bar:
                for k in range(0, len(todo), chunk):
                    part = todo[k:k + chunk]
                    results = dict(zip(part, scorer.losses([encoded[h] for h in part], progress=bar.update)))
                    save_losses(store, scorer.key, kind, results)
                    have.update(results)
        out[kind] = {i: have[h] for i, (h, _) in convs.items()}
    return out


def ifd(cond: LossResult, resp: LossResult) -> float | None:
    """IFD = loss(response | query) / loss(response); None when either is missing."""
    if cond.loss is None or resp.loss is None or resp.loss <= 0:
        return None
    return cond.loss / resp.loss
