"""Ingest speed and memory: the streaming scanner against a plain json.load of the same file, in one run.

Prints ratios (these machines are noisy: compare within a run, never across). No assertions.
Usage: python bench/bench_ingest.py [--records 60000]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from state.db import Store  # noqa: E402
from tools.importer import Importer  # noqa: E402
from tools.jsonstream import iter_records  # noqa: E402


def make_file(path: Path, n: int) -> None:
    rnd = random.Random(0)
    words = "the model data skill tag loop python 数据 模型 reason step ] { \" \\ escape".split()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for k in range(n):
            turns = [{"from": "human" if t % 2 == 0 else "gpt",
                      "value": " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 300)))}
                     for t in range(rnd.choice([2, 2, 4, 6]))]
            fh.write(("," if k else "") + json.dumps({"id": f"r{k}", "conversations": turns}, ensure_ascii=False))
        fh.write("\n]")


def timed(fn, memory: bool = True):
    """Time without tracing (tracemalloc slows allocation-heavy code), then peak memory in a second call."""
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    if not memory:
        return out, dt, 0
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=60000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pool.json"
        make_file(path, args.records)
        size = path.stat().st_size / 1e6
        base, t_base, m_base = timed(lambda: len(json.load(open(path, encoding="utf-8"))))
        scan, t_scan, m_scan = timed(lambda: sum(1 for _ in iter_records(path)))
        store = Store(f"sqlite:///{tmp}/b.sqlite")
        res, t_ing, _ = timed(lambda: Importer(store, Path(tmp) / "r").ingest_file(path, "bench"), memory=False)
        print(f"file: {args.records} records, {size:.1f} MB")
        print(f"json.load (baseline): {t_base:.2f}s, peak {m_base / 1e6:.0f} MB")
        print(f"streaming scan      : {t_scan:.2f}s ({t_scan / t_base:.2f}x baseline time), peak "
              f"{m_scan / 1e6:.1f} MB ({m_scan / m_base:.3f}x baseline memory)")
        print(f"full ingest to SQL  : {t_ing:.2f}s ({t_ing / t_base:.2f}x baseline), {res.kept / t_ing:.0f} rows/s; kept {res.kept}, outcomes {dict(res.outcomes)}")
        assert base == scan  # same records seen: a sanity check of the comparison, not a speed target


if __name__ == "__main__":
    main()
