"""Data commands of `iloop`: ingest, stats, export."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, fail, out, resources


def print_ingest(results) -> None:
    t = Table("file", "source", "records", "kept", "duplicates", "skipped", "errors")
    for r in results:
        skipped = sum(v for k, v in r.outcomes.items() if k.startswith("skip:"))
        errors = sum(v for k, v in r.outcomes.items() if k.startswith("error:"))
        t.add_row(Path(r.path).name, r.source, str(r.records), str(r.kept), str(r.outcomes.get("duplicate", 0)),
                  str(skipped), str(errors) if not r.skipped_file else "already ingested")
    out.print(t)
    for r in results:
        name = Path(r.path).name
        if r.layout.startswith("the list under"):
            out.print(f"[bold]{name}[/]: records read from {r.layout}")
        reasons = {k: v for k, v in r.outcomes.items() if k not in ("kept", "duplicate")}
        if reasons:
            out.print(f"[bold]{name}[/] by reason: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())) +
                      f"  (report: {r.report})")
        if r.notes:
            out.print(f"[bold]{name}[/] kept with changes: " +
                      ", ".join(f"{k}={v}" for k, v in sorted(r.notes.items())))
        # One example of every skip kind (what was expected, what was found); every error up to the cap.
        shown = [p for p in r.problems if p["outcome"].startswith("error:")]
        shown += [p for k, p in sorted(r.samples.items()) if k.startswith("skip:")]
        for p in shown:
            example = "e.g. " if p["outcome"].startswith("skip:") and r.outcomes[p["outcome"]] > 1 else ""
            where = f", byte {p['byte_offset']}" if p["byte_offset"] is not None else ""
            console.print(f"  {p['file']}: {example}record {p['record']}{where}: {p['outcome']}: {p['detail']}",
                          markup=False, highlight=False)


def ingest(files: List[Path] = typer.Argument(None, help="JSON, JSONL or Parquet files, optionally .gz or .zst; "
                                              "a folder stands for the supported files directly inside it."),
           source: Optional[str] = typer.Option(None, help="Source name (default: file name without suffixes / "
                                                "builtin name)."),
           builtin: List[str] = typer.Option([], help="sharegpt | alpaca-en | alpaca-zh (repeatable)."),
           records_key: Optional[str] = typer.Option(None, "--records-key", help="Key of the list of records in a "
                                                     "file that is one JSON object (default: data, records, rows, "
                                                     "items, examples, conversations, train, or the only list)."),
           force: bool = typer.Option(False, help="Re-read files already ingested.")) -> None:
    """Import conversations (ShareGPT, OpenAI or Alpaca; auto-detected), deduplicated, with a summary table.

    Exits 1 when a file cannot be read or gives no conversation at all (every record skipped or broken)."""
    from tools.importer import Importer, resolve_pool
    from tools.ingest_files import named_files
    from tools.jsonstream import FileFormatError

    res = resources()
    items, failed = [], False
    for f in files or []:
        try:
            items += named_files(Path(f), source)
        except FileFormatError as exc:
            console.print(f"[red]error:[/] {exc}")
            failed = True
    try:
        items += [f for b in builtin for f in named_files(*resolve_pool(f"builtin:{b}", res.assets))]
    except Exception as exc:  # AssetError: unknown pool, or fetching it failed
        fail(str(exc))
    if not items and not failed:
        fail("nothing to ingest: give files or --builtin NAME", 2)
    importer = Importer(res.store, res.config.home / "reports", res.config.ingest.batch_size,
                        res.config.ingest.max_record_bytes, res.config.ingest.max_reported_errors,
                        max_records=res.config.ingest.max_records)
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} records"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        for path, src in items:
            task = progress.add_task(f"ingest {path.name}", total=None)
            try:
                results.append(importer.ingest_file(path, src, force=force, records_key=records_key,
                                                    progress=lambda n, t=task: progress.update(t, completed=n)))
            except (FileFormatError, OSError) as exc:
                console.print(f"[red]error:[/] {exc}")
                failed = True
    print_ingest(results)
    for r in results:
        if not r.skipped_file and r.conversations == 0:
            console.print(f"[red]error:[/] {r.path}: no conversation in {r.records} records (reasons above; "
                          f"all in {r.report})")
            failed = True
    if failed:
        raise typer.Exit(1)


def stats(as_json: bool = typer.Option(False, "--json", help="Stable JSON (docs/stats.md).")) -> None:
    """Counts by source, origin and language; tags, domains, rounds, decisions, LLM tokens by role."""
    from state.stats import collect

    data = collect(resources().store)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    conv = data["conversations"]
    t = Table("what", "value")
    t.add_row("conversations", str(conv["total"]))
    for key in ("by_source", "by_origin", "by_lang"):
        t.add_row(key.replace("_", " "), ", ".join(f"{k}={v}" for k, v in sorted(conv[key].items())))
    t.add_row("mean turns / chars", f"{conv['mean_turns']} / {conv['mean_chars']}")
    t.add_row("ingest outcomes", ", ".join(f"{k}={v}" for k, v in data["ingest"]["outcomes"].items()))
    t.add_row("tags (canonical)", f"{data['tags']['total']} ({data['tags']['canonical']})")
    t.add_row("domains", str(data["domains"]["total"]))
    t.add_row("rounds", str(data["rounds"]["total"]))
    t.add_row("decisions", ", ".join(f"{k}={v}" for k, v in data["decisions"]["by_node"].items()))
    for role, u in data["llm_tokens"].items():
        t.add_row(f"tokens {role}", f"prompt={u['prompt_tokens']} completion={u['completion_tokens']} "
                  f"calls={u['calls']} cached={u['cache_hits']}")
    out.print(t)


def export(fmt: str = typer.Option("openai", "--format", help="sharegpt | openai | alpaca"),
           out_path: Path = typer.Option(..., "--out", help="PATH.jsonl or PATH.parquet"),
           origin: List[str] = typer.Option([], "--origin", help="pool | evolved | synthesized (repeatable)."),
           everything: bool = typer.Option(False, "--all", help="Every stored conversation, the unselected pool "
                                           "included, not just the dataset.")) -> None:
    """Write the dataset (seeds + accepted evolutions + synthesized items; --all: the whole store) with tags,
    domain, origin, round, generation and selection reasons as metadata."""
    from tools.export import export as do_export

    try:
        n = do_export(resources().store, fmt, out_path, origin or None, everything=everything)
    except ValueError as exc:
        fail(str(exc), 2)
    out.print(f"wrote {n} records ({'the whole store' if everything else 'the dataset'}) to {out_path}")
