"""Taxonomy commands of `iloop`: tag, taxonomy."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, out, resources


def tag(limit: Optional[int] = typer.Option(None, help="Conversations to tag now (default tagging.max_per_round; "
                                           "0 = all untagged)."),
        taxonomy_only: bool = typer.Option(False, help="Skip tagging; only normalise, align and map domains.")
        ) -> None:
    """Tag untagged conversations, then normalise the taxonomy and map domains (the tagger and taxonomist nodes)."""
    from state import rounds
    from state.tags import untagged_ids
    from tools.embedded_server import embedded_servers
    from tools.llm import LLM
    from tools.tag_conversations import tag_conversations
    from tools.taxonomy import build_taxonomy

    res = resources()
    cfg = res.config
    round_ = rounds.start_round(res.store, "cli-tag")
    if not taxonomy_only:
        ids = untagged_ids(res.store, cfg.tagging.max_per_round if limit is None else limit, seed=cfg.seed + round_)
        with embedded_servers(cfg, ["tagger"]), Progress(TextColumn("tag"), BarColumn(), MofNCompleteColumn(),
                                                         TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("tag", total=len(ids))
            counts = tag_conversations(res.store, LLM(cfg, res.store, round_), cfg.tagging, ids, round_,
                                       progress=lambda n: progress.advance(task, n))
        out.print(f"tagged {counts['tagged']} conversations, {counts['rejected']} replies rejected "
                  f"({counts['tags_en']} en / {counts['tags_zh']} zh tags)")
    report = build_taxonomy(res.store, res.text_space("tags"), cfg, round_)
    rounds.finish_round(res.store, round_, "done", report)
    for lang in ("en", "zh"):
        n = report["normalize"][lang]
        out.print(f"{lang}: {n['tags']} tags -> {n['canonical']} canonical, {n['threshold_merges']} threshold merges, "
                  f"{n['dbscan_merges']} DBSCAN merges, {n['noise']} noise (min frequency {n['min_freq']})")
    for key in ("domains", "mapping"):
        if key in report:
            out.print(f"{key}: {report[key]}")
    for ext in report.get("extension", []):
        o, a = ext["other_before"], ext["other_after"]
        if ext.get("error"):
            out.print(f"'other' held {o.get('share_en', o['share']):.0%}: no domain added ({ext['error']})")
            continue
        out.print(f"'other' held {o.get('share_en', o['share']):.0%} of the English tags: added "
                  f"{', '.join(ext['domains'])}; {ext['remapped']} tags mapped again, 'other' now "
                  f"{a.get('share_en', a['share']):.0%}")
    out.print(f"graph: {report['graph']}")


def taxonomy(as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
             top: int = typer.Option(15, help="Tags shown per domain.")) -> None:
    """Domains with their tags, aliases, English-Chinese alignment and the co-occurrence power-law fit."""
    from state.domains import other_share
    from tools.taxonomy_view import taxonomy_view

    res = resources()
    store = res.store
    data = taxonomy_view(store, top, graph_lang=res.config.taxonomy.graph_lang)
    data["other_share"] = other_share(store)  # canonical tags in "other", of those with a domain
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    t = Table("domain", "conversations", "top tags (en / zh)")
    for d in data["domains"]:
        t.add_row(d["name"], str(d["conversations"]), ", ".join(
            f"{x['name']}" + (f" / {x['zh']}" if x.get("zh") else "") for x in d["tags"][:top]))
    out.print(t)
    o = data["other_share"]
    out.print(f"other: {o['other']} of {o['mapped']} mapped canonical tags ({o['share']:.0%}); "
              f"{o['unmapped']} not mapped yet")
    out.print(f"aliases: {data['aliases_total']} (showing {len(data['aliases'])}); noise tags: {data['noise']}")
    for a in data["aliases"][:10]:
        out.print(f"  {a['alias']} -> {a['canonical']} ({a['method']}, sim {a['similarity']}, round {a['round']})")
    out.print(power_law_line(data["power_law"]))


def power_law_line(fit: dict | None) -> str:
    """The fit with its verdict: a gamma is only worth reading beside the comparisons that could reject it."""
    if not fit:
        return "power law: no fit (too few tags with co-occurring tags)"
    comps = ", ".join(f"vs {alt} R {c['ratio']:+.2f} (p {c['p_value']:.2g})" for alt, c in fit["comparisons"].items())
    return (f"degree power law: gamma {fit['gamma']} +- {fit['sigma']} from degree {fit['x_min']} "
            f"({fit['n_tail']} of {fit['n_nodes']} tags, KS {fit['ks_distance']}); {comps}: the data favour "
            f"{fit['favoured'].replace('_', ' ')} (p {fit['p_value']:.2g})")
