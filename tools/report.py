"""`iloop report`: one HTML page with PNG plots of what the loop built, beside a random subset of the pool on the
same fixed map (tools/measure_dataset.py measures both every round).

The page: the table of the last round's figures, dataset against random reference; the semantic map coloured by
origin and by round; entropy, coverage, tag share, depth and difficulty per round for both; domain shares; the tag
graph's degree distribution on log-log axes with its power-law fit; leaks and rejections by reason; the skill
ledger. Everything is read from the store; nothing calls a model.
"""
from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from settings import IloopConfig
from state.cograph import cooccurrence_from_store
from state.dataset import dataset_parts, generated_lineage, seed_rounds
from state.db import Store
from state.domains import primary_domains
from state.stats import collect
from state.vectors import VectorStore
from tools import report_plots as plots
from tools.ledger import build_ledger
from tools.measure_dataset import dataset_sets
from tools.powerlaw import fit_degrees
from tools.semantic_map import ensure_map, place_ids

FIGURES = [("entropy", "spatial entropy"), ("coverage", "coverage (log occupied cells)"), ("tag_share", "tag share"),
           ("depth_mean", "mean depth"), ("difficulty_mean", "mean difficulty (0-4)")]
TABLE = ["size", "entropy", "occupied_cells", "coverage", "tag_share", "domains_covered", "domain_entropy", "vendi",
         "depth_mean", "depth_p50", "depth_scored", "difficulty_mean", "difficulty_rated"]
MAP_POOL_POINTS = 5000


def _xy(store: Store, vectors: VectorStore, collection: str, proj, ids: list[int]) -> np.ndarray:
    xy = place_ids(store, vectors, collection, proj, ids)
    return xy[~np.isnan(xy[:, 0])]


def map_figure(store: Store, vectors: VectorStore, collection: str, cfg: IloopConfig, out: Path) -> Path | None:
    proj = ensure_map(vectors, collection, cfg.home, cfg.embedding.model, cfg.selection, cfg.seed, store)
    seeds, generated = dataset_parts(store)
    lineage, picked = generated_lineage(store), seed_rounds(store)
    sets = dataset_sets(store, 0, cfg.seed, MAP_POOL_POINTS)
    origin_of = {i: "seed" for i in seeds}
    from state.conversations import load
    origin_of.update({i: c.origin for i, c in load(store, generated).items()})
    entered = {**{i: picked.get(i, 0) for i in seeds}, **{i: lineage[i][1] for i in generated}}
    by_origin = {o: _xy(store, vectors, collection, proj, [i for i, x in origin_of.items() if x == o])
                 for o in ("seed", "evolved", "synthesized")}
    by_round = {r: _xy(store, vectors, collection, proj, [i for i, x in entered.items() if x == r])
                for r in sorted(set(entered.values()))}
    title = f"fixed map: {proj.kind.upper()} fitted once on {proj.fitted_on} instructions" + (
        f" ({sum(proj.explained) * 100:.1f}% of the variance)" if proj.explained else "")
    return plots.semantic_map(_xy(store, vectors, collection, proj, sets["pool"]), by_origin, by_round,
                              out / "map.png", title)


def _table(rows: list[list[Any]], head: list[str]) -> str:
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows) + "</table>"


def comparison_rows(last: dict[str, Any]) -> list[list[Any]]:
    """figure, dataset, reference, dataset - reference, for the last measured round."""
    rows = []
    for name in TABLE:
        d, r = plots.compared_dataset(last).get(name), last.get("reference", {}).get(name)
        if d is not None or r is not None:
            rows.append([name, d if d is not None else "-", r if r is not None else "-",
                         d - r if d is not None and r is not None else "-"])
    return rows


