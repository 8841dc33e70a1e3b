"""leakage_guard: removes items that copy a benchmark prompt, from the pool once and from every round's new items.

The graph runs it twice per round: after embed (pool conversations not yet checked against the current benchmark
set: each is checked once per set fingerprint) and after the evolver (staged candidates: clean ones are admitted
as conversations, leaks never enter). A removed pool item is deleted with its tags and seed row and kept whole in
the ``leaks`` table; every removal is a decision row and a line of ``<home>/reports/leakage-roundNNNN.jsonl``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sqlalchemy as sa
from langchain_core.runnables import RunnableConfig

from agents.embed import conversation_collection
from graph.context import resources
from graph.state import IloopState
from state.models import Candidate, Conversation, ConversationTag, Leak, LeakCheck, Seed, utcnow
from state.vectors import collection_name
from tools.embedder import cached_vectors
from tools.leakage import (BenchPrompt, ItemCheck, fingerprint, format_same_task, judge_pairs, load_benchmarks,
                           nearest, parse_same_task, user_turns)


@dataclass
class BenchIndex:
    prompts: dict[str, BenchPrompt]
    collection: str
    fp: str


def bench_index(res, extra_files: list[str] | None = None) -> BenchIndex:
    """Benchmark prompts embedded into their own Chroma collection (one per benchmark-set fingerprint)."""
    s = res.config.leakage
    prompts = load_benchmarks(s, res.assets, extra_files)
    fp = fingerprint(prompts, s, res.config.embedding.model)
    name = collection_name(f"bench-{fp[:12]}", res.config.embedding.model)
    res.embedder.encode_cached(res.vectors, name, [p.id for p in prompts], [p.text for p in prompts],
                               [{"benchmark": p.benchmark, "ref": p.ref} for p in prompts])
    return BenchIndex({p.id: p for p in prompts}, name, fp)


def check_items(res, idx: BenchIndex, messages: list[list[dict]], llm=None,
                first: list[np.ndarray | None] | None = None) -> list[ItemCheck]:
    """One ItemCheck per item; band pairs the n-gram test leaves open go to the judge when llm is given.
    ``first`` may hold each item's stored instruction vector (the embed node's), which is its first user turn."""
    s = res.config.leakage
    turns = [user_turns(m, s.max_turns) for m in messages]
    first = first or [None] * len(turns)
    todo = [t for ts, f in zip(turns, first) for k, t in enumerate(ts) if not (k == 0 and f is not None)]
    fresh = iter(cached_vectors(res.embedder, res.vectors, collection_name("turns", res.config.embedding.model), todo))
    flat = [t for ts in turns for t in ts]
    if not flat:
        return [ItemCheck() for _ in turns]
    vecs = np.array([f if k == 0 and f is not None else next(fresh) for ts, f in zip(turns, first)
                     for k, _ in enumerate(ts)], dtype=np.float32).reshape(len(flat), -1)
    near = nearest(vecs, res.vectors, idx.collection, idx.prompts, s.top_k)
    checks, pos = [], 0
    for ts in turns:
        checks.append(judge_pairs(ts, near[pos:pos + len(ts)], s))
        pos += len(ts)
    if llm is not None:
        open_ = [(c, c.undecided[0]) for c in checks if c.leak is None and c.undecided]
        results = llm.chat_many("judge", [format_same_task(m.prompt.text, m.text) for _, m in open_],
                                parse=parse_same_task, json_mode=True)
        for (c, m), r in zip(open_, results):
            m.llm_verdict = ("same" if r.value else "different") if r.ok else "error"
            if r.ok and r.value:
                m.method, c.leak = "llm", m
    return checks


def _leak_row(round_: int, m, origin: str, source: str, content_hash: str, messages: str,
              conversation_id=None, candidate_id=None) -> dict[str, Any]:
    return dict(round=round_, conversation_id=conversation_id, candidate_id=candidate_id, origin=origin,
                source=source, content_hash=content_hash, messages=messages, turn=m.turn,
                benchmark=m.prompt.benchmark, bench_ref=m.prompt.ref, bench_text=m.prompt.text,
                similarity=m.similarity, ngram=m.ngram, llm_verdict=m.llm_verdict, method=m.method,
                created_at=utcnow())


def _record(res, round_: int, rows: list[dict], subjects: list[str]) -> None:
    if not rows:
        return
    with res.store.engine.begin() as conn:
        conn.execute(sa.insert(Leak.__table__), rows)
    report = res.config.home / "reports" / f"leakage-round{round_:04d}.jsonl"
    report.parent.mkdir(parents=True, exist_ok=True)
    with open(report, "a", encoding="utf-8") as fh:
        for r, subj in zip(rows, subjects):
            fh.write(json.dumps({"subject": subj, **{k: r[k] for k in ("origin", "source", "turn", "benchmark",
                                 "bench_ref", "bench_text", "similarity", "ngram", "llm_verdict", "method")},
                                 "item": json.loads(r["messages"])[0]["content"][:500]}, ensure_ascii=False) + "\n")
    res.store.record_decisions([dict(round=round_, node="leakage_guard", subject=subj, action="remove_leak",
                                     reason=f"{r['method']}: cosine {r['similarity']:.3f}, n-gram {r['ngram']:.2f} to "
                                            f"{r['benchmark']} {r['bench_ref']}",
                                     evidence={k: r[k] for k in ("turn", "benchmark", "bench_ref", "similarity",
                                                                 "ngram", "llm_verdict", "method")})
                                for r, subj in zip(rows, subjects)])


def _mark_checked(res, ids: list[int], fp: str, round_: int) -> None:
    if ids:
        stmt = res.store.insert(LeakCheck.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=["conversation_id"],
                                          set_={"bench_fp": stmt.excluded.bench_fp, "round": stmt.excluded.round})
        with res.store.engine.begin() as conn:
            conn.execute(stmt, [dict(conversation_id=i, bench_fp=fp, round=round_) for i in ids])


def remove_conversations(res, rows) -> None:
    """Delete stored conversations and what points at them; children keep existing with no parent."""
    ids = [r.id for r in rows]
    c = Conversation.__table__
    with res.store.engine.begin() as conn:
        conn.execute(sa.delete(ConversationTag.__table__).where(ConversationTag.__table__.c.conversation_id.in_(ids)))
        conn.execute(sa.delete(Seed.__table__).where(Seed.__table__.c.conversation_id.in_(ids)))
        conn.execute(sa.delete(LeakCheck.__table__).where(LeakCheck.__table__.c.conversation_id.in_(ids)))
        conn.execute(sa.update(c).where(c.c.parent_id.in_(ids)).values(parent_id=None))
        conn.execute(sa.delete(c).where(c.c.id.in_(ids)))
    res.vectors.delete(conversation_collection(res), [r.content_hash for r in rows])


def guard_pool(res, idx: BenchIndex, round_: int, llm=None, page: int = 2000,
               progress: Callable[[int], None] | None = None) -> dict[str, int]:
    c, lc = Conversation.__table__, LeakCheck.__table__
    checked = sa.select(lc.c.conversation_id).where(lc.c.bench_fp == idx.fp)
    figures = {"checked": 0, "removed": 0, "band": 0}
    last = 0
    while True:
        with res.store.engine.connect() as conn:
            rows = conn.execute(sa.select(c.c.id, c.c.messages, c.c.origin, c.c.source, c.c.content_hash)
                                .where(c.c.id > last, c.c.id.not_in(checked)).order_by(c.c.id).limit(page)).all()
        if not rows:
            return figures
        last = rows[-1].id
        stored = res.vectors.get_vectors(conversation_collection(res), [r.content_hash for r in rows])
        checks = check_items(res, idx, [json.loads(r.messages) for r in rows], llm,
                             [stored.get(r.content_hash) for r in rows])
        leaks = [(r, ch.leak) for r, ch in zip(rows, checks) if ch.leak]
        _record(res, round_, [_leak_row(round_, m, r.origin, r.source, r.content_hash, r.messages, r.id)
                              for r, m in leaks], [f"conversation:{r.id}" for r, _ in leaks])
        if leaks:
            remove_conversations(res, [r for r, _ in leaks])
        _mark_checked(res, [r.id for r, ch in zip(rows, checks) if not ch.leak], idx.fp, round_)
        figures["checked"] += len(rows)
        figures["removed"] += len(leaks)
        figures["band"] += sum(bool(ch.matches) for ch in checks)
        if progress:
            progress(len(rows))


def admit_candidates(res, idx: BenchIndex, round_: int, llm=None) -> dict[str, Any]:
    """Pending candidates: leaks are refused, duplicates of stored conversations dropped, the rest stored."""
    cand, c = Candidate.__table__, Conversation.__table__
    with res.store.engine.connect() as conn:
        rows = conn.execute(sa.select(cand).where(cand.c.status == "pending").order_by(cand.c.id)).all()
    figures: dict[str, Any] = {"candidates": len(rows), "leaks": 0, "duplicates": 0, "admitted": 0, "ids": []}
    if not rows:
        return figures
    checks = check_items(res, idx, [json.loads(r.messages) for r in rows], llm)
    leaks = [(r, ch.leak) for r, ch in zip(rows, checks) if ch.leak]
    _record(res, round_, [_leak_row(round_, m, r.kind, r.kind, r.content_hash, r.messages, candidate_id=r.id)
                          for r, m in leaks], [f"candidate:{r.id}" for r, _ in leaks])
    leak_ids = {r.id for r, _ in leaks}
    status: dict[int, tuple[str, int | None]] = {r.id: ("leak", None) for r, _ in leaks}
    for r in rows:
        if r.id in leak_ids:
            continue
        messages = json.loads(r.messages)
        with res.store.engine.begin() as conn:
            dup = conn.execute(sa.select(c.c.id).where(c.c.content_hash == r.content_hash)).scalar()
            if dup is not None:
                status[r.id] = ("duplicate", dup)
                continue
            new_id = conn.execute(sa.insert(c).values(
                content_hash=r.content_hash, messages=r.messages, source=r.kind, source_ref=f"candidate:{r.id}",
                lang=r.lang, origin=r.kind, parent_id=r.parent_id, round_created=round_, operation=r.operation,
                n_turns=sum(m["role"] == "assistant" for m in messages), n_chars=sum(len(m["content"]) for m in messages),
                created_at=utcnow())).inserted_primary_key[0]
        status[r.id] = ("admitted", new_id)
        figures["ids"].append(new_id)
    with res.store.engine.begin() as conn:
        for cid, (st, conv) in status.items():
            conn.execute(sa.update(cand).where(cand.c.id == cid).values(status=st, conversation_id=conv))
    _mark_checked(res, figures["ids"], idx.fp, round_)
    figures.update(leaks=len(leaks), duplicates=sum(v[0] == "duplicate" for v in status.values()),
                   admitted=len(figures["ids"]))
    return figures


def run(res, round_: int, extra_files: list[str] | None = None, log=None) -> dict[str, Any]:
    """Check the pool, then admit staged candidates: the node's work, also `iloop leakage`."""
    from tqdm import tqdm

    from tools.embedded_server import embedded_servers
    from tools.llm import LLM

    idx = bench_index(res, extra_files)
    roles = ["judge"] if res.config.leakage.llm_check else []
    with embedded_servers(res.config, roles):
        llm = LLM(res.config, res.store, round_) if roles else None
        with tqdm(desc="leakage", unit="conv", mininterval=2) as bar:
            pool = guard_pool(res, idx, round_, llm, progress=bar.update)
        new = admit_candidates(res, idx, round_, llm)
    if new["ids"]:
        from agents.embed import embed_all
        embed_all(res)
    summary = {"benchmark_prompts": len(idx.prompts), "bench_fp": idx.fp[:12], "pool": pool,
               "candidates": {k: v for k, v in new.items() if k != "ids"}}
    res.store.record_decision(round_, "leakage_guard", f"round:{round_}", "check",
                              f"pool: {pool['checked']} checked, {pool['removed']} removed; candidates: "
                              f"{new['admitted']} admitted, {new['leaks']} leaks, {new['duplicates']} duplicates",
                              summary)
    return {**summary, "admitted_ids": new["ids"]}


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    res = resources(config)
    summary = run(res, state.get("db_round", 0))
    ids = summary.pop("admitted_ids")
    prev = state.get("leakage") or {}
    removed = prev.get("removed", 0) + summary["pool"]["removed"] + summary["candidates"]["leaks"]
    return {"leakage": {"removed": removed, "last": summary},
            "new_conversations": state.get("new_conversations", 0) + len(ids) - summary["pool"]["removed"]}
