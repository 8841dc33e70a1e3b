"""The instruct-loop console: what every round decided, the metrics over rounds, and the steering priorities.

Run with ``streamlit run app.py -- --home iloop-home`` (or ILOOP_HOME). It reads the store while a run writes
(SQLite WAL) and writes only steering priorities, which the next round's nodes read.
"""
from __future__ import annotations

import argparse
import json
import sys

import pandas as pd
import streamlit as st

from settings import ALL_CRITERIA, OPERATIONS, load_config
from state import conversations, decisions, leaks, metrics, rounds, seeds, steering
from state.db import Store
from state.stats import collect
from state.steering import STEERING_KINDS


def _home_arg() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--home")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.home


@st.cache_resource
def get_store(db_url: str) -> Store:
    # keyed by the resolved URL, not the --home argument: with ILOOP_HOME, two homes would share one cached store
    return Store(db_url)


def save_priority(store: Store, kind: str, key: str, weight: float, note: str) -> None:
    """A user's steering weight (validated: a misspelt criterion or operation would silently steer nothing)."""
    steering.set_user_priority(store, kind, key, weight, note)


def evolution_tab(store: Store, stats: dict) -> None:
    evo, leak = stats["evolution"], stats["leakage"]
    st.write(f"valid evolutions: {evo['accepted']} · rejected: " + (", ".join(
        f"{k} {v}" for k, v in evo["rejected"].items()) or "none") + " · candidates: " + (", ".join(
        f"{k} {v}" for k, v in evo["candidates_by_status"].items()) or "none"))
    st.write(f"benchmark leaks removed: {leak['removed']} (" + (", ".join(
        f"{k} {v}" for k, v in leak["by_benchmark"].items()) or "none") + f") · conversations checked: "
        f"{leak['checked']}")
    rows = pd.DataFrame(conversations.evolved_with_parents(store, 200))
    if not rows.empty:
        first = lambda m: next((x["content"] for x in json.loads(m) if x["role"] == "user"), "")[:200]
        rows["seed"], rows["evolved"] = rows["seed"].map(first), rows["evolved"].map(first)
        st.dataframe(rows, hide_index=True)
    removed = pd.DataFrame(leaks.recent(store, 200))
    if not removed.empty:
        st.dataframe(removed, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="instruct-loop console", layout="wide")
    cfg = load_config(_home_arg())
    store = get_store(cfg.db_url)
    stats = collect(store)
    st.title("instruct-loop console")
    conv = stats["conversations"]
    cols = st.columns(5)
    cols[0].metric("conversations", conv["total"])
    cols[1].metric("rounds", stats["rounds"]["total"])
    cols[2].metric("canonical tags", stats["tags"]["canonical"])
    cols[3].metric("domains", stats["domains"]["total"])
    cols[4].metric("decisions", stats["decisions"]["total"])
    st.caption("by origin: " + ", ".join(f"{k} {v}" for k, v in conv["by_origin"].items()) +
               " · by language: " + ", ".join(f"{k} {v}" for k, v in conv["by_lang"].items()))

    tab_rounds, tab_tax, tab_seeds, tab_evo, tab_decisions, tab_steer = st.tabs(
        ["Rounds and metrics", "Taxonomy", "Seeds", "Evolution and leakage", "Decisions", "Steering"])
    with tab_rounds:
        st.dataframe(pd.DataFrame(rounds.all_rounds(store)), hide_index=True)
        values = pd.DataFrame(metrics.all_metrics(store))
        if not values.empty:
            wide = values.pivot_table(index="round", columns="name", values="value", aggfunc="last")
            chosen = st.multiselect("metrics to plot", list(wide.columns),
                                    default=[c for c in ("conversations_total", "embedded_total") if c in wide])
            if chosen:
                st.line_chart(wide[chosen])
            st.dataframe(wide, hide_index=False)
    with tab_tax:
        if stats["tags"]["total"]:
            from tools.taxonomy_view import taxonomy_view

            view = taxonomy_view(store, top=12, graph_lang=cfg.taxonomy.graph_lang)
            st.write(f"canonical tags: {view['canonical']} · aliases: {view['aliases_total']} · noise: "
                     f"{view['noise']} · graph: {view['graph']['nodes']} nodes, {view['graph']['edges']} edges")
            if view["power_law"]:
                fit = view["power_law"]
                st.write(f"degree power law ({view['graph']['lang']} tags): gamma {fit['gamma']:.2f} ± "
                         f"{fit['sigma']:.2f} (x_min {fit['x_min']}, KS {fit['ks_distance']:.3f}, {fit['n_tail']} of "
                         f"{fit['n_nodes']} nodes in the tail); the data favour {fit['favoured']} "
                         f"(p {fit['p_value']:.3g}); log-log slope {fit['loglog_slope']:.2f}")
            st.dataframe(pd.DataFrame([{"domain": d["name"], "conversations": d["conversations"], "tags": d["n_tags"],
                                        "top tags": ", ".join(t["name"] + (f" / {t['zh']}" if t["zh"] else "")
                                                              for t in d["tags"])} for d in view["domains"]]),
                         hide_index=True)
            st.dataframe(pd.DataFrame(view["aliases"]), hide_index=True)
        else:
            st.info("No tags yet: `iloop tag` or `iloop run` tags the pool.")
    with tab_seeds:
        seed_figures = stats["seeds"]
        if seed_figures["total"]:
            st.write(f"{seed_figures['total']} seeds · by criterion: " + ", ".join(
                f"{k} {v}" for k, v in seed_figures["by_criterion"].items()) + " (a seed chosen twice counts twice)")
            rows = pd.DataFrame(seeds.recent_with_instructions(store, 500))
            rows["instruction"] = rows.pop("messages").map(
                lambda m: next((x["content"] for x in json.loads(m) if x["role"] == "user"), "")[:160])
            st.dataframe(rows, hide_index=True)
        else:
            st.info("No seeds yet: the seed selector (`iloop run`, `iloop select`) chooses them after tagging.")
    with tab_evo:
        evolution_tab(store, stats)
    with tab_decisions:
        node = st.selectbox("node", ["(all)"] + list(stats["decisions"]["by_node"]))
        st.dataframe(pd.DataFrame(decisions.recent(store, None if node == "(all)" else node, 500)), hide_index=True)
    with tab_steer:
        st.write("Weights above 1 ask the seed selector, evolver and synthesizer to favour a domain, tag, criterion "
                 "or evolution operation in the next round; below 1 to avoid it.")
        with st.form("steer"):
            kind = st.selectbox("kind", STEERING_KINDS)
            key = st.text_input("key (domain name, tag, criterion or operation)")
            weight = st.slider("weight", 0.0, 5.0, 1.0, 0.1)
            note = st.text_input("note")
            st.caption("criterion keys: " + ", ".join(ALL_CRITERIA) + " · operation keys: " + ", ".join(OPERATIONS))
            if st.form_submit_button("save priority") and key.strip():
                try:
                    save_priority(store, kind, key.strip(), weight, note)
                    st.success(f"saved {kind}:{key.strip()} = {weight}")
                except ValueError as exc:
                    st.error(str(exc))
        st.dataframe(pd.DataFrame(steering.all_priorities(store)), hide_index=True)
    st.sidebar.code(json.dumps(stats["llm_tokens"], indent=1) if stats["llm_tokens"] else "no LLM calls yet",
                    language="json")


if __name__ == "__main__":  # streamlit runs the file as __main__; tests import save_priority
    main()
