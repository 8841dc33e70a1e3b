"""The instruct-loop console: what every round decided, the metrics over rounds, and the steering priorities.

Run with ``streamlit run app.py -- --home iloop-home`` (or ILOOP_HOME). It reads the store while a run writes
(SQLite WAL) and writes only steering priorities, which the next round's nodes read.
"""
from __future__ import annotations

import argparse
import json
import sys

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from graph.config import load_config
from state.db import Store
from state.models import Conversation, Decision, Metric, Round, Seed, SteeringPriority, utcnow
from graph.settings_evolution import OPERATIONS
from tools.seeds import ALL_CRITERIA
from tools.stats import collect

STEERING_KINDS = ("domain", "tag", "criterion", "operation")


def _home_arg() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--home")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.home


@st.cache_resource
def get_store(db_url: str) -> Store:
    # keyed by the resolved URL, not the --home argument: with ILOOP_HOME, two homes would share one cached store
    return Store(db_url)


def frame(store: Store, query) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all())


def save_priority(store: Store, kind: str, key: str, weight: float, note: str) -> None:
    if kind not in STEERING_KINDS:
        raise ValueError(f"unknown steering kind {kind!r}; expected one of {', '.join(STEERING_KINDS)}")
    if kind == "criterion" and key not in ALL_CRITERIA:  # a misspelt key would silently steer nothing
        raise ValueError(f"unknown criterion {key!r}; expected one of {', '.join(ALL_CRITERIA)}")
    if kind == "operation" and key not in OPERATIONS:
        raise ValueError(f"unknown operation {key!r}; expected one of {', '.join(OPERATIONS)}")
    with store.session() as s:
        row = s.execute(sa.select(SteeringPriority).where(SteeringPriority.kind == kind,
                                                          SteeringPriority.key == key)).scalars().first()
        row = row or SteeringPriority(kind=kind, key=key)
        row.weight, row.note, row.set_by, row.updated_at = weight, note, "user", utcnow()
        s.add(row)
        s.commit()


def evolution_tab(store: Store, stats: dict) -> None:
    evo, leak = stats["evolution"], stats["leakage"]
    st.write(f"valid evolutions: {evo['accepted']} · rejected: " + (", ".join(
        f"{k} {v}" for k, v in evo["rejected"].items()) or "none") + " · candidates: " + (", ".join(
        f"{k} {v}" for k, v in evo["candidates_by_status"].items()) or "none"))
    st.write(f"benchmark leaks removed: {leak['removed']} (" + (", ".join(
        f"{k} {v}" for k, v in leak["by_benchmark"].items()) or "none") + f") · conversations checked: "
        f"{leak['checked']}")
    c = Conversation.__table__
    p = c.alias("parent")
    rows = frame(store, sa.select(c.c.round_created.label("round"), c.c.operation, c.c.n_turns, p.c.messages.label(
        "seed"), c.c.messages.label("evolved")).select_from(c.join(p, p.c.id == c.c.parent_id))
        .where(c.c.origin == "evolved").order_by(c.c.id.desc()).limit(200))
    if not rows.empty:
        first = lambda m: next((x["content"] for x in json.loads(m) if x["role"] == "user"), "")[:200]
        rows["seed"], rows["evolved"] = rows["seed"].map(first), rows["evolved"].map(first)
        st.dataframe(rows, hide_index=True)
    from state.models import Leak
    lk = Leak.__table__
    leaks = frame(store, sa.select(lk.c.round, lk.c.origin, lk.c.benchmark, lk.c.bench_ref, lk.c.method,
                                   lk.c.similarity, lk.c.ngram, lk.c.bench_text).order_by(lk.c.id.desc()).limit(200))
    if not leaks.empty:
        st.dataframe(leaks, hide_index=True)


def main() -> None:
    st.set_page_config(page_title="instruct-loop console", layout="wide")
    store = get_store(load_config(_home_arg()).db_url)
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
        rounds = frame(store, sa.select(Round.__table__).order_by(Round.__table__.c.number))
        st.dataframe(rounds, hide_index=True)
        metrics = frame(store, sa.select(Metric.__table__.c.round, Metric.__table__.c.name, Metric.__table__.c.value))
        if not metrics.empty:
            wide = metrics.pivot_table(index="round", columns="name", values="value", aggfunc="last")
            chosen = st.multiselect("metrics to plot", list(wide.columns),
                                    default=[c for c in ("conversations_total", "embedded_total") if c in wide])
            if chosen:
                st.line_chart(wide[chosen])
            st.dataframe(wide, hide_index=False)
    with tab_tax:
        if stats["tags"]["total"]:
            from graph.context import Resources
            from tools.taxonomy_view import taxonomy_view

            view = taxonomy_view(Resources(load_config(_home_arg())), top=12)
            st.write(f"canonical tags: {view['canonical']} · aliases: {view['aliases_total']} · noise: "
                     f"{view['noise']} · graph: {view['graph']['nodes']} nodes, {view['graph']['edges']} edges")
            if view["power_law"]:
                fit = view["power_law"]
                st.write(f"degree power law: gamma {fit['gamma']} (d_min {fit['d_min']}, KS {fit['ks_distance']}), "
                         f"log-log slope {fit['loglog_slope']} (R² {fit['loglog_r2']})")
            st.dataframe(pd.DataFrame([{"domain": d["name"], "conversations": d["conversations"], "tags": d["n_tags"],
                                        "top tags": ", ".join(t["name"] + (f" / {t['zh']}" if t["zh"] else "")
                                                              for t in d["tags"])} for d in view["domains"]]),
                         hide_index=True)
            st.dataframe(pd.DataFrame(view["aliases"]), hide_index=True)
        else:
            st.info("No tags yet: `iloop tag` or `iloop run` tags the pool.")
    with tab_seeds:
        seeds = stats["seeds"]
        if seeds["total"]:
            st.write(f"{seeds['total']} seeds · by criterion: " + ", ".join(
                f"{k} {v}" for k, v in seeds["by_criterion"].items()) + " (a seed chosen twice counts twice)")
            sd, c = Seed.__table__, Conversation.__table__
            rows = frame(store, sa.select(sd.c.round, sd.c.conversation_id, sd.c.criteria, sd.c.evidence, c.c.messages)
                         .select_from(sd.join(c, c.c.id == sd.c.conversation_id)).order_by(sd.c.id.desc()).limit(500))
            rows["instruction"] = rows.pop("messages").map(
                lambda m: next((x["content"] for x in json.loads(m) if x["role"] == "user"), "")[:160])
            st.dataframe(rows, hide_index=True)
        else:
            st.info("No seeds yet: the seed selector (`iloop run`, `iloop select`) chooses them after tagging.")
    with tab_evo:
        evolution_tab(store, stats)
    with tab_decisions:
        d = Decision.__table__
        nodes = ["(all)"] + list(stats["decisions"]["by_node"])
        node = st.selectbox("node", nodes)
        q = sa.select(d.c.round, d.c.node, d.c.subject, d.c.action, d.c.reason, d.c.evidence).order_by(d.c.id.desc())
        if node != "(all)":
            q = q.where(d.c.node == node)
        st.dataframe(frame(store, q.limit(500)), hide_index=True)
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
        st.dataframe(frame(store, sa.select(SteeringPriority.__table__)), hide_index=True)
    st.sidebar.code(json.dumps(stats["llm_tokens"], indent=1) if stats["llm_tokens"] else "no LLM calls yet",
                    language="json")


if __name__ == "__main__":  # streamlit runs the file as __main__; tests import save_priority
    main()
