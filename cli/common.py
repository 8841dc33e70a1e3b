"""What every `iloop` command shares: the global options, configuration, resources, errors and stage logs.

stdout carries results (tables, ``--json``); every stage log goes to stderr through stdlib logging.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from settings import ConfigError, IloopConfig, load_config

console = Console(stderr=True)  # progress, warnings, errors
out = Console()  # results
PROJECT_LOGGERS = ("agents", "cli", "graph", "settings", "state", "tools")


@dataclass
class GlobalOptions:
    home: Path | None = None
    config_file: Path | None = None
    overrides: list[str] = field(default_factory=list)


options = GlobalOptions()


def setup_logging() -> None:
    """Project loggers at INFO to stderr (once per process); other libraries only warn."""
    root = logging.getLogger()
    if not any(getattr(h, "iloop", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.iloop = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def config() -> IloopConfig:
    try:
        return load_config(options.home, options.config_file, overrides=options.overrides)
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2)


def resources():
    """The run's resources, registered so the graph's nodes share them."""
    from agents.resources import Resources, register

    res = Resources(config())
    register(res)
    return res


def fail(msg: str, code: int = 1) -> None:
    console.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)
