"""Calibrate the leakage guard's cosine cuts per embedding model, and the combination of embedders the guard uses
(leakage.models), on a labelled set (bench/leakage_calibration.jsonl, written by hand): recall on same-language
copies and paraphrases and on Chinese translations of benchmark prompts, false positives on unrelated and
same-subject instructions in English and Chinese.

    python bench/calibrate_leakage.py [--llm] [--models minilm-l6-v2 use-multilingual-v3] [--home DIR]
                                      [--max-calls N] [--quiet]

Per model: each item's best cosine, n-gram containment and verdict, then recall / false positives for a grid of
(remove_threshold, band_low) at the n-gram cut. Combined (when more than one model is given): the guard's own rule
(tools/leakage.py: judge_pairs per model, combine, for_judge) over a grid of per-model remove thresholds with each
model's preset band. --llm asks the judge role about the pairs the guard would ask about under the presets
(each model's strongest band pair, once per benchmark prompt; a cross-lingual pair is translated first, as the guard
does it: tools/leakage_judge.py), at most --max-calls new pairs; verdicts are kept in
<home>/judge-verdicts-v2.json and the LLM cache in <home>/judge, so a rerun continues where it stopped. A grid cell
that needs a verdict nobody asked for counts it as "different" and is marked with how many. docs/leakage.md reports
the run and the chosen presets.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import load_config  # noqa: E402
from agents.resources import Resources  # noqa: E402

HERE = Path(__file__).resolve().parent
ASSETS = os.environ.get("ILOOP_ASSETS", str(HERE.parent / ".iloop-assets"))


def neighbours(model: str, items: list[dict], home: Path):
    """Each item's top_k benchmark prompts under one model, as the guard finds them; and the model's config."""
    from state.vectors import collection_name
    from tools.embedder import cached_vectors
    from tools.leakage import nearest

    cfg = load_config(home / model, env={}, overrides=[f"assets_dir={ASSETS}", f"embedding.model={model}",
                                                       f"leakage.models=[{model}]"])
    res = Resources(cfg)
    idx = res.leakage_guard().bench_index()
    vecs = cached_vectors(res.embedder, res.vectors, collection_name("turns", model), [it["text"] for it in items])
    return cfg, nearest(vecs, res.vectors, idx.collections[model], idx.prompts, cfg.leakage.top_k)


def check(text: str, near: dict, cuts: dict, base):
    """The guard's verdict on one single-turn item: cuts = {model: (remove, band_low)}."""
    from tools.leakage import combine, judge_pairs

    return combine([judge_pairs([text], [near[m]], base.model_copy(update={"remove_threshold": r, "band_low": b}), m)
                    for m, (r, b) in cuts.items()])


def flagged(c, text: str, verdicts: dict | None, missing: list) -> bool:
    if c.leak is not None:
        return True
    if verdicts is None:
        return False
    keys = [(m.prompt.id, text) for m in c.for_judge()]
    missing += [k for k in keys if k not in verdicts]
    return any(verdicts.get(k) for k in keys)


def ask_judge(home: Path, pairs: list[tuple], max_calls: int) -> dict:
    """Verdicts {(prompt id, text): same?} for pairs = [(prompt, text)], from the saved file, then the judge."""
    from tools.embedded_server import embedded_servers
    from tools.leakage_judge import judge_same_task
    from tools.llm import LLM

    # v2: cross-lingual pairs judged on a translation (tools/leakage_judge.py); a v1 file (the direct judge) is
    # never read as if it held v2 verdicts
    path = home / "judge-verdicts-v2.json"
    saved = json.loads(path.read_text()) if path.exists() else []
    verdicts = {(pid, t): v for pid, t, v in saved}
    todo = list({(p.id, t): (p, t) for p, t in pairs if (p.id, t) not in verdicts}.values())
    random.Random(0).shuffle(todo)  # a stopped run leaves a sample of every kind judged
    todo = todo[:max_calls]
    print(f"judge: {len(pairs)} pairs under the presets, {len(verdicts)} known, asking {len(todo)}", flush=True)
    if todo:
        cfg = load_config(home / "judge", env={}, overrides=[f"assets_dir={ASSETS}"])
        llm = LLM(cfg, Resources(cfg).store)
        with embedded_servers(cfg, ["judge"]):
            for k in range(0, len(todo), 10):
                part = todo[k:k + 10]
                found, counts = judge_same_task(llm, [(p.text, t) for p, t in part])  # the guard's own check
                for (p, t), v in zip(part, found):
                    if v.ok:
                        verdicts[(p.id, t)] = v.same
                    if v.translation:
                        verdict = "same" if v.same else "different"
                        print(f"    translated {t[:40]!r} -> {v.translation[:80]!r}: {verdict}")
                if counts["translate_failed"] or counts["judge_failed"]:
                    print(f"    {counts}")
                path.write_text(json.dumps([[pid, t, v] for (pid, t), v in verdicts.items()], ensure_ascii=False))
                print(f"  judged {min(k + 10, len(todo))}/{len(todo)}", flush=True)
    return verdicts


def groups_of(items: list[dict]) -> dict[str, list[int]]:
    return {"same-language": [i for i, it in enumerate(items) if it["label"] == "leak" and it["kind"] != "translation"],
            "paraphrase": [i for i, it in enumerate(items) if it["kind"] == "paraphrase"],
            "translation": [i for i, it in enumerate(items) if it["kind"] == "translation"],
            "clean": [i for i, it in enumerate(items) if it["label"] == "clean"],
            "clean zh": [i for i, it in enumerate(items) if it["kind"].endswith("_zh")]}


