"""Data page: search conversations by text, tag, domain, origin and round (paged), a conversation whole with its
lineage (pool -> seed -> evolved -> ...), and the fixed semantic map as an interactive scatter."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from console.common import console, pager, show_messages
from state import browse
from state.domains import NO_DOMAIN, all_domains, primary_domains

c = console()
st.header("Data")
tab_search, tab_map = st.tabs(["Search", "Semantic map"])

with tab_search:
    cols = st.columns(5)
    text = cols[0].text_input("text contains")
    tag = cols[1].text_input("tag (canonical name)")
    domain = cols[2].selectbox("domain", [""] + [n for _, n, _ in all_domains(c.store)])
    origin = cols[3].selectbox("origin", ["", "pool", "evolved", "synthesized"])
    rnd = cols[4].number_input("round created (-1 = any)", -1, 100000, -1)
    args = dict(text=text, tag=tag, domain=domain, origin=origin, round_=None if rnd < 0 else int(rnd))
    total, _ = browse.search_conversations(c.store, **args, page_size=1)
    page = pager(total, "data-page", 25)
    total, rows = browse.search_conversations(c.store, **args, page=page, page_size=25)
    st.caption(f"{total} conversations match")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        pick = st.selectbox("open conversation", [r["id"] for r in rows])
        conv = browse.conversation(c.store, int(pick))
        if conv:
            st.caption(f"{conv['origin']} · round {conv['round_created']} · {conv['source']} · "
                       f"{conv['operation'] or 'no operation'} · tags: {', '.join(conv['tags']) or 'none'}")
            if conv["seed"]:
                st.caption(f"seed of round {conv['seed']['round']}: {conv['seed']['criteria']} "
                           f"({conv['seed']['status']})")
            show_messages(conv["messages"])
            tree = browse.lineage(c.store, int(pick))
            chain = tree["ancestors"] + [{"id": conv["id"], "origin": conv["origin"], "round_created":
                                          conv["round_created"], "operation": conv["operation"],
                                          "instruction": "(this conversation)"}] + tree["descendants"]
            if len(chain) > 1:
                st.markdown("**lineage** (ancestors first, then what grew from it)")
                st.dataframe(pd.DataFrame(chain), hide_index=True)
    else:
        st.info("No conversation matches." if any(args.values()) else "The store has no conversation yet.")

with tab_map:
    maps = browse.maps(c.store)
    if not maps:
        st.info("No map yet: the seed selector or the measure node fits the fixed map in the first round.")
    else:
        map_id = st.selectbox("map", list(maps), format_func=lambda m: f"{m} ({maps[m]} points)")
        colour = st.radio("colour by", ["origin", "domain", "round"], horizontal=True)
        limit = st.slider("points at most", 500, 20000, 5000, 500)
        points = pd.DataFrame(browse.map_points(c.store, map_id, limit))
        if colour == "domain":
            dom = primary_domains(c.store, points["id"].tolist())
            points["domain"] = points["id"].map(lambda i: dom.get(i, NO_DOMAIN))
        points["round"] = points["round_created"].astype(str)
        # generated items are few beside the pool: drawn larger so they can be found
        chart = alt.Chart(points).mark_circle(opacity=0.6).encode(
            x=alt.X("x", axis=None), y=alt.Y("y", axis=None), color=alt.Color(f"{colour}:N"),
            size=alt.condition(alt.datum.origin == "pool", alt.value(14), alt.value(70)),
            tooltip=["id", "origin", "round_created"] + (["domain"] if colour == "domain" else [])).interactive()
        st.altair_chart(chart, width="stretch")
        st.caption(f"{len(points)} of {maps[map_id]} placed points: generated ones first (up to the cap), the pool by a seeded sample.")
