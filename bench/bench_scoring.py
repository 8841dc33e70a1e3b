"""Loss-scoring throughput: the scorer (length buckets, logits only at response positions) against a raw batched
forward of the same texts in input order (full logits), measured in the same run. Prints tokens/s, the ratio,
padding shares and the largest per-conversation loss difference; no assertions. With --rank-dtype bfloat16 it also
scores the same conversations in fp32 and in that dtype and prints Spearman's rank correlation of the two loss
lists (what the selector relies on when 'auto' picks bf16).

Usage: python bench/bench_scoring.py [--model smollm2-135m] [--n 256] [--batch 8] [--max-tokens 512]
                                     [--rank-dtype bfloat16]
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

from settings.seeds import ScoringSettings  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.formats import to_canonical  # noqa: E402
from tools.loss_scorer import LossScorer, model_folder, pad_batch  # noqa: E402


def conversations(assets: AssetStore, n: int) -> list[list[dict]]:
    records = json.loads((assets.path("alpaca") / "alpaca_en_demo.json").read_text())[:n]
    return [to_canonical(r).messages for r in records]


def raw_forward(scorer: LossScorer, encoded, batch: int) -> tuple[list[float], float, float]:
    """Input-order batches, full logits over the vocabulary, cross-entropy on the response positions."""
    import torch
    import torch.nn.functional as F
    model = scorer.model
    out, real, padded = [], 0, 0
    start = time.perf_counter()
    for k in range(0, len(encoded), batch):
        part = encoded[k:k + batch]
        ids, attn, _ = pad_batch(part, scorer.tokenizer.pad_token_id)
        width = ids.shape[1]
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=attn).logits.float()
        for r, e in enumerate(part):
            mask = torch.tensor(e.scored[1:])
            ce = F.cross_entropy(logits[r, :len(e.ids) - 1][mask], ids[r, 1:len(e.ids)][mask])
            out.append(float(ce))
        real += sum(len(e.ids) for e in part)
        padded += width * len(part)
    elapsed = time.perf_counter() - start
    return out, real / elapsed, 1 - real / padded


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--rank-dtype", default="", help="compare the ranking of fp32 losses with this dtype's")
    args = ap.parse_args()
    assets = AssetStore(Path(os.environ.get("ILOOP_ASSETS", ".iloop-assets")))
    settings = ScoringSettings(max_tokens=args.max_tokens, max_batch=args.batch,
                               batch_tokens=args.batch * args.max_tokens)
    scorer = LossScorer(model_folder(args.model, assets), settings, device="auto", name=args.model)
    encoded = scorer.encode(conversations(assets, args.n))
    scorer.losses(encoded[:4])  # warm-up
    base, base_tps, base_pad = raw_forward(scorer, encoded, args.batch)
    ours = scorer.losses(encoded)
    diff = max(abs(a - b.loss) for a, b in zip(base, ours) if b.loss is not None)
    print(f"model {args.model} on {scorer.device}, {len(encoded)} Alpaca conversations, "
          f"{sum(len(e.ids) for e in encoded)} tokens, batch {args.batch}")
    print(f"raw batched forward: {base_tps:8.1f} tok/s, padding {base_pad:.1%}")
    print(f"scorer:              {scorer.tokens_per_s:8.1f} tok/s, padding {scorer.padding_share:.1%}")
    print(f"ratio scorer / raw:  {scorer.tokens_per_s / base_tps:.2f}x; largest loss difference {diff:.4f}")
    if args.rank_dtype:
        rank_dtypes(assets, args, settings, encoded)


def rank_dtypes(assets: AssetStore, args, settings: ScoringSettings, encoded) -> None:
    from scipy.stats import spearmanr
    losses = {}
    for dtype in ("float32", args.rank_dtype):
        scorer = LossScorer(model_folder(args.model, assets), settings.model_copy(update={"dtype": dtype}),
                            device="auto", name=args.model)
        losses[dtype] = [r.loss for r in scorer.losses(encoded)]
        print(f"{dtype:>9}: {scorer.tokens_per_s:8.1f} tok/s")
    pairs = [(a, b) for a, b in zip(losses["float32"], losses[args.rank_dtype]) if a is not None and b is not None]
    rho = spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic
    print(f"Spearman rho fp32 vs {args.rank_dtype} over {len(pairs)} conversations: {rho:.4f}; largest difference "
          f"{max(abs(a - b) for a, b in pairs):.4f}")


if __name__ == "__main__":
    main()
