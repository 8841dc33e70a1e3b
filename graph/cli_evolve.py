"""Evolution-stage commands of `iloop` (registered on graph.cli.app): evolve, leakage."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from graph.cli import _fail, _resources, app, console, out
from graph.cli_seeds import _log


@app.command()
def evolve(limit: Optional[int] = typer.Option(None, help="Seeds to evolve now (default evolution.max_per_round; "
                                                "0 = all pending)."),
           as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Evolve pending seeds, validate, build dialogues; then the leakage guard admits them and the tagger tags
    them (the graph's evolver -> leakage_guard -> tag_new steps, outside the loop: decisions carry round 0)."""
    from agents import evolver, leakage_guard
    from agents.tagger import tag_new_items
    from tools.leakage import BenchFileError

    res = _resources()
    try:
        summary = evolver.run(res, 0, limit=limit, log=_log)
        guard = leakage_guard.run(res, 0)
    except BenchFileError as exc:
        _fail(str(exc), code=2)
    guard.pop("admitted_ids")
    tagged = tag_new_items(res, 0)
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


@app.command()
def leakage(bench: List[Path] = typer.Option([], "--bench", help="Extra benchmark file (JSON/JSONL), repeatable; "
                                                "for a permanent one add it to leakage.files."),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Check the stored conversations (and staged candidates) against the benchmark prompts; remove leaks."""
    from agents import leakage_guard
    from tools.leakage import BenchFileError

    res = _resources()
    try:
        summary = leakage_guard.run(res, 0, extra_files=[str(b) for b in bench])
    except BenchFileError as exc:
        _fail(str(exc), code=2)
    summary.pop("admitted_ids")
    report = res.config.home / "reports" / "leakage-round0000.jsonl"
    summary["report"] = str(report) if report.exists() else None
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    pool = summary["pool"]
    out.print(f"{summary['benchmark_prompts']} benchmark prompts (set {summary['bench_fp']}); checked {pool['checked']} "
              f"conversations, removed {pool['removed']} ({pool['band']} had a pair in the second-test band)")
    if summary["report"]:
        out.print(f"removed pairs and scores: {summary['report']}")
    if bench:
        console.print("[yellow]note: --bench files are not in leakage.files, so `iloop run` checks against the "
                      "configured set only[/yellow]")
