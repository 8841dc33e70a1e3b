"""Our evolver against distilabel's EvolInstruct: valid evolved items per 1,000 tokens, and items/s (issue 16).

    python bench/bench_distilabel.py [--model qwen2.5-coder-0.5b] [--n-seeds 40] [--answers] [--venv DIR]

Same N seeds for both, each evolved once: Alpaca instructions without an input field (the instruction is the whole
task, so both get the same text), drawn with random.Random(0) from the packaged alpaca-en pool. Same server: one
embedded llama.cpp server of --model (server.port_base 18300). Every request of either side goes through a
counting HTTP proxy in this process, which adds up the usage the server reports (prompt + completion tokens) by
side and task (header X-Iloop-Task): neither side's own bookkeeping is trusted (our store's is printed as a check).

Ours: tools/evolve_seeds.evolve_chunk, the evolver's real code path, 8 seeds a chunk as in a round: a weighted
operation, EvolveTask (plus its one repair call on an unparsable reply), the rule checks (embedding similarity
included), the judge role's JudgeTask. Charged: every evolve and judge token. Valid: passed rules and judge. Seeds
carry no tags or domain (the prompt reads "general"): tagging costs tokens that distilabel doesn't spend.

distilabel 1.5.3, in a throwaway venv this script makes: EvolInstruct(num_evolutions=1) with its OpenAILLM, run
standalone (load(), process()), with the evolver role's max_tokens and temperature; numpy seeded, as EvolInstruct
doesn't seed its mutation draw. Charged: every token of its requests. Its outputs are then judged by the same
JudgeTask on the same server, those judge tokens NOT charged to it (it has no judge; charging ours would bill it
for our validator). Valid: the judge accepts it (an instruction, answerable, evolved), a lower bar than ours, so
the headline ratio is conservative. The strict count beside it holds it to our whole bar: our
EvolveTask.parse_output (label stripped, no talk of "given/rewritten prompt") and rule checks, as a breadth
rewrite (no length-ratio rule: its mutation isn't recorded).

Instructions only by default (EvolInstruct evolves only the instruction): our dialogue step is stubbed out. With
--answers both sides answer too, ours via evolve_chunk's 1-round dialogue only for instructions that passed,
distilabel via generate_answers=True for every one; one token cap for evolving and answering on both sides
(distilabel has one), every answer token charged, an item valid only with a usable answer (answer_problem: not
empty, not cut at the cap, not a refusal).

items/s: valid items per second of generation; ours: evolve_chunk, embedder load included; distilabel: its load()
+ process() in the child, not its imports nor the venv install.
Goal (issue 16): ours >= 1.5x distilabel on valid items per 1,000 tokens. Writes bench/results/distilabel.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results_json import write_result  # noqa: E402
from settings import load_config  # noqa: E402
from state import llm_calls  # noqa: E402
from state.db import Store  # noqa: E402
from state.decisions import Action  # noqa: E402
from tools import evolve_seeds  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.dialogue import Dialogue  # noqa: E402
from tools.embedded_server import embedded_servers, endpoint  # noqa: E402
from tools.embedder import Embedder  # noqa: E402
from tools.evolution import EvolveTask, JudgeTask, SeedItem, answer_problem, rule_check  # noqa: E402
from tools.llm import LLM  # noqa: E402
from tools.llm_parse import ParseError  # noqa: E402

# distilabel 1.5.3 imports requests without declaring it (its other dependencies no longer bring it in)
DISTILABEL = ["distilabel[openai]==1.5.3", "requests"]
ROLES = ["evolver", "judge"]

# Runs inside the throwaway venv: distilabel's own task, standalone, seeds in, its rows and timing out.
CHILD = r'''
import json, sys, time
import numpy as np
from distilabel.models.llms import OpenAILLM
from distilabel.steps.tasks import EvolInstruct
a = json.load(open(sys.argv[1]))
np.random.seed(a["seed"])
t0 = time.monotonic()
llm = OpenAILLM(model=a["model"], base_url=a["base_url"], api_key="not-needed", timeout=3600,
                generation_kwargs={"max_new_tokens": a["max_tokens"], "temperature": a["temperature"],
                                   "extra_body": {"seed": a["seed"]}})
task = EvolInstruct(llm=llm, num_evolutions=1, generate_answers=a["answers"])
task.load()
rows = next(task.process([{"instruction": s} for s in a["seeds"]]))
secs = time.monotonic() - t0
meta = rows[0].get("distilabel_metadata", {}) if rows else {}
stats = next((v for k, v in meta.items() if k.startswith("statistics_answer")), {})
json.dump({"seconds": secs, "evolved": [r.get("evolved_instruction") or "" for r in rows],
           "answers": [r.get("answer") for r in rows], "answer_tokens": stats.get("output_tokens", [])},
          open(sys.argv[2], "w"))
'''


class Meter(ThreadingHTTPServer):
    """The proxy: forwards each request to the server and adds the usage of its reply to (phase, task)."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream, self.phase, self.lock = upstream, "", threading.Lock()
        self.counts: dict[tuple[str, str], Counter] = defaultdict(Counter)

    def tokens(self, phase: str, tasks: tuple[str, ...] | None = None) -> Counter:
        return sum((c for (p, t), c in self.counts.items() if p == phase and (tasks is None or t in tasks)), Counter())


