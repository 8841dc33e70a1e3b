"""Evolution and leakage commands of `iloop`: evolve, leakage."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from cli.common import console, fail, out, resources


def evolve(limit: Optional[int] = typer.Option(None, help="Seeds to evolve now (default evolution.max_per_round; "
                                                "0 = all pending)."),
           as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Evolve pending seeds, validate, build dialogues; then the leakage guard admits them and the tagger tags
    them (the graph's evolver -> leakage_guard -> tag_new steps, outside the loop: decisions carry round 0)."""
    from tools.evolve_seeds import evolve_pending
    from tools.leakage import BenchFileError
    from tools.leakage_rounds import check_candidates
    from tools.tag_conversations import tag_generated

    res = resources()
    try:
        summary = evolve_pending(res.store, res.embedder, res.config, 0, limit=limit)
        guard = check_candidates(res.leakage_guard(), res.config, 0)
    except BenchFileError as exc:
        fail(str(exc), code=2)
    guard.pop("admitted_ids")
    tagged = tag_generated(res.store, res.config, 0)
    result = {"evolution": summary, "leakage": guard, "tagged": tagged}
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return
    counts = summary["counts"]
    rejected = {k: v for k, v in counts.items() if k != "accepted"}
    cand = guard["candidates"]
    out.print(f"evolved {summary['seeds']} seeds: {counts.get('accepted', 0)} valid dialogues staged; rejected "
              f"{sum(rejected.values())} {rejected or ''}")
    out.print(f"leakage guard: {cand['admitted']} admitted, {cand['leaks']} refused as benchmark leaks, "
              f"{cand['duplicates']} duplicates; tagged {tagged['tagged']}")


def leakage(bench: List[Path] = typer.Option([], "--bench", help="Extra benchmark file (JSON/JSONL), repeatable; "
                                                "for a permanent one add it to leakage.files."),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Check the stored conversations (and staged candidates) against the benchmark prompts; remove leaks."""
    from tools.leakage import BenchFileError
    from tools.leakage_rounds import check_candidates, check_pool

    res = resources()
    files = [str(b) for b in bench]
    try:
        guard = res.leakage_guard()
        summary = check_pool(guard, res.config, 0, extra_files=files)
        summary["candidates"] = check_candidates(guard, res.config, 0, extra_files=files)["candidates"]
    except BenchFileError as exc:
        fail(str(exc), code=2)
    report = res.config.home / "reports" / "leakage-round0000.jsonl"
    summary["report"] = str(report) if report.exists() else None
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    pool = summary["pool"]
    out.print(f"{summary['benchmark_prompts']} benchmark prompts (set {summary['bench_fp']}); checked {pool['checked']} "
              f"conversations, removed {pool['removed']} ({pool['band']} had a pair in the second-test band)")
    for model, n in (pool.get("screened_turns") or {}).items():
        out.print(f"{model} skipped {n} user turns that {res.config.leakage.screen} put below its floor "
                  f"(leakage.screen)")
    for where, judged in (("pool", pool.get("judged")), ("candidates", summary["candidates"].get("judged"))):
        if judged and judged.get("pairs"):
            out.print(f"{where}: the judge was asked about {judged['pairs']} band pairs ({judged['cross_lingual']} "
                      f"cross-lingual, judged on a translation; {judged['translate_failed']} translations and "
                      f"{judged['judge_failed']} verdicts failed)")
    if summary["report"]:
        out.print(f"removed pairs and scores: {summary['report']}")
    if bench:
        console.print("[yellow]note: --bench files are not in leakage.files, so `iloop run` checks against the "
                      "configured set only[/yellow]")
