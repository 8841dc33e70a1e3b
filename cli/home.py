"""Home and asset commands of `iloop`: init, config, assets fetch / list."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from cli.common import config, fail, out
from settings import IloopConfig, describe_fields
from settings.config import remember_assets_dir

assets_app = typer.Typer(help="Offline models and data sets (from pinned PyPI packages).", no_args_is_help=True)


TEMPLATE_HEADER = """\
# instruct-loop settings for this home. Every setting is listed below at its default, commented out.
# To change a setting, delete the two characters "# " at the start of its line and at the start of each section
# line above it (the less indented lines ending in a colon), so that the indentation stays as shown, then edit
# the value. So "#   max_per_round: 64" under "# tagging:" becomes "  max_per_round: 16" under "tagging:".
# A section line may be uncommented alone (it then keeps its defaults). Environment ILOOP_<KEY> (nested keys
# joined by __, e.g. ILOOP_TAGGING__MAX_PER_ROUND) and --set KEY=VALUE (--set tagging.max_per_round=16) win over
# this file; `iloop config` prints what is in effect. The store root is --home or ILOOP_HOME, not set here.
"""


def config_template() -> str:
    """Every setting as nested YAML behind "# ", so uncommenting a line and its section lines gives valid YAML."""
    lines = [TEMPLATE_HEADER]
    open_sections: list[str] = []
    for name, default, desc in describe_fields():
        *sections, key = name.split(".")
        if not sections and key == "home":
            continue  # a file inside the home cannot move the home
        common = 0
        while common < min(len(sections), len(open_sections)) and sections[common] == open_sections[common]:
            common += 1
        for depth in range(common, len(sections)):
            about = IloopConfig.model_fields[sections[0]].description if depth == 0 else ""
            lines.append(f"# {'  ' * depth}{sections[depth]}:" + (f"    # {about}" if about else ""))
        open_sections = sections
        lines.append(f"# {'  ' * len(sections)}{key}: {default}" + (f"    # {desc}" if desc else ""))
    return "\n".join(lines) + "\n"


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
        cfg_path.write_text(config_template(), encoding="utf-8")
    remember_assets_dir(cfg)
    out.print(f"home {cfg.home.resolve()} ready (schema v{after}, was v{before}); assets in {cfg.assets_path}")


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
    remember_assets_dir(cfg)  # later commands in this home find the assets without ILOOP_ASSETS
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