class _Forward(BaseHTTPRequestHandler):
    def _relay(self) -> None:
        body, t0 = self.rfile.read(int(self.headers.get("Content-Length") or 0)), time.monotonic()
        with httpx.Client(timeout=None) as client:  # the client's own timeout governs, not the proxy's
            r = client.request(self.command, self.server.upstream + self.path, content=body,
                               headers={"Content-Type": "application/json"})
        if self.command == "POST":
            usage = {}
            try:
                usage = r.json().get("usage") or {}
            except ValueError:
                pass
            with self.server.lock:
                c = self.server.counts[(self.server.phase, self.headers.get("X-Iloop-Task", ""))]
                c.update(calls=1, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                         completion_tokens=int(usage.get("completion_tokens") or 0), seconds=time.monotonic() - t0)
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_GET = do_POST = _relay

    def log_message(self, *args) -> None:  # one line per request would drown the bench's output
        pass


def pick_seeds(assets: Path, n: int) -> list[str]:
    rows = json.loads(AssetStore(assets).pool_path("alpaca-en").read_text(encoding="utf-8"))
    pool = [r["instruction"].strip() for r in rows if not (r.get("input") or "").strip()
            and 20 <= len(r["instruction"].strip()) <= 400]
    return random.Random(0).sample(pool, n)


def ensure_venv(venv: Path) -> Path:
    """The throwaway venv with distilabel; reused when it already holds the pinned version."""
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import distilabel, openai, requests; assert distilabel.__version__ == '1.5.3'"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    print(f"installing {' '.join(DISTILABEL)} into {venv} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *DISTILABEL], check=True)
    subprocess.run(check, check=True)
    return py


def _no_answers(llm, role, instructions, rounds, langs, cap):
    # instructions only (the goal charges evolution + rules + judge): no answer asked, each passed item accepted
    return [Dialogue([{"role": "user", "content": t}], 1, lang) for t, lang in zip(instructions, langs)]


def run_ours(cfg, seeds: list[str]) -> tuple[list[dict], float]:
    t0 = time.monotonic()
    embedder, llm = Embedder(cfg.embedding, AssetStore(cfg.assets_path)), LLM(cfg, Store(cfg.db_url), round_=1)
    items, rows = [SeedItem(k, k, t, "en", [], "") for k, t in enumerate(seeds)], []
    for k in range(0, len(items), evolve_seeds.CHUNK):
        part = items[k:k + evolve_seeds.CHUNK]
        rows += evolve_seeds.evolve_chunk(embedder, llm, cfg, part, {it.seed_id: 0 for it in part}, 1,
                                          cfg.evolution.operation_weights)[1]
    llm.close()
    secs = time.monotonic() - t0
    out = [{"seed": seeds[int(r.subject.split(":")[1])], "operation": r.evidence.get("operation", ""),
            "evolved": r.evidence.get("evolved", ""),
            "reason": r.evidence.get("reason", "?") if r.action == Action.REJECT_EVOLUTION else ""} for r in rows]
    return out, secs


