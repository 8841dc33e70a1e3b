"""`iloop report`: the HTML page with plots of the dataset against the random reference (tools/report.py)."""
from __future__ import annotations

from pathlib import Path

import typer

from cli.common import out, resources


def report(out_dir: Path = typer.Option(..., "--out", help="Folder for index.html and its PNG plots.")) -> None:
    """Write the report: dataset vs random reference per round, the semantic map, domains, the tag graph's
    degrees, leaks and rejections, the skill ledger. Calls no model; it reads the store (and fits the home's map
    first if it has none, then caches the places it draws). Run `iloop run` first."""
    from tools.report import write_report

    res = resources()
    page = write_report(res.store, res.vectors, res.conversations, res.config, out_dir)
    out.print(f"wrote {page} (open it in a browser)")


def plan(rounds: int = typer.Option(1, "--rounds", min=1, help="Rounds to estimate."),
         as_json: bool = typer.Option(False, "--json", help="The estimate as JSON.")) -> None:
    """Before spending: wall time and tokens per node, and tokens per LLM role, for the next rounds, from the
    settings' load and the rates measured so far in this home (defaults, marked as such, before any measurement)."""
    import json

    from rich.table import Table

    from tools.plan import plan_for_store

    res = resources()
    p = plan_for_store(res.store, res.config, rounds)
    if as_json:
        out.print_json(json.dumps(p))
        return
    t = Table("node", "items / round", "s / item", "tokens / item", "s / round", "tokens / round", "from")
    for name, n in p["nodes"].items():
        t.add_row(name, str(n.get("items", "")), str(n.get("seconds_per_item", "")), str(n.get("tokens_per_item", "")),
                  f"{n['seconds']:.0f}", str(n["tokens"]), n["source"])
    out.print(t)
    r = Table("role", "share of tokens", "tokens / round", "from")
    for name, v in p["roles"].items():
        r.add_row(name, f"{v['share']:.0%}", str(v["tokens"]), v["source"])
    out.print(r)
    budget = "" if p["fits_budget"] is None else (" (within max_tokens)" if p["fits_budget"] else
                                                  f" (over max_tokens {p['max_tokens']})")
    out.print(f"{rounds} round(s): about {p['total']['seconds'] / 60:.0f} min and {p['total']['tokens']} tokens"
              f"{budget}; {p['rounds_measured']} round(s) measured so far")
