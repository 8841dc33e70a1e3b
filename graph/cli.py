"""`iloop`: the command line. Every command reads the same configuration (see graph.config for precedence)."""
from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graph.config import ConfigError, IloopConfig, describe_fields, load_config

app = typer.Typer(help="instruct-loop: grow an SFT set toward the skills and difficulty a model lacks.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
assets_app = typer.Typer(help="Offline models and data sets (from pinned PyPI packages).", no_args_is_help=True)
app.add_typer(assets_app, name="assets")
console = Console(stderr=True)
out = Console()


class _Ctx:
    home: Optional[Path] = None
    config_file: Optional[Path] = None
    overrides: List[str] = []


CTX = _Ctx()


@app.callback()
def main(home: Optional[Path] = typer.Option(None, "--home", envvar="ILOOP_HOME",
                                             help="Store root (default ./iloop-home)."),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML config (default <home>/config.yaml)."),
         set_: List[str] = typer.Option([], "--set", help="Override a setting: KEY=VALUE (dotted keys).")) -> None:
    CTX.home, CTX.config_file, CTX.overrides = home, config, list(set_)


def _config() -> IloopConfig:
    try:
        return load_config(CTX.home, CTX.config_file, overrides=CTX.overrides)
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2)


def _resources():
    from graph.context import Resources, register

    res = Resources(_config())
    register(res)
    return res


def _fail(msg: str, code: int = 1) -> None:
    console.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


@app.command()
def init() -> None:
    """Create the home (SQLite store with the current schema, Chroma dir, folders) and a commented config."""
    cfg = _config()
    for sub in ("chroma", "graphs", "reports", "logs", "checkpoints"):
        (cfg.home / sub).mkdir(parents=True, exist_ok=True)
    from state.db import Store
    from state.vectors import VectorStore

    before, after = Store(cfg.db_url, migrate=False).migrate()
    VectorStore(cfg.home / "chroma")
    cfg_path = cfg.home / "config.yaml"
    if not cfg_path.exists():
        lines = ["# instruct-loop settings; uncomment to change. Env ILOOP_<KEY> and --set KEY=VALUE win over this."]
        lines += [f"# {name}: {default}    # {desc}" for name, default, desc in describe_fields()]
        cfg_path.write_text("\n".join(lines) + "\n")
    out.print(f"home {cfg.home.resolve()} ready (schema v{after}, was v{before})")


@app.command("config")
def show_config(describe: bool = typer.Option(False, help="List every setting with its description.")) -> None:
    """Print the effective configuration (API keys are never part of it)."""
    if describe:
        t = Table("setting", "default", "description")
        for row in describe_fields():
            t.add_row(*row)
        out.print(t)
        return
    out.print_json(_config().model_dump_json())


@assets_app.command("fetch")
def assets_fetch(only: List[str] = typer.Option([], "--only", help="Asset names (repeat); default all."),
                 wheelhouse: Optional[Path] = typer.Option(None, help="Folder of pre-downloaded wheels/sdists "
                                                           "(air-gapped install)."),
                 verify: bool = typer.Option(False, help="Re-check sha256 of assets already fetched."),
                 convert: bool = typer.Option(False, help="Also build the bf16 Hugging Face folders now.")) -> None:
    """Download, assemble and verify the offline assets. Idempotent: fetched assets are skipped."""
    from tools.assets import AssetError, AssetStore

    cfg = _config()
    store = AssetStore(cfg.assets_path)
    names = [n for o in only for n in o.split(",") if n]
    try:
        status = store.fetch(names or None, wheelhouse=wheelhouse, verify=verify, log=console.print)
    except AssetError as exc:
        _fail(str(exc))
    t = Table("asset", "status", "path")
    for name, st in status.items():
        t.add_row(name, st, str(store.path(name)))
    out.print(t)
    if convert:
        from tools.hf_convert import ensure_hf_folder
        for name in status:
            if name.startswith(("qwen", "smollm")):
                out.print(f"{name}: {ensure_hf_folder(store, name, log=console.print)}")


