"""What every console page shares: the home and store it reads (from `iloop console`'s arguments or ILOOP_HOME),
who is at the keyboard, paging and the rendering of a conversation.

The console opens the store without migrating it (it never changes a schema a run may be using) and reads in
short transactions, so it works beside a running `iloop run` (SQLite WAL). It writes steering and run control
only, through state/steering.py and graph/control.py.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from settings import IloopConfig, load_config
from state.db import Store


@dataclass
class Console:
    cfg: IloopConfig
    store: Store
    cli_args: list[str]  # what a run started from the console passes to `iloop` before `run`


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--home")
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[])
    return parser.parse_known_args(sys.argv[1:])[0]


@st.cache_resource
def _store(db_url: str) -> Store:
    # keyed by the resolved URL: two homes never share a cached store
    return Store(db_url, migrate=False)


def console() -> Console:
    """The page's home, configuration and store; stops the page with a clear message when there is no store."""
    a = _args()
    cfg = load_config(a.home, a.config, overrides=a.set)
    if cfg.db_url.startswith("sqlite") and not Path(cfg.sqlite_path).exists():
        st.warning(f"No store at {cfg.sqlite_path}: run `iloop --home {cfg.home} init`, then start a run here or "
                   f"with `iloop run` (`make demo` does both).")
        st.stop()
    cli = ["--home", str(cfg.home)] + (["--config", a.config] if a.config else []) + \
        [x for s in a.set for x in ("--set", s)]
    return Console(cfg, _store(cfg.db_url), cli)


def who() -> str:
    """The name decisions record for a person's changes (sidebar field; the login name by default)."""
    try:
        default = getpass.getuser()
    except Exception:  # no login name (a container): say so rather than guess
        default = "user"
    return (st.session_state.get("who") or default).strip()[:60] or default


def pager(total: int, key: str, page_size: int) -> int:
    """A page chooser under a table of ``total`` rows; returns the 0-based page."""
    pages = max(1, -(-total // page_size))
    if pages == 1:
        return 0
    page = st.number_input(f"page (of {pages}; {total} rows)", 1, pages, 1, key=key)
    return int(page) - 1


def show_messages(messages: list[dict], limit: int = 4000) -> None:
    """A conversation turn by turn (each turn cut to ``limit`` characters)."""
    if not messages:
        st.caption("(no text)")
    for m in messages:
        text = str(m.get("content", ""))
        st.markdown(f"**{m.get('role', '?')}**")
        st.text(text if len(text) <= limit else text[:limit] + " …")