def judge_theirs(cfg, seeds: list[str], got: dict, answers: bool, cap: int) -> list[dict]:
    """Our judge (and, for the strict count, our parse checks and rules) over distilabel's outputs."""
    embedder, llm, s = Embedder(cfg.embedding, AssetStore(cfg.assets_path)), LLM(cfg, Store(cfg.db_url), 2), \
        cfg.evolution_settings()
    texts = [t.strip() for t in got["evolved"]]
    todo = [k for k, t in enumerate(texts) if t]
    verdicts = dict(zip(todo, llm.run(JudgeTask("judge"), [(seeds[k], texts[k]) for k in todo])))
    llm.close()
    vecs = embedder.encode([x for k in todo for x in (seeds[k], texts[k])]) if todo else None
    sims = dict(zip(todo, (vecs[0::2] * vecs[1::2]).sum(axis=1))) if todo else {}
    out = []
    for k, text in enumerate(texts):
        v = verdicts.get(k)
        judge = "empty" if v is None else "judge_error" if not v.ok else v.value.rejection()[0]
        strict = _strict(SeedItem(k, k, seeds[k], "en", [], ""), text, float(sims[k]), s) if text else "empty"
        if answers and not judge:
            ans, used = got["answers"][k], (got["answer_tokens"] + [0] * len(texts))[k]
            judge = "answer_cut" if used >= cap else answer_problem(ans or "", "")
        out.append({"seed": seeds[k], "evolved": text, "reason": judge, "strict": strict})
    return out


def _strict(seed: SeedItem, text: str, sim: float, s) -> str:
    """'' when distilabel's text also meets our own bar: what our evolver's parse_output and rules would reject."""
    try:
        text = EvolveTask("evolver").parse_output(json.dumps({"instruction": text}), (seed, "breadth"))
    except ParseError:
        return "evolver_error"
    return rule_check(seed, text, "breadth", sim, s)[0]


def _per(n: float, d: float, k: float = 1000) -> float:
    return round(k * n / d, 4) if d else 0.0


