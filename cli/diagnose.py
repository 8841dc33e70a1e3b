"""Fourth-stage commands of `iloop`: diagnose, synthesize, ledger."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.table import Table

from cli.common import fail, out, resources


def _dump(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def diagnose(limit: Optional[int] = typer.Option(None, help="Diagnosis items to draw now (default "
                                                 "diagnosis.sample_size)."),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Hold out a fresh diagnosis sample, let M_FT answer it, have the oracle judge the answers, map the missing
    skills to tags and record the findings (the graph's oracle_diagnoser, as a round of its own)."""
    from state import rounds
    from tools.diagnose import diagnose_round

    res = resources()
    round_ = rounds.start_round(res.store, "cli-diagnose")
    try:
        summary = diagnose_round(res.store, res.assets, res.text_space("tags"), res.config, round_, limit)
    except Exception:
        rounds.finish_round(res.store, round_, "failed", {})
        raise
    rounds.finish_round(res.store, round_, "done", {"diagnosis": summary})
    if as_json:
        _dump({"round": round_, **summary})
        return
    if not summary["items"]:
        out.print("no diagnosis item: every seed was evolved or held out already (select more seeds first)")
        return
    t = summary.get("timings", {})
    out.print(f"round {round_}: {summary['items']} diagnosis items answered by M_FT {summary['adapter']} "
              f"({summary['answer_tokens_per_s']} tok/s); {summary['deficient']} deficient, rejected "
              f"{summary['rejected'] or 0}; skills: {summary['mapped']} mapped to tags, {summary['candidate_tags']} "
              f"candidate tags; seconds {t}")


def synthesize(limit: Optional[int] = typer.Option(None, help="Most items to ask for now (default "
                                                   "synthesis.max_per_round; 0 serves the round with none)."),
               as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Write targeted items for the skills of the newest diagnosis round not yet served, check them, then the
    leakage guard admits them and the tagger tags them (the graph's targeted_synthesizer -> synthesis_guard ->
    tag_new)."""
    from state import diagnosis, ledger, syntheses
    from tools.leakage import BenchFileError
    from tools.leakage_rounds import check_candidates
    from tools.synthesize import synthesize_round
    from tools.tag_conversations import tag_generated

    res = resources()
    done = syntheses.done_rounds(res.store)
    # the newest round with deficient findings not yet served (a round whose answers were all fine has none)
    todo = [r for r in sorted(ledger.round_samples(res.store), reverse=True)
            if r not in done and diagnosis.deficient_findings(res.store, r)]
    if not todo:
        fail("no diagnosed deficiency waits for synthesis: run `iloop diagnose` first", code=2)
    round_ = todo[0]
    summary = synthesize_round(res.store, res.embedder, res.config, round_, limit)
    try:
        guard = check_candidates(res.leakage_guard(), res.config, round_)
    except BenchFileError as exc:
        fail(str(exc), code=2)
    guard.pop("admitted_ids")
    tagged = tag_generated(res.store, res.config, round_)
    if as_json:
        _dump({"round": round_, "synthesis": summary, "leakage": guard, "tagged": tagged})
        return
    rejected = {k: v for k, v in summary["counts"].items() if k != "staged"}
    cand = guard["candidates"]
    out.print(f"round {round_}: {summary['skills']} skills, {summary['asked']} items asked, {summary['staged']} "
              f"staged, rejected {sum(rejected.values())} {rejected or ''}")
    out.print(f"leakage guard: {cand['admitted']} admitted, {cand['leaks']} leaks, {cand['duplicates']} duplicates; "
              f"tagged {tagged['tagged']}")


def ledger(as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
           top: int = typer.Option(30, help="Skills shown (most diagnosed first).")) -> None:
    """The skill ledger: per skill, when it was first diagnosed, how often, the items made for it and its
    deficiency rate on a fresh sample before and after the next M_FT."""
    from tools.ledger import build_ledger

    res = resources()
    data = build_ledger(res.store, res.config.home)
    if as_json:
        _dump(data)
        return
    if not data["skills"]:
        out.print("the ledger is empty: no diagnosis has named a missing skill yet (`iloop diagnose`)")
        return
    rate = lambda v: "-" if v is None else f"{v:.0%}"
    for r in data["rounds"]:
        out.print(f"round {r['round']}: {r['findings']} findings, {r['deficient']} deficient "
                  f"({rate(r['deficiency_rate'])}), {r['rejected']} rejected; M_FT {', '.join(r['adapters'])}")
    t = Table("skill", "tag", "first", "diagnosed", "items ok/rejected", "before", "after (round, items)")
    for s in data["skills"][:top]:
        it = s["items"]
        t.add_row(s["skill"], s["tag"] or f"candidate (nearest {s['similarity']:.2f})", str(s["first_round"]),
                  str(s["diagnosed"]), f"{it['admitted']}/{sum(it['rejected'].values()) + it['leaks']}",
                  rate(s["rate_before"]),
                  f"{rate(s['rate_after'])} ({s['after_round'] or '-'}, {s['items_before_after']})")
    out.print(t)