@assets_app.command("list")
def assets_list() -> None:
    """Show every known asset and whether it is in the cache."""
    from tools.assets import ASSETS, AssetStore

    store = AssetStore(_config().assets_path)
    t = Table("asset", "kind", "ready", "packages", "description")
    for name, a in ASSETS.items():
        t.add_row(name, a.kind, "yes" if store.is_ready(name) else "no",
                  a.packages[0] + (f" (+{len(a.packages) - 1} parts)" if len(a.packages) > 1 else ""),
                  a.description)
    out.print(t)


def _print_ingest(results) -> None:
    t = Table("file", "source", "records", "kept", "duplicates", "skipped", "errors")
    for r in results:
        skipped = sum(v for k, v in r.outcomes.items() if k.startswith("skip:"))
        errors = sum(v for k, v in r.outcomes.items() if k.startswith("error:"))
        t.add_row(Path(r.path).name, r.source, str(r.records), str(r.kept), str(r.outcomes.get("duplicate", 0)),
                  str(skipped), str(errors) if not r.skipped_file else "already ingested")
    out.print(t)
    for r in results:
        reasons = {k: v for k, v in r.outcomes.items() if k not in ("kept", "duplicate")}
        if reasons:
            out.print(f"[bold]{Path(r.path).name}[/] by reason: " +
                      ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())) + f"  (report: {r.report})")
        if r.notes:
            out.print(f"[bold]{Path(r.path).name}[/] kept with changes: " +
                      ", ".join(f"{k}={v}" for k, v in sorted(r.notes.items())))
        for p in r.problems:
            if p["outcome"].startswith("error:"):
                console.print(f"  {p['file']}: record {p['record']}, byte {p['byte_offset']}: {p['outcome']}: "
                              f"{p['detail']}")


@app.command()
def ingest(files: List[Path] = typer.Argument(None, help="JSON, JSONL or Parquet files."),
           source: Optional[str] = typer.Option(None, help="Source name (default: file stem / builtin name)."),
           builtin: List[str] = typer.Option([], help="sharegpt | alpaca-en | alpaca-zh (repeatable)."),
           force: bool = typer.Option(False, help="Re-read files already ingested.")) -> None:
    """Import conversations (ShareGPT, OpenAI or Alpaca; auto-detected), deduplicated, with a summary table."""
    from tools.importer import Importer, resolve_pool
    from tools.jsonstream import FileFormatError

    res = _resources()
    items = [(Path(f), source or Path(f).stem) for f in files or []]
    try:
        items += [resolve_pool(f"builtin:{b}", res.assets) for b in builtin]
    except Exception as exc:  # AssetError: not fetched yet
        _fail(str(exc))
    if not items:
        _fail("nothing to ingest: give files or --builtin NAME", 2)
    importer = Importer(res.store, res.config.home / "reports", res.config.ingest.batch_size,
                        res.config.ingest.max_record_bytes, res.config.ingest.max_reported_errors)
    results, failed = [], False
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} records"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        for path, src in items:
            task = progress.add_task(f"ingest {path.name}", total=None)
            try:
                results.append(importer.ingest_file(path, src, force=force,
                                                    progress=lambda n, t=task: progress.update(t, completed=n)))
            except (FileFormatError, OSError) as exc:
                console.print(f"[red]error:[/] {exc}")
                failed = True
    _print_ingest(results)
    if failed:
        raise typer.Exit(1)


@app.command()
def stats(as_json: bool = typer.Option(False, "--json", help="Stable JSON (docs/stats.md).")) -> None:
    """Counts by source, origin and language; tags, domains, rounds, decisions, LLM tokens by role."""
    from tools.stats import collect

    data = collect(_resources().store)
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


