"""tagger: gives untagged conversations fine-grained English and Chinese tags (tagger role, JSON mode).

Batched and resumable: tags are stored after every batch, and a later run only sees conversations still without
tags. A reply that cannot be parsed even after the LLM layer's repair attempt is a recorded, counted rejection.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from langchain_core.runnables import RunnableConfig

from graph.context import resources
from graph.state import IloopState
from state.models import Conversation
from state.taxonomy import add_alignments, link_tags, tag_ids, untagged_ids
from tools.embedded_server import embedded_servers
from tools.llm import LLM
from tools.tagging import format_input, parse_output


def tag_conversations(res, ids: list[int], round_: int, llm: LLM, progress=None) -> dict[str, int]:
    s, c = res.config.tagging, Conversation.__table__
    counts = {"tagged": 0, "rejected": 0, "tags_en": 0, "tags_zh": 0}
    for start in range(0, len(ids), s.batch_size):
        part = ids[start:start + s.batch_size]
        with res.store.engine.connect() as conn:
            rows = conn.execute(sa.select(c.c.id, c.c.messages).where(c.c.id.in_(part)).order_by(c.c.id)).all()
        prompts = [format_input(json.loads(r.messages), s) for r in rows]
        parsers = [lambda text, p=p: parse_output(text, s, p[-1]["content"]) for p in prompts]
        results = llm.chat_many("tagger", prompts, parse=parsers, json_mode=True)
        links, decisions, pairs = [], [], []
        for row, result in zip(rows, results):
            if not result.ok:
                counts["rejected"] += 1
                decisions.append(dict(round=round_, node="tagger", subject=f"conversation:{row.id}",
                                      action="reject_reply", reason=result.error,
                                      evidence={"reply": result.text[:500]}))
                continue
            counts["tagged"] += 1
            lang_ids: dict[str, list[int]] = {}
            for lang in ("en", "zh"):
                names = result.value[lang]
                counts[f"tags_{lang}"] += len(names)
                by_name = tag_ids(res.store, names, lang)
                lang_ids[lang] = [by_name[n] for n in names]
                links += [(row.id, tid) for tid in lang_ids[lang]]
            # The prompt asks for the same tags in both languages, so equal-length lists align by position. Lists
            # of different lengths cannot be paired reliably (counting every pair made the en/zh display noisy).
            en, zh = lang_ids["en"], lang_ids["zh"]
            if len(en) == len(zh):
                pairs += list(zip(en, zh))
        link_tags(res.store, links)
        add_alignments(res.store, pairs)
        res.store.record_decisions(decisions)
        if progress:
            progress(len(part))
    return counts


def tag_ids_now(res, ids: list[int], round_: int) -> dict[str, int]:
    """Tag the given conversations with the tagger role (servers started and stopped here)."""
    from tqdm import tqdm

    if not ids:
        return {"tagged": 0, "rejected": 0}
    cfg = res.config
    with embedded_servers(cfg, ["tagger"]), tqdm(total=len(ids), desc="tag", unit="conv", mininterval=2) as bar:
        counts = tag_conversations(res, ids, round_, LLM(cfg, res.store, round_), progress=bar.update)
    res.store.record_decision(round_, "tagger", f"conversations:{len(ids)}", "tag",
                              f"{counts['tagged']} tagged, {counts['rejected']} replies rejected", counts)
    return counts


def tag_new_items(res, round_: int) -> dict[str, int]:
    """Every untagged generated item (evolved, synthesized), so it counts in coverage in the round that made it."""
    return tag_ids_now(res, untagged_ids(res.store, origins=["evolved", "synthesized"]), round_)


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    """Tags a seeded sample of untagged conversations (tagging.max_per_round)."""
    res = resources(config)
    cfg, round_ = res.config, state.get("db_round", 0)
    ids = untagged_ids(res.store, cfg.tagging.max_per_round, seed=cfg.seed + round_)
    return {"tagged": tag_ids_now(res, ids, round_)["tagged"]}


def new_items_node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    """Tags the conversations the leakage guard admitted this round (evolved, synthesized)."""
    res = resources(config)
    return {"tagged": state.get("tagged", 0) + tag_new_items(res, state.get("db_round", 0))["tagged"]}
