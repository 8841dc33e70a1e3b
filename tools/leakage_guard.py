"""The leakage guard's work: benchmark prompts in their own Chroma collection, the pool checked once per benchmark
set, staged candidates checked before they become conversations.

A removed pool item is deleted with its tags and seed row and kept whole in the ``leaks`` table; every removal is
a decision row and a line of ``<reports>/leakage-roundNNNN.jsonl``, naming the embedder whose cosine caught it. Every
embedder of ``leakage.models`` compares each user turn with its own nearest benchmark prompts (its own Chroma
collections and preset band); the decision rule and how the embedders' verdicts combine are in tools/leakage.py.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from settings import IloopConfig, LeakageSettings
from state import candidates, conversations, decisions, leaks
from state.conversations import NewConversation
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.leaks import LeakRow
from state.vectors import VectorStore, collection_name
from tools.assets import AssetStore
from tools.embedder import Embedder, cached_vectors
from tools.leakage import (BenchPrompt, ItemCheck, Match, combine, fingerprint, judge_pairs,
                           load_benchmarks, nearest, user_turns)
from tools.leakage_judge import judge_same_task
from tools.llm import LLM


@dataclass
class BenchIndex:
    prompts: dict[str, BenchPrompt]
    collections: dict[str, str]  # embedder (leakage.models entry) -> its collection of the benchmark prompts
    fp: str


class LeakageGuard:
    """``embedder`` is the pool's (embedding.model: its stored instruction vectors are reused for first turns, and
    admitted candidates are embedded with it); ``embedders`` are the guard's, one per leakage.models entry."""

    def __init__(self, store: Store, vectors: VectorStore, embedder: Embedder, assets: AssetStore,
                 settings: LeakageSettings, embedding_model: str, conversation_collection: str,
                 reports_dir: Path, embedders: dict[str, Embedder] | None = None) -> None:
        self.store, self.vectors, self.embedder, self.assets = store, vectors, embedder, assets
        self.settings = settings
        self.embedders = embedders or {embedding_model: embedder}
        # The cosine cuts depend on each embedder's similarity scale: resolved once from leakage.bands.
        self.cuts = {name: settings.for_model(name) for name in self.embedders}
        self.model, self.conversations = embedding_model, conversation_collection
        self.reports_dir = reports_dir
        # leakage.screen, resolved once: the embedder that screens for the others (None: every one reads every turn)
        self.screen = settings.screen if settings.screen in self.embedders and len(self.embedders) > 1 else None
        self.screen_floor = (settings.screen_floor if settings.screen_floor is not None
                             else self.cuts[self.screen].band_low) if self.screen else 0.0
        self.screened: dict[str, int] = {}  # turns each non-screen embedder skipped
        self.judged: dict[str, int] = {}  # the LLM check's pairs: asked, cross-lingual, failed translations

    def bench_index(self, extra_files: list[str] | None = None) -> BenchIndex:
        """Benchmark prompts embedded by every embedder into its own collection (one per prompt set and model, so a
        changed threshold re-checks the pool without re-embedding the prompts)."""
        prompts = load_benchmarks(self.settings, self.assets, extra_files)
        fp = fingerprint(prompts, self.settings, [f"{n}@{c.remove_threshold}/{c.band_low}"
                                                  for n, c in sorted(self.cuts.items())])
        ids = sorted(p.id for p in prompts)
        set_id = hashlib.sha256("".join(ids).encode()).hexdigest()[:12]
        collections = {}
        for name, emb in self.embedders.items():
            collections[name] = collection_name(f"bench-{set_id}", name)
            emb.encode_cached(self.vectors, collections[name], [p.id for p in prompts], [p.text for p in prompts],
                              [{"benchmark": p.benchmark, "ref": p.ref} for p in prompts])
        return BenchIndex({p.id: p for p in prompts}, collections, fp)

    def _turn_vectors(self, name: str, turns: list[list[str]], first: list[np.ndarray | None]) -> np.ndarray:
        """Every turn's vector under one embedder; first turns reuse the stored instruction vector when that
        embedder is the pool's, the rest come from (or go into) the embedder's ``turns`` collection."""
        emb = self.embedders[name]
        if emb.ref.key != self.embedder.ref.key:
            first = [None] * len(turns)
        todo = [t for ts, f in zip(turns, first) for k, t in enumerate(ts) if not (k == 0 and f is not None)]
        fresh = iter(cached_vectors(emb, self.vectors, collection_name("turns", name), todo))
        return np.array([f if k == 0 and f is not None else next(fresh) for ts, f in zip(turns, first)
                         for k, _ in enumerate(ts)], dtype=np.float32).reshape(sum(map(len, turns)), -1)

    def check_items(self, idx: BenchIndex, messages: list[list[dict]], llm=None,
                    first: list[np.ndarray | None] | None = None) -> list[ItemCheck]:
        """One ItemCheck per item; band pairs the n-gram test leaves open go to the judge when llm is given.
        ``first`` may hold each item's stored instruction vector, which is its first user turn."""
        s = self.settings
        turns = [user_turns(m, s.max_turns) for m in messages]
        if not any(turns):
            return [ItemCheck() for _ in turns]
        first = first or [None] * len(turns)
        near_by_model: dict[str, list[list[tuple[BenchPrompt, float]]]] = {}
        screen = self.screen
        if screen:
            near_by_model[screen] = nearest(self._turn_vectors(screen, turns, first), self.vectors,
                                            idx.collections[screen], idx.prompts, s.top_k)
        kept = [max((sim for _, sim in near), default=0.0) >= self.screen_floor for near in near_by_model[screen]
                ] if screen else None
        for name in self.embedders:
            if name in near_by_model:
                continue
            if kept is None:
                near_by_model[name] = nearest(self._turn_vectors(name, turns, first), self.vectors,
                                              idx.collections[name], idx.prompts, s.top_k)
                continue
            # only the turns the screen kept are embedded; a screened-out turn has no neighbour for this model
            marks = iter(kept)
            keep = [[next(marks) for _ in ts] for ts in turns]
            sub = [[t for t, k in zip(ts, ks) if k] for ts, ks in zip(turns, keep)]
            sub_first = [f if ks and ks[0] else None for f, ks in zip(first, keep)]
            found = iter(nearest(self._turn_vectors(name, sub, sub_first), self.vectors, idx.collections[name],
                                 idx.prompts, s.top_k)) if any(kept) else iter(())
            near_by_model[name] = [next(found) if k else [] for ks in keep for k in ks]
            self.screened[name] = self.screened.get(name, 0) + kept.count(False)
        per_model = []
        for name in self.embedders:  # leakage.models order: combine() prefers the first model on a tie
            near, checks, pos = near_by_model[name], [], 0
            for ts in turns:
                checks.append(judge_pairs(ts, near[pos:pos + len(ts)], self.cuts[name], name))
                pos += len(ts)
            per_model.append(checks)
        checks = [combine(list(cs)) for cs in zip(*per_model)]
        if llm is not None:
            open_ = [(c, m) for c in checks for m in c.for_judge()]
            verdicts, counts = judge_same_task(llm, [(m.prompt.text, m.text) for _, m in open_])
            for (c, m), v in zip(open_, verdicts):
                m.llm_verdict = ("same" if v.same else "different") if v.ok else "error"
                m.translation = v.translation
                if v.same:
                    m.method = "llm"
                    c.leak = c.leak or m
            for k, n in counts.items():
                self.judged[k] = self.judged.get(k, 0) + n
        return checks

    def _record(self, round_: int, rows: list[LeakRow], subjects: list[str], checks: list[ItemCheck]) -> None:
        conv, cand = leaks.recorded(self.store, round_, [r.conversation_id for r in rows if r.conversation_id],
                                    [r.candidate_id for r in rows if r.candidate_id])
        keep = [k for k, r in enumerate(rows) if r.conversation_id not in conv and r.candidate_id not in cand]
        rows, subjects, checks = [rows[k] for k in keep], [subjects[k] for k in keep], [checks[k] for k in keep]
        if not rows:
            return
        # leak rows and their decisions in one transaction (a re-run finds a recorded leak and skips it, so the two
        # must never be split); the report's lines after, so a re-run cannot write them twice
        with self.store.engine.begin() as conn:
            leaks.add_leaks(self.store, rows, conn)
            decisions.record(self.store, [DecisionRow(
                round_, Node.LEAKAGE_GUARD, subj, Action.REMOVE_LEAK,
                f"{r.method} ({ch.leak.model}): cosine {r.similarity:.3f}, n-gram {r.ngram:.2f} to {r.benchmark} "
                f"{r.bench_ref}",
                {**{k: getattr(r, k) for k in ("turn", "benchmark", "bench_ref", "similarity", "ngram", "llm_verdict",
                                               "method")}, "model": ch.leak.model, "best": ch.best})
                for r, subj, ch in zip(rows, subjects, checks)], conn)
        report = self.reports_dir / f"leakage-round{round_:04d}.jsonl"
        report.parent.mkdir(parents=True, exist_ok=True)
        keys = ("origin", "source", "turn", "benchmark", "bench_ref", "bench_text", "similarity", "ngram",
                "llm_verdict", "method")
        with open(report, "a", encoding="utf-8") as fh:
            for r, subj, ch in zip(rows, subjects, checks):
                fh.write(json.dumps({"subject": subj, **{k: getattr(r, k) for k in keys}, "model": ch.leak.model,
                                     "best": ch.best, "item": json.loads(r.messages)[0]["content"][:500],
                                     **({"judged_translation": ch.leak.translation} if ch.leak.translation else {})},
                                    ensure_ascii=False) + "\n")

    def guard_pool(self, idx: BenchIndex, round_: int, llm=None, page: int = 2000,
                   progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Check every stored conversation not yet checked against this benchmark set; remove the leaks."""
        figures: dict[str, Any] = {"checked": 0, "removed": 0, "band": 0}
        self.screened, self.judged = {}, {}
        for rows in conversations.pages(self.store, page, where=leaks.not_checked_against(idx.fp)):
            stored = self.vectors.get_vectors(self.conversations, [r.content_hash for r in rows])
            checks = self.check_items(idx, [r.messages for r in rows], llm, [stored.get(r.content_hash) for r in rows])
            found = [(r, ch.leak) for r, ch in zip(rows, checks) if ch.leak]
            self._record(round_, [_leak_row(round_, m, r.origin, r.source, r.content_hash, r.messages,
                                            conversation_id=r.id) for r, m in found],
                         [f"conversation:{r.id}" for r, _ in found], [ch for ch in checks if ch.leak])
            if found:  # vectors first: a crash between leaves a stored item without a vector, checked again
                self.vectors.delete(self.conversations, [r.content_hash for r, _ in found])
                conversations.delete_conversations(self.store, [r.id for r, _ in found])
            leaks.mark_checked(self.store, [r.id for r, ch in zip(rows, checks) if not ch.leak], idx.fp, round_)
            figures["checked"] += len(rows)
            figures["removed"] += len(found)
            figures["band"] += sum(bool(ch.matches) for ch in checks)
            if progress:
                progress(len(rows))
        if self.screened:
            figures["screened_turns"] = dict(self.screened)
        if self.judged:
            figures["judged"] = dict(self.judged)
        return figures

    def admit_candidates(self, idx: BenchIndex, round_: int, llm=None, kinds: tuple[str, ...] | None = None
                         ) -> dict[str, Any]:
        """Pending candidates (of ``kinds``, else all): leaks are refused, duplicates of stored conversations
        dropped, the rest stored. A candidate already stored as its own conversation (``source_ref`` names it: a
        process killed between storing and marking it) is admitted as that conversation, not called a duplicate."""
        rows = candidates.pending(self.store, kinds)
        figures: dict[str, Any] = {"candidates": len(rows), "leaks": 0, "duplicates": 0, "admitted": 0, "ids": []}
        if not rows:
            return figures
        self.judged = {}
        checks = self.check_items(idx, [r.messages for r in rows], llm)
        if self.judged:
            figures["judged"] = dict(self.judged)
        found = [(r, ch.leak) for r, ch in zip(rows, checks) if ch.leak]
        self._record(round_, [_leak_row(round_, m, r.kind, r.kind, r.content_hash, r.messages, candidate_id=r.id)
                              for r, m in found], [f"candidate:{r.id}" for r, _ in found],
                     [ch for ch in checks if ch.leak])
        status: dict[int, tuple[str, int | None]] = {r.id: ("leak", None) for r, _ in found}
        clean = [r for r in rows if r.id not in status]
        refs = conversations.source_refs(self.store, [r.content_hash for r in clean])
        for r in clean:
            if refs.get(r.content_hash, (0, ""))[1] == f"candidate:{r.id}":
                status[r.id] = ("admitted", refs[r.content_hash][0])
                figures["ids"].append(refs[r.content_hash][0])
        clean = [r for r in clean if r.id not in status]
        stored_before = {h: i for h, (i, _) in refs.items()}
        new_ids = conversations.add_conversations(self.store, [NewConversation(
            messages=r.messages, content_hash=r.content_hash, source=r.kind, lang=r.lang, origin=r.kind,
            source_ref=f"candidate:{r.id}", parent_id=r.parent_id, round_created=round_, operation=r.operation)
            for r in clean])
        for r in clean:
            if r.content_hash in new_ids and r.content_hash not in stored_before:
                status[r.id] = ("admitted", new_ids.pop(r.content_hash))  # pop: a repeat within the batch is a dup
                figures["ids"].append(status[r.id][1])
            else:
                status[r.id] = ("duplicate", stored_before.get(r.content_hash) or _admitted_as(status, rows, r))
        candidates.set_status(self.store, status)
        leaks.mark_checked(self.store, figures["ids"], idx.fp, round_)
        figures.update(leaks=len(found), duplicates=sum(v[0] == "duplicate" for v in status.values()),
                       admitted=len(figures["ids"]))
        return figures


def _admitted_as(status: dict[int, tuple[str, int | None]], rows, r) -> int | None:
    """The conversation an earlier candidate of the same batch with the same content became."""
    return next((status[o.id][1] for o in rows if o.content_hash == r.content_hash and o.id in status
                 and status[o.id][0] == "admitted"), None)


def _leak_row(round_: int, m: Match, origin: str, source: str, content_hash: str, messages: list[dict],
              conversation_id: int | None = None, candidate_id: int | None = None) -> LeakRow:
    return LeakRow(round=round_, origin=origin, source=source, content_hash=content_hash,
                   messages=json.dumps(messages, ensure_ascii=False), turn=m.turn, benchmark=m.prompt.benchmark,
                   bench_ref=m.prompt.ref, bench_text=m.prompt.text, similarity=m.similarity, ngram=m.ngram,
                   llm_verdict=m.llm_verdict, method=m.method, conversation_id=conversation_id,
                   candidate_id=candidate_id)


def judge_llm(cfg: IloopConfig, store: Store, round_: int):
    """The judge for band pairs, when leakage.llm_check is on."""
    return LLM(cfg, store, round_) if cfg.leakage.llm_check else None
