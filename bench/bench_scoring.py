"""Loss-scoring throughput: the scorer (length buckets, logits only at response positions) against two raw batched
forwards of the same texts with full logits, measured in the same run: batches sorted by length (the strongest
honest baseline; its batches are the scorer's own when every row fits the token budget) and batches in input
order (a second reference: padding-heavy). All three run the one loaded model, so dtype and device are the same;
each figure is tokens over wall time, best of --repeat interleaved rounds after a warm-up. Prints tokens/s, the
ratios, padding shares and the largest per-conversation loss difference; no assertions. With --rank-dtype bfloat16
it also scores the same conversations in fp32 and in that dtype and prints Spearman's rank correlation of the two
loss lists (what the selector relies on when 'auto' picks bf16). Figures go to bench/results/scoring.json.

Usage: python bench/bench_scoring.py [--model smollm2-135m] [--n 256] [--batch 8] [--max-tokens 512]
                                     [--repeat 2] [--threads 0] [--rank-dtype bfloat16]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.results_json import write_result  # noqa: E402
from settings.seeds import ScoringSettings  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.formats import to_canonical  # noqa: E402
from tools.loss_scorer import LossScorer, model_folder, pad_batch  # noqa: E402


def conversations(assets: AssetStore, n: int) -> list[list[dict]]:
    records = json.loads((assets.path("alpaca") / "alpaca_en_demo.json").read_text())[:n]
    return [to_canonical(r).messages for r in records]


def raw_forward(scorer: LossScorer, encoded, batch: int, by_length: bool) -> tuple[list[float], float]:
    """Batches of ``batch`` rows (in input order, or sorted by length), full logits over the vocabulary,
    cross-entropy on the response positions; returns losses in input order and the padding share."""
    import torch
    import torch.nn.functional as F
    model, device = scorer.model, scorer.device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids)) if by_length else list(range(len(encoded)))
    out: list[float] = [float("nan")] * len(encoded)
    real = padded = 0
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        part = [encoded[i] for i in idx]
        ids, attn, _ = pad_batch(part, scorer.tokenizer.pad_token_id)
        ids, attn = ids.to(device), attn.to(device)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=attn).logits.float()
        for r, (i, e) in enumerate(zip(idx, part)):
            mask = torch.tensor(e.scored[1:], device=device)
            out[i] = float(F.cross_entropy(logits[r, :len(e.ids) - 1][mask], ids[r, 1:len(e.ids)][mask]))
        real += sum(len(e.ids) for e in part)
        padded += ids.shape[1] * len(part)
    return out, 1 - real / padded


def measure(args, scorer: LossScorer, encoded) -> dict:
    """Best wall time of each side over --repeat rounds; the sides alternate within a round so drift in machine
    load hits all three alike."""
    tokens = sum(len(e.ids) for e in encoded)
    sides = {"scorer": lambda: scorer.losses(encoded),
             "raw_sorted": lambda: raw_forward(scorer, encoded, args.batch, True),
             "raw_input_order": lambda: raw_forward(scorer, encoded, args.batch, False)}
    warm = encoded[:2 * args.batch]  # warm-up: first-call allocations and kernel selection, every path
    scorer.losses(warm)
    raw_forward(scorer, warm, args.batch, True)
    best = {name: float("inf") for name in sides}
    results = {}
    for _ in range(args.repeat):
        for name, fn in sides.items():
            start = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    ours = [r.loss for r in results["scorer"]]
    figs = {name: {"tok_per_s": tokens / best[name], "seconds": best[name]} for name in sides}
    figs["scorer"]["padding"] = scorer.padding_share
    for name in ("raw_sorted", "raw_input_order"):
        losses, pad = results[name]
        figs[name]["padding"] = pad
        figs[name]["max_loss_diff"] = max(abs(a - b) for a, b in zip(losses, ours) if b is not None)
    return figs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2, help="interleaved rounds; each side's best counts")
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default. On a shared machine "
                    "1 can be far faster: each op's thread barrier waits for a core another process holds")
    ap.add_argument("--rank-dtype", default="", help="compare the ranking of fp32 losses with this dtype's")
    args = ap.parse_args()
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    assets = AssetStore(Path(os.environ.get("ILOOP_ASSETS", ".iloop-assets")))
    settings = ScoringSettings(max_tokens=args.max_tokens, max_batch=args.batch,
                               batch_tokens=args.batch * args.max_tokens)
    scorer = LossScorer(model_folder(args.model, assets), settings, device="auto", name=args.model)
    encoded = scorer.encode(conversations(assets, args.n))
    figs = measure(args, scorer, encoded)
    tokens = sum(len(e.ids) for e in encoded)
    print(f"model {args.model} on {scorer.device}, dtype {scorer.dtype} (all sides), {torch.get_num_threads()} "
          f"threads, {len(encoded)} Alpaca conversations, {tokens} tokens, batch {args.batch}, best of {args.repeat}")
    labels = {"scorer": "scorer", "raw_sorted": "raw, sorted by length", "raw_input_order": "raw, input order"}
    for name, label in labels.items():
        f = figs[name]
        extra = f", largest loss difference {f['max_loss_diff']:.4f}" if "max_loss_diff" in f else ""
        print(f"{label:22} {f['tok_per_s']:8.1f} tok/s, padding {f['padding']:.1%}{extra}")
    sorted_ratio = figs["scorer"]["tok_per_s"] / figs["raw_sorted"]["tok_per_s"]
    input_ratio = figs["scorer"]["tok_per_s"] / figs["raw_input_order"]["tok_per_s"]
    print(f"ratio scorer / raw sorted: {sorted_ratio:.2f}x (goal >= 0.9); scorer / raw input order: "
          f"{input_ratio:.2f}x")
    result = {"model": args.model, "device": scorer.device, "dtype": scorer.dtype, "n": len(encoded),
              "threads": torch.get_num_threads(), "tokens": tokens, "batch": args.batch,
              "max_tokens": args.max_tokens, "repeat": args.repeat,
              "sides": figs, "ratio_scorer_over_raw_sorted": sorted_ratio,
              "ratio_scorer_over_raw_input_order": input_ratio}
    if args.rank_dtype:
        result["rank_dtype"] = rank_dtypes(assets, args, settings, encoded)
    write_result("scoring", result)


def rank_dtypes(assets: AssetStore, args, settings: ScoringSettings, encoded) -> dict:
    from scipy.stats import spearmanr
    losses, rates = {}, {}
    for dtype in ("float32", args.rank_dtype):
        scorer = LossScorer(model_folder(args.model, assets), settings.model_copy(update={"dtype": dtype}),
                            device="auto", name=args.model)
        losses[dtype] = [r.loss for r in scorer.losses(encoded)]
        rates[dtype] = scorer.tokens_per_s
        print(f"{dtype:>9}: {scorer.tokens_per_s:8.1f} tok/s")
    pairs = [(a, b) for a, b in zip(losses["float32"], losses[args.rank_dtype]) if a is not None and b is not None]
    rho = float(spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic)
    diff = max(abs(a - b) for a, b in pairs)
    print(f"Spearman rho fp32 vs {args.rank_dtype} over {len(pairs)} conversations: {rho:.4f}; largest difference "
          f"{diff:.4f}")
    return {"dtype": args.rank_dtype, "tok_per_s": rates, "spearman_rho": rho, "max_loss_diff": diff,
            "pairs": len(pairs)}


if __name__ == "__main__":
    main()
