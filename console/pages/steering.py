"""Steering page: domain, tag, criterion and operation weights and the steerable settings (budgets, quotas, stop
targets). Keys are chosen from what the store has; before saving, a dry run of the selector shows the seeds per
criterion and domain the change would select, and `iloop plan`'s token estimate. Saved changes are decisions."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from console.common import console, who
from settings import ALL_CRITERIA, OPERATIONS
from settings.steerable import STEERABLE_SETTINGS, current_value, with_settings
from state import rounds, steering
from state.domains import all_domains, canonical_by_domain
from tools.assets import AssetStore
from tools.plan import plan_for_store

c = console()
st.header("Steering")
st.write("A weight above 1 asks the seed selector (domains, tags, criteria) or the evolver (operations) to favour "
         "a key, below 1 to avoid it, 0 to exclude it; it applies the next time that node runs. A setting applies "
         "from the next round's start. A person's weight wins over the coverage analyst's.")

kind = st.selectbox("kind", ["domain", "tag", "criterion", "operation", "setting"])
if kind == "domain":
    keys = [name for _, name, _ in all_domains(c.store)]
elif kind == "tag":
    keys = [name for _, name, lang, _, _ in canonical_by_domain(c.store)[:2000]]
elif kind == "criterion":
    keys = list(ALL_CRITERIA)
elif kind == "operation":
    keys = list(OPERATIONS)
else:
    keys = list(STEERABLE_SETTINGS)
if not keys:
    st.info(f"No {kind} in the store yet: domains and tags appear after the taxonomist's first round.")
    st.stop()
key = st.selectbox("key", keys, format_func=(lambda k: f"{k} ({STEERABLE_SETTINGS[k]})") if kind == "setting"
                   else str)
stored = steering.weights(c.store).get(kind, {}) if kind != "setting" else steering.setting_values(c.store)
steered_cfg = with_settings(c.cfg, steering.setting_values(c.store))
if kind == "setting":
    now = stored.get(key, current_value(c.cfg, key))
    value = st.number_input("value", value=float(now), min_value=0.0, step=1.0 if float(now).is_integer() else 0.005,
                            format="%g", key=f"value:{key}")
else:
    now = stored.get(key, 1.0)
    value = st.slider("weight", 0.0, 5.0, float(now), 0.1, key=f"weight:{kind}:{key}")
note = st.text_input("note (why)")
st.caption(f"now: {now}" + (" (set)" if key in stored else " (default)"))

weights = {kind: {key: value}} if kind != "setting" else {}
settings = {**steering.setting_values(c.store), **({key: value} if kind == "setting" else {})}
error = ""
try:
    proposed_cfg = with_settings(c.cfg, settings)
except ValueError as exc:
    error, proposed_cfg = str(exc), steered_cfg
if error:
    st.error(error)

if st.button("preview", disabled=bool(error)):
    from tools.selection_preview import preview_selection
    with st.spinner("dry run of the seed selector on the scored pool"):
        p = preview_selection(c.store, AssetStore(c.cfg.assets_path), steered_cfg, weights, settings,
                              rounds.last_number(c.store) + 1)
    if "error" in p:
        st.info(p["error"])
    else:
        st.write(f"New seeds the selector would pick now from {p['candidates']} open candidates (tagged, not yet "
                 f"seeds): "
                 f"{p['current']['seeds']} today → {p['proposed']['seeds']} with the change.")
        for part in ("by_criterion", "by_domain"):
            names = sorted(set(p["current"][part]) | set(p["proposed"][part]) |
                           ({key} if part == "by_domain" and kind == "domain" else set()))
            table = {part[3:]: names, "now": [p["current"][part].get(n, 0) for n in names],
                     "with the change": [p["proposed"][part].get(n, 0) for n in names]}
            if part == "by_domain":
                table["open candidates"] = [p["candidates_by_domain"].get(n, 0) for n in names]
            st.dataframe(pd.DataFrame(table), hide_index=True)
        if kind == "domain" and not p["candidates_by_domain"].get(key):
            st.info(f"No open candidate is in {key} yet: the weight acts once the tagger and the taxonomist put "
                    "conversations there.")
    before, after = (plan_for_store(c.store, cfg, 1)["per_round"] for cfg in (steered_cfg, proposed_cfg))
    st.write(f"Token estimate per round (iloop plan): {before['tokens']} → {after['tokens']}; "
             f"time ≈ {before['seconds'] / 60:.0f} → {after['seconds'] / 60:.0f} min.")

cols = st.columns(2)
if cols[0].button("save", disabled=bool(error)):
    try:
        steering.set_user_priority(c.store, kind, key, value, note, who())
        st.success(f"saved {kind}:{key} = {value:g}")
    except ValueError as exc:
        st.error(str(exc))
if cols[1].button("reset to default", disabled=key not in stored):
    steering.reset_user_priority(c.store, kind, key, who())
    st.session_state.pop(f"value:{key}" if kind == "setting" else f"weight:{kind}:{key}", None)
    st.rerun()

st.subheader("Current steering")
rows = steering.all_priorities(c.store)
if rows:
    st.dataframe(pd.DataFrame(rows)[["kind", "key", "weight", "set_by", "round", "note", "updated_at"]],
                 hide_index=True)
else:
    st.info("Nothing steered yet: every key has weight 1 and every setting its configured value.")
