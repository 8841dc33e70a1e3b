"""Why the embedded server runs with --logits_all false: prompt reading and generation speed, both settings.

    python bench/bench_llama_logits.py [--model qwen2.5-coder-1.5b] [--tokens 700] [--generate 80]

llama-cpp-python's server keeps the logits of every prompt token by default (its settings say logits_all=True;
Llama() itself defaults to False), a vocabulary-wide row per token copied into numpy; nothing in instruct-loop asks
for logprobs. The same prompt (the README, cut to
--tokens) is read twice per setting on a fresh context (the best is kept), then --generate tokens are sampled
greedily; each setting runs twice, in both orders, and its best is kept. The ratio is against the server's
default measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import load_config  # noqa: E402
from tools.assets import AssetStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def speeds(gguf: str, logits_all: bool, tokens: int, generate: int) -> tuple[float, float]:
    from llama_cpp import Llama

    threads = os.cpu_count() or 2
    llm = Llama(model_path=gguf, n_ctx=4096, n_threads=threads, n_threads_batch=threads, logits_all=logits_all,
                verbose=False)
    prompt = llm.tokenize((ROOT / "README.md").read_text(encoding="utf-8").encode())[:tokens]
    best = float("inf")
    for _ in range(2):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        best = min(best, time.perf_counter() - t0)
    t0, n = time.perf_counter(), 0
    for _ in llm.generate(prompt, temp=0.0):
        n += 1
        if n >= generate:
            break
    return len(prompt) / best, n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--tokens", type=int, default=700)
    ap.add_argument("--generate", type=int, default=80)
    args = ap.parse_args()
    gguf = str(AssetStore(load_config(env={}).assets_path).path(args.model))
    # both orders, best of each: the machine's state drifts between model loads
    runs = {True: [], False: []}
    for setting in (True, False, False, True):
        runs[setting].append(speeds(gguf, setting, args.tokens, args.generate))
    base, ours = [(max(r[0] for r in runs[s]), max(r[1] for r in runs[s])) for s in (True, False)]
    print(f"{args.model}, {args.tokens}-token prompt, {os.cpu_count()} threads")
    print(f"logits_all=true  (server default):  prompt {base[0]:6.1f} tok/s   generate {base[1]:5.1f} tok/s")
    print(f"logits_all=false (embedded server): prompt {ours[0]:6.1f} tok/s   generate {ours[1]:5.1f} tok/s")
    print(f"ratio: prompt {ours[0] / base[0]:.2f}x   generate {ours[1] / base[1]:.2f}x")


if __name__ == "__main__":
    main()