@app.command()
def export(fmt: str = typer.Option("openai", "--format", help="sharegpt | openai | alpaca"),
           out_path: Path = typer.Option(..., "--out", help="PATH.jsonl or PATH.parquet"),
           origin: List[str] = typer.Option([], "--origin", help="pool | evolved | synthesized (repeatable).")
           ) -> None:
    """Write the dataset with tags, domain, origin, round and selection reasons as metadata."""
    from tools.export import export as do_export

    try:
        n = do_export(_resources().store, fmt, out_path, origin or None)
    except ValueError as exc:
        _fail(str(exc), 2)
    out.print(f"wrote {n} records to {out_path}")


@app.command()
def serve(roles: List[str] = typer.Option([], "--role", help="Roles whose models to serve; default all.")) -> None:
    """Run the embedded OpenAI-compatible server(s) on 127.0.0.1 until Ctrl-C."""
    from graph.config import ROLES
    from tools.embedded_server import embedded_servers, endpoint

    cfg = _config()
    chosen = roles or list(ROLES)
    with embedded_servers(cfg, chosen) as models:
        if not models:
            _fail("no role uses the embedded server (every base_url points elsewhere)", 2)
        for r in chosen:
            out.print(f"{r}: {endpoint(cfg, r)[0]} model={cfg.role(r).model}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            out.print("stopping")


@app.command()
def run(resume: bool = typer.Option(False, help="Continue the last thread (or --thread) from its checkpoint."),
        thread: Optional[str] = typer.Option(None, help="Thread id (default: new, or the last one with --resume)."),
        pool: List[str] = typer.Option([], "--pool", help="Pools for this run (path or builtin:NAME)."),
        max_rounds: Optional[int] = typer.Option(None, help="Override max_rounds for this run.")) -> None:
    """Run the closed loop as a LangGraph state machine (checkpointed; --resume continues)."""
    from graph.builder import compile_with_checkpointer

    if max_rounds is not None:
        CTX.overrides.append(f"max_rounds={max_rounds}")
    res = _resources()
    cfg = res.config
    if resume and not thread:
        thread = res.store.last_thread_id()
        if thread is None:
            _fail("nothing to resume: no run has been recorded in this home", 2)
    thread = thread or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    graph = compile_with_checkpointer(cfg.home / "checkpoints" / "graph.sqlite")
    run_config = {"configurable": {"thread_id": thread, "iloop_config": cfg.model_dump_json()},
                  "recursion_limit": 20 + 10 * cfg.max_rounds}
    inputs = None if resume else {"pools": pool} if pool else {}
    console.print(f"thread {thread}")
    final = None
    for update in graph.stream(inputs, run_config, stream_mode="updates"):
        for node_name, delta in update.items():
            console.print(f"[cyan]{node_name}[/] " + _brief(delta))
    final = graph.get_state(run_config).values
    from tools.stats import collect
    out.print_json(json.dumps({"thread": thread, "rounds": final.get("round"), "stop_reason": final.get(
        "stop_reason"), "metrics": final.get("metrics"), "stats": collect(res.store)["conversations"]}))


def _brief(delta) -> str:
    if not isinstance(delta, dict):
        return ""
    parts = []
    for k, v in delta.items():
        if k == "ingested":
            parts.append("; ".join(f"{d['source']}: kept {d['kept']}/{d['records']}" +
                                   (" (already ingested)" if d["skipped_file"] else "") for d in v))
        elif k == "metrics":
            parts.append(f"conversations={v.get('conversations_total')} growth={v.get('growth'):.3f}")
        elif k != "history":
            parts.append(f"{k}={v}")
    return " ".join(parts)


@app.command("graph")
def show_graph() -> None:
    """Print the state machine as Mermaid (LangGraph Studio opens it through langgraph.json)."""
    from graph.builder import graph
    out.print(graph.get_graph().draw_mermaid())


# Stage commands live in their own module to keep this one short; importing it registers them on `app`.
from graph import cli_evolve, cli_seeds, cli_stages  # noqa: E402,F401

if __name__ == "__main__":
    app()
