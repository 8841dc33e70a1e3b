"""Rounds page: per round, the decision log (filtered by node, action and a text), the seeds and the numbers
that chose them, evolutions accepted and rejected beside their seed, the oracle's findings with what was
synthesized for them, leakage removals beside the benchmark prompt, and the round's metrics against the random
reference."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from console.common import console, pager, show_messages
from state import decisions, metrics, round_view, rounds, seeds
from state.browse import first_user_text

c = console()
st.header("Rounds")
numbers = [r["number"] for r in rounds.all_rounds(c.store)]
if not numbers:
    st.info("No round yet: start a run on the Run page (or `iloop run`); each round's decisions appear here.")
    st.stop()
rnd = st.selectbox("round", list(reversed(numbers)))
tab_log, tab_seeds, tab_evo, tab_diag, tab_leaks, tab_metrics = st.tabs(
    ["Decisions", "Seeds", "Evolutions", "Diagnosis and synthesis", "Leakage", "Metrics"])

with tab_log:
    f = decisions.facets(c.store, rnd)
    cols = st.columns(3)
    node = cols[0].selectbox("node", ["(all)"] + f["node"])
    action = cols[1].selectbox("action", ["(all)"] + f["action"])
    text = cols[2].text_input("reason or subject contains")
    total, _ = decisions.search(c.store, rnd, None if node == "(all)" else node,
                                None if action == "(all)" else action, text, 0, 1)
    page = pager(total, "decision-page", 50)
    total, rows = decisions.search(c.store, rnd, None if node == "(all)" else node,
                                   None if action == "(all)" else action, text, page, 50)
    if rows:
        st.dataframe(pd.DataFrame(rows)[["id", "node", "action", "subject", "reason", "created_at"]], hide_index=True)
        pick = st.selectbox("evidence of decision", [r["id"] for r in rows])
        st.json(json.loads(next(r["evidence"] for r in rows if r["id"] == pick)))
    else:
        st.info("No decision matches these filters in this round.")

with tab_seeds:
    rows = seeds.recent_with_instructions(c.store, 500, round_=rnd)
    if rows:
        st.dataframe(pd.DataFrame([{"seed": r["seed_id"], "conversation": r["conversation_id"], "status": r["status"],
                                    "criteria": ", ".join(json.loads(r["criteria"])),
                                    **{k: v for k, v in json.loads(r["evidence"]).items()
                                       if k in ("base_loss", "ft_loss", "ifd", "n_tags", "depth", "weight", "domain",
                                                "rarest_tag")},
                                    "instruction": first_user_text(r["messages"], 160)} for r in rows]),
                     hide_index=True)
    else:
        st.info("The seed selector chose no seed in this round.")

with tab_evo:
    which = st.radio("evolutions", ["all", "accepted", "rejected"], horizontal=True)
    rows = round_view.evolutions(c.store, rnd, which)
    if not rows:
        st.info("No evolution in this round (with this filter).")
    for r in rows:
        verdict = "accepted" if r["accepted"] else "rejected"
        with st.expander(f"{verdict} · {r['operation']} · seed conversation {r['seed_conversation']} · "
                         f"{r['reason'][:120]}"):
            st.caption(f"judge: {r['judge']}" if r["judge"] else r["reason"])
            if r["candidate_status"]:
                st.caption(f"after the leakage guard: {r['candidate_status']}")
            left, right = st.columns(2)
            with left:
                st.markdown("*seed*")
                show_messages(r["seed"])
            with right:
                st.markdown("*evolved*")
                show_messages(r["evolved"])

with tab_diag:
    rows = round_view.findings(c.store, rnd)
    if not rows:
        st.info("No diagnosis in this round (diagnosis runs after the first seeds; see diagnosis.enabled).")
    for r in rows:
        label = "deficient" if r["deficient"] else "fine" if r["status"] == "ok" else f"rejected ({r['reject_reason']})"
        with st.expander(f"{label} · {r['domain']} · " + ", ".join(s["name"] for s in r["skills"])):
            st.write(r["description"] or "(no description)")
            show_messages(r["item"][:1])
            st.markdown("*M_FT's answer*")
            st.text(r["answer"][:2000])
            if r["syntheses"]:
                st.markdown("*synthesized for these skills*")
                st.dataframe(pd.DataFrame(r["syntheses"]), hide_index=True)

with tab_leaks:
    rows = round_view.leaks(c.store, rnd)
    if not rows:
        st.info("No leak was removed in this round.")
    for r in rows:
        with st.expander(f"{r['benchmark']} {r['bench_ref']} · {r['origin']} · {r['method']} "
                         f"(cosine {r['similarity']:.3f}, n-gram {r['ngram']:.2f})"):
            left, right = st.columns(2)
            with left:
                st.markdown("*removed item*")
                show_messages(r["messages"][:2])
            with right:
                st.markdown("*benchmark prompt*")
                st.text(r["bench_text"][:3000])

with tab_metrics:
    values = {m["name"]: m["value"] for m in metrics.all_metrics(c.store) if m["round"] == rnd}
    if not values:
        st.info("The measure node has not written this round's metrics yet.")
    else:
        pairs = sorted({k[len("dataset_"):] for k in values if k.startswith("dataset_")} &
                       {k[len("reference_"):] for k in values if k.startswith("reference_")})
        st.markdown("**dataset against the random reference**")
        st.dataframe(pd.DataFrame([{"figure": p, "dataset": values[f"dataset_{p}"],
                                    "random reference": values[f"reference_{p}"]} for p in pairs]), hide_index=True)
        with st.expander("every metric of the round"):
            st.dataframe(pd.DataFrame(sorted(values.items()), columns=["metric", "value"]), hide_index=True)