def write_report(store: Store, vectors: VectorStore, collection: str, cfg: IloopConfig, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stats = collect(store)
    rounds = stats["measure"]["rounds"]
    parts = ["<h1>instruct-loop report</h1>"]
    if rounds:
        last = rounds[-1]
        parts.append(f"<h2>Dataset against a random subset of the pool (round {last['round']})</h2>")
        parts.append(_table(comparison_rows(last), ["figure", "dataset (at the reference's size)", "random reference",
                                                    "difference"]))
        decision = stats["measure"]["last_decision"] or {}
        parts.append(f"<p>Last measure decision: <b>{html.escape(str(decision.get('action', '')))}</b>: "
                     f"{html.escape(str(decision.get('reason', '')))}</p>")
        plots.per_round(rounds, FIGURES, out / "rounds.png")
        parts.append('<h2>Per round</h2><img src="rounds.png">')
        parts.append(_table([[r["round"], r["dataset"].get("size"), r["new_items"].get("size", 0.0),
                              r["generation"].get("max", 0.0), r["tokens"]] for r in rounds],
                            ["round", "dataset size", "new items", "deepest generation", "tokens"]))
        nodes = last.get("nodes", {})
        parts.append(f"<h3>Round {last['round']} by node</h3>" + _table(
            [[n, v["seconds"], v["tokens"]] for n, v in sorted(nodes.items(), key=lambda x: -x[1]["seconds"])],
            ["node", "seconds", "LLM tokens"]))
    else:
        parts.append("<p>No round has been measured yet: run <code>iloop run</code>.</p>")
    try:
        map_figure(store, vectors, collection, cfg, out)
        parts.append('<h2>Semantic map</h2><img src="map.png">')
    except Exception as exc:  # no vectors yet: the rest of the page still helps
        parts.append(f"<p>No map: {html.escape(str(exc))}</p>")
    sets = dataset_sets(store, 0, cfg.seed, 0)
    doms = primary_domains(store, sets["dataset"] + sets["reference"])
    plots.domain_bars(Counter(doms[i] for i in sets["dataset"] if i in doms),
                      Counter(doms[i] for i in sets["reference"] if i in doms), out / "domains.png")
    parts.append('<h2>Domains</h2><img src="domains.png">')
    degrees = [d for _, d in cooccurrence_from_store(store).degree()]
    fit = fit_degrees(degrees)
    plots.degree_loglog(degrees, fit.gamma if fit else None, fit.x_min if fit else None, out / "degrees.png")
    parts.append('<h2>Tag graph degrees</h2><img src="degrees.png">' + (
        f"<p>gamma {fit.gamma}, x_min {fit.x_min}, KS {fit.ks_distance}, favoured: {html.escape(str(fit.favoured))}"
        f"</p>" if fit else "<p>Too few tags for a power-law fit.</p>"))
    plots.count_bars({"leaks by benchmark": stats["leakage"]["by_benchmark"],
                      "evolution rejections": stats["evolution"]["rejected"],
                      "oracle rejections": stats["diagnosis"]["rejected"],
                      "synthesis rejections": stats["synthesis"]["rejected"]}, out / "counts.png")
    parts.append(f'<h2>Leaks and rejections</h2><p>{stats["leakage"]["removed"]} items removed as benchmark leaks.'
                 f'</p><img src="counts.png">')
    ledger = build_ledger(store, cfg.home)["skills"][:30]
    parts.append("<h2>Skill ledger</h2>" + (_table(
        [[s["skill"], s["domain"], s["first_round"], s["diagnosed"], s["items"].get("admitted", 0),
          s["rate_before"] if s["rate_before"] is not None else "-",
          s["rate_after"] if s["rate_after"] is not None else "-"] for s in ledger],
        ["skill", "domain", "first round", "diagnosed", "items admitted", "rate before", "rate after"])
        if ledger else "<p>No skill diagnosed yet.</p>"))
    page = out / "index.html"
    page.write_text("<!doctype html><meta charset='utf-8'><title>instruct-loop report</title><style>body{font-family:"
                    "sans-serif;max-width:1400px;margin:2em}table{border-collapse:collapse}td,th{border:1px solid "
                    "#ccc;padding:3px 8px;text-align:right}img{max-width:100%}</style>" + "\n".join(parts),
                    encoding="utf-8")
    return page
