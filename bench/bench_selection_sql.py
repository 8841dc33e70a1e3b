"""The seed selector's arrays read from SQL at pool scale: a SQLite store with --rows conversations and ~5 tag links
each (Zipf tag frequencies over --tags English tags, each with a Chinese alias pair, 20 domains, a cached loss per
conversation), then tools/seed_frame.build_frame (column-wise) against two baselines measured in the same run:
- the floor: one raw sqlite3 fetch of the link table into numpy (what any reader must at least pay);
- the per-link Python read build_frame replaced (a dict of sets per conversation, then lists), on the same store.
Prints seconds, ratios, Python-heap peaks (tracemalloc, numpy included) and whether both builds give the same
arrays; no assertions. The store is built once under --dir and reused.

Usage: python bench/bench_selection_sql.py [--rows 1000000] [--tags 20000] [--dir /tmp/iloop-bench-sql]
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from state.db import Store  # noqa: E402
from tools.seed_frame import build_frame  # noqa: E402

KEY = "bench-scorer:w1024:float32:v1"


def build_store(path: Path, rows: int, tags: int, seed: int = 0) -> None:
    Store(f"sqlite:///{path}")  # the real schema, migrated
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-12-01 00:00:00"
    con.executemany("INSERT INTO domains (id, name, description, round_created, status) VALUES (?, ?, '', 1, "
                    "'active')", [(d + 1, f"domain {d}") for d in range(20)])
    tag_rows = [(k + 1, f"tag {k}", "en", None, int(rng.integers(1, 21)), 0, None, now, "canonical")
                for k in range(tags)]
    # a Chinese tag per English one: half canonical in their own right, half aliases of the English tag
    tag_rows += [(tags + k + 1, f"标签 {k}", "zh", (k + 1) if k % 2 else None, int(rng.integers(1, 21)), 0, None,
                  now, "canonical" if k % 2 == 0 else "alias") for k in range(tags)]
    con.executemany("INSERT INTO tags (id, name, lang, canonical_id, domain_id, frequency, round_merged, "
                    "created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", tag_rows)
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        ids = np.arange(start + 1, start + n + 1)
        con.executemany("INSERT INTO conversations (id, content_hash, messages, source, source_ref, lang, origin, "
                        "round_created, n_turns, n_chars, operation, created_at) VALUES (?, ?, '[]', 'bench', '', "
                        "'en', 'pool', 0, 1, 10, '', ?)", [(int(i), f"h{i:016x}", now) for i in ids])
        per = rng.integers(2, 13, size=n)  # 2-12 draws, 7 on average: about 5 distinct after Zipf repeats
        conv = np.repeat(ids, per)
        tag = np.minimum(rng.zipf(1.6, size=len(conv)) - 1, tags - 1) + 1
        zh = rng.random(len(conv)) < 0.2  # a fifth of the links are the Chinese tag
        tag = np.where(zh, tag + tags, tag)
        con.executemany("INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)",
                        zip(conv.tolist(), tag.tolist()))
        con.executemany("INSERT INTO loss_scores (model_key, content_hash, kind, loss, n_tokens, truncated, "
                        "created_at) VALUES (?, ?, 'cond', ?, 100, 0, ?)",
                        [(KEY, f"h{i:016x}", float(x), now) for i, x in zip(ids, rng.gamma(4.0, 0.4, size=n))])
        con.commit()
    con.close()


def floor_read(path: Path) -> np.ndarray:
    con = sqlite3.connect(path)
    cur = con.execute("SELECT conversation_id, tag_id FROM conversation_tags")
    flat = np.fromiter((x for row in cur for x in row), dtype=np.int64)
    con.close()
    return flat.reshape(-1, 2)


def per_link_read(path: Path) -> dict:
    """The read build_frame replaced: every link into a Python dict of sets, then sorted lists and dicts."""
    con = sqlite3.connect(path)
    info = {i: (n, lang, s, d) for i, n, lang, s, d in con.execute("SELECT id, name, lang, status, domain_id FROM tags")}
    out = defaultdict(set)
    for cid, tid in con.execute("SELECT ct.conversation_id, coalesce(t.canonical_id, t.id) FROM conversation_tags "
                                "ct JOIN tags t ON t.id = ct.tag_id"):
        if info[tid][2] != "noise":
            out[cid].add(tid)
    skill = {c: sorted([t for t in ts if info[t][1] == "en"] or ts) for c, ts in out.items()}
    domains = {c: min(Counter(info[t][3] for t in ts if info[t][3]).items(), key=lambda kv: (-kv[1], kv[0]))[0]
               for c, ts in out.items()}
    losses = dict(con.execute("SELECT c.id, l.loss FROM loss_scores l JOIN conversations c ON c.content_hash = "
                              "l.content_hash WHERE l.model_key = ?", (KEY,)))
    con.close()
    ids = sorted(skill)
    freq = Counter(t for ts in skill.values() for t in ts)
    return {"ids": np.array(ids), "tag_freq": np.array([freq[t] for t in sorted(freq)]),
            "base_loss": np.array([losses.get(i, np.nan) for i in ids]), "n_domains": len(set(domains.values()))}


def measured(fn):
    """(value, seconds, Python-heap peak in MiB): timed alone, then run again under tracemalloc (which slows
    Python-heavy code several times over, so it never runs beside the clock)."""
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return value, seconds, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tags", type=int, default=20_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/iloop-bench-sql"))
    args = ap.parse_args()
    path = args.dir / f"pool-{args.rows}-{args.tags}-v2.sqlite"
    if not path.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        build_store(path, args.rows, args.tags)
        print(f"built {path} in {time.perf_counter() - t:.0f} s")
    links, t_floor, m_floor = measured(lambda: floor_read(path))
    frame, t_new, m_new = measured(lambda: build_frame(Store(f"sqlite:///{path}", migrate=False), KEY))
    old, t_old, m_old = measured(lambda: per_link_read(path))
    print(json.dumps({"rows": args.rows, "links": int(len(links)), "tags": 2 * args.tags}))
    for name, t, m in (("floor: raw fetch of the links", t_floor, m_floor), ("build_frame (columns)", t_new, m_new),
                       ("per-link Python read", t_old, m_old)):
        print(f"{name:>32}: {t:7.2f} s ({t / t_floor:5.2f}x the floor), Python heap peak {m:7.0f} MiB")
    print(f"build_frame against the per-link read: {t_old / t_new:.2f}x faster, {m_old / max(m_new, 1):.2f}x less "
          f"peak memory")
    same = (np.array_equal(frame.ids, old["ids"]) and np.array_equal(frame.tag_freq, old["tag_freq"])
            and np.allclose(frame.base_loss, old["base_loss"], equal_nan=True)
            and len(frame.domain_names) == old["n_domains"])
    print(f"same candidates, tag frequencies, losses and domain count: {same}")


if __name__ == "__main__":
    main()