def side(valid: int, items: int, tok: Counter, secs: float, strict: int | None = None) -> dict:
    total = tok["prompt_tokens"] + tok["completion_tokens"]
    out = {"valid": valid, "items": items, "calls": tok["calls"], "prompt_tokens": tok["prompt_tokens"],
           "completion_tokens": tok["completion_tokens"], "tokens": total, "valid_per_1k_tokens": _per(valid, total),
           "valid_per_1k_completion_tokens": _per(valid, tok["completion_tokens"]), "seconds": round(secs, 1),
           "valid_per_s": _per(valid, secs, 1), "server_seconds": round(tok["seconds"], 1)}
    if strict is not None:
        out.update(valid_strict=strict, valid_strict_per_1k_tokens=_per(strict, total))
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def run_distilabel(venv_py: Path, home: Path, cfg, seeds: list[str], answers: bool) -> dict:
    ev = cfg.role("evolver")
    (home / "child.py").write_text(CHILD, encoding="utf-8")
    (home / "in.json").write_text(json.dumps({"seeds": seeds, "model": ev.model, "seed": cfg.seed, "answers": answers,
                                              "base_url": ev.base_url, "max_tokens": ev.max_tokens,
                                              "temperature": ev.temperature}), encoding="utf-8")
    subprocess.run([str(venv_py), str(home / "child.py"), str(home / "in.json"), str(home / "out.json")],
                   check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "not-needed"})
    return json.loads((home / "out.json").read_text(encoding="utf-8"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="packaged GGUF (smollm2-135m for a smoke run)")
    ap.add_argument("--n-seeds", type=int, default=40)
    ap.add_argument("--answers", action="store_true", help="both sides also answer each instruction")
    ap.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "iloop-distilabel-venv")
    args = ap.parse_args()
    venv_py = ensure_venv(args.venv)  # before the server starts: the install never overlaps a timed phase
    home = Path(tempfile.mkdtemp(prefix="iloop-bench-distilabel-"))  # fresh store: no cached reply is free
    cfg = load_config(home=home, overrides=["server.port_base=18300", *(f"roles.{r}.model={args.model}"
                                                                        for r in ROLES)])
    cap = cfg.role("evolver").max_tokens  # one cap for evolving and answering, as distilabel has only one
    cfg.evolution = cfg.evolution.model_copy(update={"turn_weights": [1.0, 0.0, 0.0, 0.0], "answer_max_tokens": cap})
    if not args.answers:
        evolve_seeds.build_dialogues = _no_answers
    seeds = pick_seeds(cfg.assets_path, args.n_seeds)
    with embedded_servers(cfg, ROLES):
        meter = Meter(endpoint(cfg, "evolver")[0].removesuffix("/v1"))
        threading.Thread(target=meter.serve_forever, daemon=True).start()
        via = cfg.model_copy(update={"roles": {**cfg.roles, **{r: cfg.role(r).model_copy(update={
            "base_url": f"http://127.0.0.1:{meter.server_port}/v1", "concurrency": 1}) for r in ROLES}}})
        print(f"ours, then distilabel: {len(seeds)} seeds on {args.model} ...", flush=True)
        meter.phase = "ours"
        ours, our_secs = run_ours(via, seeds)
        meter.phase = "distilabel"
        got = run_distilabel(venv_py, home, via, seeds, args.answers)
        meter.phase = "judge_distilabel"  # not charged to distilabel
        theirs = judge_theirs(via, seeds, got, args.answers, cap)
        meter.shutdown()
    mine = meter.tokens("ours", None if args.answers else ("evolve", "judge_evolution"))
    f_ours = side(sum(not o["reason"] for o in ours), len(ours), mine, our_secs)
    f_dl = side(sum(not t["reason"] for t in theirs), len(theirs), meter.tokens("distilabel"), got["seconds"],
                sum(not t["reason"] and not t["strict"] for t in theirs))
    figures = {
        "model": args.model, "n_seeds": len(seeds), "answers": args.answers, "ours": f_ours, "distilabel": f_dl,
        **{f"ratio_{k}": _ratio(f_ours[k], f_dl[k]) for k in ("valid_per_1k_tokens",
                                                               "valid_per_1k_completion_tokens", "valid_per_s")},
        "ratio_vs_strict": _ratio(f_ours["valid_per_1k_tokens"], f_dl["valid_strict_per_1k_tokens"]),
        "goal_ratio": 1.5, "ours_tokens_by_task": {t: dict(c) for (p, t), c in meter.counts.items() if p == "ours"},
        "ours_tokens_in_store": llm_calls.usage_by_round(Store(cfg.db_url)).get(1, {}),
        "judge_tokens_on_distilabel_not_charged": dict(meter.tokens("judge_distilabel")),
        "reasons": {"ours": dict(Counter(o["reason"] or "valid" for o in ours)),
                    "distilabel": dict(Counter(t["reason"] or "valid" for t in theirs)),
                    "distilabel_strict": dict(Counter(t["strict"] or "pass" for t in theirs))},
        "items": {"ours": ours, "distilabel": theirs}}
    for name, f in (("ours", f_ours), ("distilabel", f_dl)):
        print(f"{name:10} valid {f['valid']:3d}/{f['items']:<3d} tokens {f['tokens']:7d} (completion "
              f"{f['completion_tokens']:6d})  valid/1k tokens {f['valid_per_1k_tokens']:6.3f}  valid/s "
              f"{f['valid_per_s']:.4f}  ({f['seconds']:.0f} s)")
    print(f"distilabel valid under our whole bar: {f_dl['valid_strict']}; reasons {figures['reasons']}")
    print(f"ratio valid/1k tokens: {figures['ratio_valid_per_1k_tokens']} (goal >= 1.5; vs strict "
          f"{figures['ratio_vs_strict']}; completion only {figures['ratio_valid_per_1k_completion_tokens']}); "
          f"valid/s ratio {figures['ratio_valid_per_s']}")
    write_result("distilabel", figures)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