def row(items, hit) -> str:
    cells = []
    for k, idx in groups_of(items).items():
        n = sum(map(hit, idx))
        cells.append(f"{n:3d} ({n / max(len(idx), 1):6.1%})")
    return " | ".join(cells)


def header(items, first: str) -> str:
    return first + " | " + " | ".join(f"{'FP' if k.startswith('clean') else 'recall'} {k} ({len(v)})"
                                      for k, v in groups_of(items).items())


# Grids per model: the cuts live on each model's own similarity scale (USE's cosines run lower than MiniLM's).
GRIDS = {"use-multilingual-v3": ((0.80, 0.85, 0.875, 0.90, 0.925, 0.95), (0.60, 0.65, 0.70)),
         "minilm-l6-v2": ((0.85, 0.88, 0.90, 0.92, 0.95), (0.70, 0.75, 0.80))}


def per_model(model, cfg, items, near, ngram, quiet: bool) -> None:
    s = cfg.leakage_settings(model)
    base = cfg.leakage.model_copy(update={"ngram_threshold": ngram})
    print(f"\n== {model}, preset: remove {s.remove_threshold}, band {s.band_low}")
    if not quiet:
        print(f"{'label':6} {'kind':15} {'cos':>5}  text -> nearest benchmark prompt")
        for it, row_ in zip(items, near):
            p, sim = max(row_, key=lambda x: x[1])
            src = f"{p.benchmark} {p.ref.split('/')[0]}"
            other = " (not its source)" if it.get("bench") and it["bench"] != src else ""
            print(f"{it['label']:6} {it['kind']:15} {sim:5.3f}  {it['text'][:40]!r} -> {src}{other}")
    by_kind = defaultdict(list)
    for it, row_ in zip(items, near):
        by_kind[it["kind"]].append(max(s for _, s in row_))
    print("best cosine by kind: " + "; ".join(f"{k} n={len(v)} min {min(v):.3f} median {np.median(v):.3f} "
                                             f"max {max(v):.3f}" for k, v in by_kind.items()))
    removes, bands = GRIDS.get(model, GRIDS["minilm-l6-v2"])
    print(header(items, f"{'remove':>6} {'band':>5}"))
    for remove, band in itertools.product(removes, bands):
        print(f"{remove:6.2f} {band:5.2f} | " + row(items, lambda i: check(
            items[i]["text"], {model: near[i]}, {model: (remove, band)}, base).leak is not None))


def combined(models, cfg, items, nears, ngram, verdicts) -> None:
    base = cfg.leakage.model_copy(update={"ngram_threshold": ngram})
    presets = {m: (cfg.leakage_settings(m).remove_threshold, cfg.leakage_settings(m).band_low) for m in models}
    print(f"\n== combined {' + '.join(models)} (removed when any model removes; judge on each model's best band "
          f"pair); bands: " + ", ".join(f"{m} {b}" for m, (_, b) in presets.items()))
    print(header(items, " ".join(f"{m[:6]:>6}" for m in models) + "  LLM"))
    grid = itertools.product(*[GRIDS.get(m, GRIDS["minilm-l6-v2"])[0] for m in models])
    for removes in grid:
        cuts = {m: (r, presets[m][1]) for m, r in zip(models, removes)}
        checks = [check(it["text"], {m: n[i] for m, n in nears.items()}, cuts, base) for i, it in enumerate(items)]
        for v in ((None, verdicts) if verdicts is not None else (None,)):
            missing: list = []
            cells = row(items, lambda i: flagged(checks[i], items[i]["text"], v, missing))
            mark = "" if v is None else f"  ({len(set(missing))} unjudged)" if missing else ""
            print(" ".join(f"{r:6.3f}" for r in removes) + f"  {'on' if v is not None else 'off':>3} | {cells}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", action="store_true", help="ask the judge role about the combined guard's band pairs")
    ap.add_argument("--models", nargs="+", default=["minilm-l6-v2", "use-multilingual-v3"])
    ap.add_argument("--ngram", type=float, default=0.7, help="leakage.ngram_threshold")
    ap.add_argument("--home", default="", help="a home kept between runs (its LLM cache makes a rerun free)")
    ap.add_argument("--max-calls", type=int, default=200,
                    help="new pairs to judge at most (0: saved verdicts only; a cross-lingual pair costs a translation too)")
    ap.add_argument("--quiet", action="store_true", help="no per-item lines")
    args = ap.parse_args()
    items = [json.loads(line) for line in open(HERE / "leakage_calibration.jsonl", encoding="utf-8")]
    kinds = defaultdict(int)
    for it in items:
        kinds[f"{it['label']}:{it['kind']}"] += 1
    print(f"{len(items)} items: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="iloop-calib-"))
    nears, cfg = {}, None
    for model in args.models:
        cfg, nears[model] = neighbours(model, items, home)
        per_model(model, cfg, items, nears[model], args.ngram, args.quiet)
    verdicts = None
    if args.llm:
        base = cfg.leakage.model_copy(update={"ngram_threshold": args.ngram})
        presets = {m: (cfg.leakage_settings(m).remove_threshold, cfg.leakage_settings(m).band_low) for m in args.models}
        pairs = [(m.prompt, it["text"]) for i, it in enumerate(items)
                 for m in check(it["text"], {k: n[i] for k, n in nears.items()}, presets, base).for_judge()]
        verdicts = ask_judge(home, pairs, args.max_calls)
    if len(args.models) > 1 or verdicts is not None:
        combined(args.models, cfg, items, nears, args.ngram, verdicts)


if __name__ == "__main__":
    main()
