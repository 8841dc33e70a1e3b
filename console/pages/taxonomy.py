"""Taxonomy page: domains and their tags (English and Chinese side by side), aliases and the merge history, the
tag graph's degree distribution on log-log axes with its power-law fit, and the skill ledger."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from console.common import console
from state import ledger, tags
from tools.taxonomy_view import taxonomy_view

c = console()
st.header("Taxonomy")
if not tags.tagged_count(c.store):
    st.info("No tags yet: the tagger tags the pool in the first round (`iloop run`, or `iloop tag`).")
    st.stop()
view = taxonomy_view(c.store, top=12, graph_lang=c.cfg.taxonomy.graph_lang)
canon = ", ".join(f"{n} {lang}" for lang, n in view["canonical"].items())
st.write(f"canonical tags: {canon} · aliases: {view['aliases_total']} · noise: {view['noise']} · "
         f"graph: {view['graph']['nodes']} nodes, {view['graph']['edges']} edges")
st.subheader("Domains")
st.dataframe(pd.DataFrame([{"domain": d["name"], "conversations": d["conversations"], "tags": d["n_tags"],
                            "top tags (English)": ", ".join(t["name"] for t in d["tags"]),
                            "中文": ", ".join(t["zh"] or "–" for t in d["tags"])} for d in view["domains"]]),
             hide_index=True)
st.subheader("Aliases and merges")
st.dataframe(pd.DataFrame(view["aliases"]), hide_index=True)
merges = tags.recent_merges(c.store, 200)
if merges:
    st.dataframe(pd.DataFrame(merges), hide_index=True)
st.subheader("Degree distribution")
fit = view["power_law"]
if fit:
    st.write(f"degree power law ({view['graph']['lang']} tags): gamma {fit['gamma']:.2f} ± {fit['sigma']:.2f} "
             f"(x_min {fit['x_min']}, KS {fit['ks_distance']:.3f}, {fit['n_tail']} of {fit['n_nodes']} nodes in the "
             f"tail); the data favour {fit['favoured']} (p {fit['p_value']:.3g}); log-log slope "
             f"{fit['loglog_slope']:.2f}")
degrees = view.get("degrees") or []
if degrees:
    import altair as alt
    values, counts = np.unique(np.array([d for d in degrees if d > 0]), return_counts=True)
    frame = pd.DataFrame({"degree": values, "nodes": counts})
    x, y = alt.X("degree", scale=alt.Scale(type="log")), alt.Y("nodes", scale=alt.Scale(type="log"))
    chart = alt.Chart(frame).mark_circle(size=40).encode(x=x, y=y, tooltip=["degree", "nodes"])
    if fit:  # the fitted law over the tail, p(k) ~ k^-gamma from x_min, scaled to the tail's node count
        k = values[values >= fit["x_min"]].astype(float)
        if len(k):
            density = k ** -fit["gamma"]
            line = pd.DataFrame({"degree": k, "nodes": density / density.sum() * fit["n_tail"]})
            chart = chart + alt.Chart(line).mark_line(color="#d62728").encode(x=x, y=y)
    st.altair_chart(chart, width="stretch")
    st.caption("points: nodes per degree; line: the power-law fit over its tail (x >= x_min)" if fit else
               "points: nodes per degree")
elif not fit:
    st.info("Too few tags for a degree fit yet.")
st.subheader("Skill ledger")
skills = ledger.skills(c.store)
if skills:
    st.dataframe(pd.DataFrame(skills), hide_index=True)
else:
    st.info("No missing skill found yet: the oracle diagnoser fills the ledger from the second round.")
