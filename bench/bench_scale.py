"""Non-LLM scale of a loop round on synthetic pools (issue 16, benchmark 5): each stage's seconds per size through the
code the graph's nodes run (ingest, embed, pool leakage guard vs 2,000 prompts, the taxonomist's normalize_all and
graph_report, coverage analyst, seed selector, map fit, measure) and its growth exponent (least-squares slope of log
seconds on log size; goal <= 1.1). LLM/model outputs are synthesised and written through state/: tags (open Zipf
vocabulary, distinct tags ~n^0.6, ~5 a conversation, a parallel Chinese list, a second Chinese alias for a third of
the tags), 20 domains, base and M_FT losses; difficulty ratings (an LLM's) are off. Vectors come from a hashing stub
in tools/embedder's model cache: USE, the default, reads ~100 turns/s on two cores (hours at 1M, hiding every other
cost), so its rate is measured on a sample and its time projected apart (embed encodes every first user turn, the
guard every other one, normalisation each tag name). Planted copies of benchmark prompts must be removed, only they.
Up to selection.map_sample (20k) every point is a fitted t-SNE point, so "measure" places none; above, it places each.
Each size runs in its own process (a clean peak RSS). Usage:
  python bench/bench_scale.py [--sizes 10000,100000,1000000] [--map tsne|pca] [--dir /tmp] [--no-use-rate]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest import make_file  # noqa: E402
from bench.bench_taxonomy import WORDS, tag_names  # noqa: E402
from bench.results_json import write_result  # noqa: E402

BASE, FT = "bench-base:stub", "bench-ft:stub"


@dataclass
class HashBackend:
    """The embedding model's stand-in: a vector seeded by the text's hash (a planted copy of a benchmark prompt meets
    it at cosine 1) in a 48-dimensional subspace plus noise: on full-rank random vectors Chroma's HNSW index slows as
    it grows (2.5 s a 2,000-vector upsert at 30k, 0.8 s on these), and real sentence embeddings are not full-rank."""
    dim: int

    def encode(self, texts, batch_size: int, progress: bool) -> np.ndarray:
        basis, out = np.random.default_rng(0).standard_normal((48, self.dim)), np.empty((len(texts), self.dim))
        for k, t in enumerate(texts):
            rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little"))
            out[k] = rng.standard_normal(48) @ basis + 2.0 * rng.standard_normal(self.dim)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def install_stubs(cfg) -> None:
    """Every embedder the round builds (the pool's, each leakage.models entry) finds the stub already loaded."""
    from tools import embedder
    from tools.assets import AssetStore
    from tools.embedder_backends import PRESETS, resolve_model

    for model in {cfg.embedding.model, *cfg.leakage.models}:
        ref = resolve_model(s := cfg.embedding.model_copy(update={"model": model}), AssetStore(cfg.assets_path))
        # the key tools/embedder._load_model looks a loaded model up by
        embedder._MODELS[(ref.key, f"threads={s.threads}" if ref.backend == "use" else s.device)] = \
            HashBackend(PRESETS[model].dim)


def write_inputs(tmp: Path, n: int) -> tuple[list[str], Path, int]:
    """The pool (bench_ingest's JSON array), planted leaks (JSONL) and 2,000 benchmark prompts (JSONL)."""
    make_file(tmp / "pool.json", n)
    rnd = random.Random(1)
    prompts = [f"Q{k}: " + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(12, 60))) for k in range(2000)]
    (bench := tmp / "bench.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    planted = max(5, n // 1000)
    with open(tmp / "leaks.jsonl", "w", encoding="utf-8") as fh:
        for k in range(planted):
            fh.write(json.dumps({"id": f"leak{k}", "conversations": [
                {"from": "human", "value": prompts[k * 7 % len(prompts)]},
                {"from": "gpt", "value": f"Here is a worked answer, number {k}, step by step."}]}) + "\n")
    return [str(tmp / "pool.json"), str(tmp / "leaks.jsonl")], bench, planted


def write_tags(store, ids: list[int], seed: int = 0, chunk: int = 50_000) -> dict:
    """The tagger's output for every conversation, through its own writers (state/tags.py)."""
    from state.tags import add_alignments, link_tags, tag_ids

    rng = np.random.default_rng(seed)
    per = rng.integers(2, 13, size=len(ids))  # 2-12 draws, about 5 distinct (as bench_selection_sql.py)
    vocab, rank = np.unique(rng.zipf(1.6, size=int(per.sum())), return_inverse=True)  # rank 0: the commonest

    def ids_of(names: list[str], lang: str) -> list[int]:  # 900 a call: under SQLite's parameter limit
        got = {x: i for k in range(0, len(names), 900) for x, i in tag_ids(store, names[k:k + 900], lang).items()}
        return [got[x] for x in names]

    en = ids_of(tag_names(len(vocab)), "en")
    # every third tag has a second Chinese name, used in odd conversations; only names some reply uses are created
    keys = np.unique(2 * rank + ((rank % 3 == 0) & (np.repeat(np.arange(len(ids)), per) % 2 == 1)))
    zh = dict(zip(keys.tolist(), ids_of([f"{k // 2}号技能" if k % 2 else f"技能{k // 2}" for k in keys], "zh")))
    ptr, n_links = np.r_[0, np.cumsum(per)], 0
    for start in range(0, len(ids), chunk):
        links, pairs = [], []
        for k in range(start, min(start + chunk, len(ids))):
            for t in dict.fromkeys(rank[ptr[k]:ptr[k + 1]].tolist()):
                z = zh[2 * t + (t % 3 == 0 and k % 2)]
                links += [(ids[k], en[t]), (ids[k], z)]
                pairs.append((en[t], z))
        link_tags(store, links)
        add_alignments(store, pairs)
        n_links += len(links)
    return {"links": n_links, "tags_en": len(vocab), "tags_zh": len(zh)}


def write_domains(store, round_: int) -> None:
    """The domain mapper's output (an LLM's): 20 domains, each canonical tag in one."""
    from state.domains import add_domains, canonical_tags, set_tag_domains

    ids = add_domains(store, [{"name": f"domain {d}", "description": f"synthetic {d}"} for d in range(20)], round_)
    set_tag_domains(store, {t.id: ids[f"domain {t.id % 20}"] for t in canonical_tags(store)})


def write_losses(store, seed: int = 0, chunk: int = 100_000) -> None:
    """The scorer's output: a base and an M_FT loss per conversation, into the loss cache (state/losses.py)."""
    from state.conversations import all_ids, content_hashes
    from state.losses import LossResult, save_losses

    ids = all_ids(store)
    hashes = content_hashes(store, ids)
    rng = np.random.default_rng(seed)
    base = rng.gamma(4.0, 0.4, size=len(ids))
    for key, values in ((BASE, base), (FT, base - rng.uniform(0, 0.6, len(ids)))):
        for s in range(0, len(ids), chunk):
            save_losses(store, key, "cond", {hashes[i]: LossResult(float(v), 100, False)
                                              for i, v in zip(ids[s:s + chunk], values[s:s + chunk])})


def stub_scorer(cfg, assets, adapter=None):
    return SimpleNamespace(key=FT if adapter else BASE, name="stub", tokens_per_s=0.0, padding_share=0.0)


def run_size(n: int, workdir: Path, map_method: str) -> dict:
    """One size in this process: every stage's seconds, the synthetic inputs' seconds, counts and peak RSS."""
    from agents import coverage_analyst, embed, ingest, measure, pool_leakage_guard, seed_selector
    from agents.resources import resources
    from settings import load_config
    from state import rounds
    from state.conversations import all_ids
    from tools.semantic_map import ensure_map
    from tools.taxonomy import graph_report, normalize_all

    pools, bench, planted = write_inputs(workdir, n)
    cfg = load_config(home=workdir / "home", env={})
    cfg = cfg.model_copy(update={
        "assets_dir": Path(os.environ.get("ILOOP_ASSETS") or ROOT / ".iloop-assets"),
        "leakage": cfg.leakage.model_copy(update={"benchmarks": [], "files": [str(bench)]}),
        "measure": cfg.measure.model_copy(update={"difficulty_sample": 0}),  # difficulty is an LLM's rating
        "selection": cfg.selection.model_copy(update={"map_method": map_method})})
    install_stubs(cfg)
    config = {"configurable": {"iloop_config": cfg.model_dump_json()}}
    store = (res := resources(config)).store
    round_ = rounds.start_round(store, "bench-scale")
    state = {"db_round": round_, "round": 1, "pools": pools}
    peak = lambda: round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # MiB
    secs, setup, cpu, rss, counts = {}, {}, {}, {"inputs written": peak()}, {"planted_leaks": planted}

    def timed(table: dict, name: str, fn):
        """Wall and CPU seconds (all threads: CPU time is what a shared machine's load disturbs least)."""
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        table[name], cpu[name] = round(time.perf_counter() - start, 3), round(time.process_time() - start_cpu, 3)
        rss[name] = peak()  # the peak so far: the stage whose row first shows the final peak set it
        return out

    with (mock.patch("tools.select_seeds.scorer_from_config", stub_scorer),  # models: the cached losses stand in
          mock.patch("tools.select_seeds.ensure_mft", lambda *a, **k: SimpleNamespace(path="ft")),
          mock.patch("tools.loss_scorer.scorer_from_config", stub_scorer)):
        counts["ingested"] = timed(secs, "ingest", lambda: ingest.node(state, config))["new_conversations"]
        counts["embedded"] = timed(secs, "embed (stub model)", lambda: embed.node(state, config))["embedded"]
        leak = timed(secs, "leakage check (stub model)", lambda: pool_leakage_guard.node(state, config))["leakage"]
        counts.update(leaks_removed=leak["removed"], leak_check=leak["last"]["pool"])
        ids = all_ids(store)
        counts.update(timed(setup, "tag write", lambda: write_tags(store, ids)))
        norm = timed(secs, "normalise", lambda: normalize_all(store, res.text_space("tags"), cfg, round_))
        counts["canonical"] = {lang: norm[lang]["canonical"] for lang in ("en", "zh")}
        counts["merges"] = {lang: norm[lang]["threshold_merges"] + norm[lang]["dbscan_merges"] for lang in ("en", "zh")}
        timed(setup, "domain write", lambda: write_domains(store, round_))
        graph = timed(secs, "graph + fit", lambda: graph_report(store, cfg, round_))
        counts["graph"] = {"nodes": graph["nodes"], "edges": graph["edges"],
                           "gamma": (graph["power_law"] or {}).get("gamma")}
        timed(secs, "coverage", lambda: coverage_analyst.node(state, config))
        timed(setup, "loss write", lambda: write_losses(store))
        seeds = timed(secs, "seed selection", lambda: seed_selector.node(state, config))["seeds"]
        counts.update(seeds=seeds["seeds_new"], seeds_by_criterion=seeds["by_criterion"])
        timed(secs, "map fit (once)", lambda: ensure_map(res.vectors, res.conversations, cfg.home,
                                                         cfg.embedding.model, cfg.selection, cfg.seed, store))
        state.update(taxonomy={"graph_nodes": graph["nodes"], "graph_edges": graph["edges"],
                               "power_law": graph["power_law"]}, seeds=seeds, new_conversations=len(ids))
        timed(secs, "measure", lambda: measure.node(state, config))
    call = counts["leak_check"].get("this_call", counts["leak_check"])  # a loop round nests this call's figures
    # MiniLM skips the turns USE's screen drops; it keeps the planted copies (one turn each) and a few near ones (~0.2%)
    counts["user_turns"] = sum((call.get("screened_turns") or {}).values()) + counts["leaks_removed"]
    return {"size": n, "seconds": secs, "setup_seconds": setup, "counts": counts,
            "cpu_seconds": cpu, "peak_rss_mib": peak(), "peak_rss_after_mib": rss}


def use_rates(sample: int = 100) -> dict:
    """The default embedder's own speed here, on pool-like turns and tag names (what the stub leaves out)."""
    from settings import EmbeddingSettings
    from tools.assets import AssetStore
    from tools.embedder import Embedder

    emb = Embedder(EmbeddingSettings(), AssetStore(Path(os.environ.get("ILOOP_ASSETS") or ROOT / ".iloop-assets")))
    with tempfile.TemporaryDirectory() as tmp:
        make_file(Path(tmp) / "p.json", sample)
        turns = [t["value"] for r in json.loads((Path(tmp) / "p.json").read_text())
                 for t in r["conversations"] if t["from"] == "human"]
    emb.encode(["warm up"])  # the first call loads the model
    rates = {}
    for name, texts in (("turns_per_s", turns), ("tags_per_s", tag_names(2000, seed=5))):
        start = time.perf_counter()
        emb.encode(texts)
        rates[name] = round(len(texts) / (time.perf_counter() - start), 1)
    return rates


def exponent(sizes: list[int], times: list[float]) -> float | None:
    """Least-squares slope of log seconds on log size (None below two timed sizes)."""
    ok = np.array([(s, t) for s, t in zip(sizes, times) if t and t > 0], dtype=float).reshape(-1, 2)
    return round(float(np.polyfit(*np.log(ok).T, 1)[0]), 3) if len(ok) >= 2 else None


def report(runs: list[dict], rates: dict | None) -> dict:
    sizes = [r["size"] for r in runs]
    head = f"{'wall seconds':34}" + "".join(f"{s:>12,}" for s in sizes) + f"{'exponent':>10}{'cpu exp':>9}"
    print(head + "\n" + "-" * len(head))
    exps, flagged = {}, []
    for table in ("seconds", "setup_seconds"):
        for stage in dict.fromkeys(k for r in runs for k in r[table]):
            times = [r[table].get(stage) for r in runs]
            e, c = exponent(sizes, times), exponent(sizes, [r["cpu_seconds"].get(stage) for r in runs])
            exps[stage] = {"wall": e, "cpu": c}
            over = [w for w, x in (("wall", e), ("cpu", c)) if x is not None and x > 1.1 and table == "seconds"]
            flagged += [f"{stage} ({'+'.join(over)})"] if over else []
            print(f"{stage if table == 'seconds' else f'({stage}, synthetic input)':34}"
                  + "".join(f"{t:12.2f}" if t is not None else f"{'-':>12}" for t in times)
                  + f"{e if e is not None else '-':>10}{c if c is not None else '-':>9}"
                  + ("  > 1.1" if over else ""))
    total = [sum(r["seconds"].values()) for r in runs]
    print(f"{'all stages':34}" + "".join(f"{t:12.2f}" for t in total) + f"{exponent(sizes, total) or '-':>10}")
    print(f"{'peak RSS (MiB)':34}" + "".join(f"{r['peak_rss_mib']:12.0f}" for r in runs))
    projected = {}
    for r in runs if rates else []:  # the model time the stub left out, at USE's rates
        c = r["counts"]
        projected[r["size"]] = {
            "embed": round(c["embedded"] / rates["turns_per_s"], 1),
            "leakage": round((c["user_turns"] - c["embedded"]) / rates["turns_per_s"], 1),
            "normalise": round((c["tags_en"] + c["tags_zh"]) / rates["tags_per_s"], 1)}
    if rates:
        print(f"USE model time left out (projected at {rates['turns_per_s']} turns/s, {rates['tags_per_s']} tags/s):")
        for part in ("embed", "leakage", "normalise"):
            print(f"{'  ' + part:34}" + "".join(f"{projected[s][part]:12.1f}" for s in sizes))
    for r in runs:
        print(f"{r['size']:,}: " + json.dumps(r["counts"], ensure_ascii=False))
    print("stages above the 1.1 goal: " + (", ".join(flagged) or "none"))
    return {"sizes": sizes, "runs": runs, "exponents": exps, "above_goal": flagged, "use_rates": rates,
            "use_projected_seconds": projected}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--map", choices=("tsne", "pca"), default="tsne", help="selection.map_method (tsne: default)")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="where each size's pool lives")
    ap.add_argument("--no-use-rate", action="store_true", help="skip measuring the real embedder's speed")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, write JSON to --out
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        logging.basicConfig(level=logging.WARNING)
        with tempfile.TemporaryDirectory(dir=args.dir, prefix=f"iloop-scale-{args.one}-") as tmp:
            return args.out.write_text(json.dumps(run_size(args.one, Path(tmp), args.map), ensure_ascii=False))
    rates = None if args.no_use_rate else use_rates()
    runs, env = [], {**os.environ, "TQDM_DISABLE": "1"}  # progress bars of every node would bury the table
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--one", str(n), "--out", out.name, "--map", args.map,
                            "--dir", str(args.dir)], check=True, env=env)
            runs.append({**json.loads(Path(out.name).read_text()), "wall_s": round(time.perf_counter() - start, 1)})
            print(f"size {n:,}: {runs[-1]['wall_s']} s wall (inputs included)", flush=True)
    write_result("scale", {"map": args.map, **report(runs, rates)})


if __name__ == "__main__":
    main()
