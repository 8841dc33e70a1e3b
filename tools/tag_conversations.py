"""Tagging stored conversations: the tag task over shards of ``tagging.batch_size`` conversations on the configured
executor (tools/executor.py), results written after every shard (resumable).

A reply that cannot be parsed even after the LLM layer's repair attempt is a recorded, counted rejection.
"""
from __future__ import annotations

from settings import IloopConfig, TaggingSettings
from state import decisions
from state.conversations import load_messages
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.tags import add_alignments, link_tags, tag_ids
from tools.bulk_steps import TagStep
from tools.embedded_server import embedded_servers
from tools.executor import StepCounts, run_step
from tools.llm import LLM
from tools.tagging import TagTask


def tag_conversations(store: Store, llm: LLM, s: TaggingSettings, ids: list[int], round_: int,
                      progress=None) -> dict[str, int]:
    """Tag ``ids`` with the tag task; the local executor uses ``llm`` itself, Ray workers open their own client
    on the same endpoint and store."""
    cfg = llm.config.model_copy(update={"tagging": s})
    step = TagStep.for_config(cfg, round_)
    step._llm, step._task = llm, TagTask(s)
    counts = {"tagged": 0, "rejected": 0, "tags_en": 0, "tags_zh": 0}
    convs = load_messages(store, sorted(ids))
    items = [(cid, convs[cid][1]) for cid in sorted(ids) if cid in convs]

    def store_shard(part: list, results: list) -> None:
        links, rejected, pairs = [], [], []
        for (cid, _), result in zip(part, results):
            if not result.ok:
                counts["rejected"] += 1
                rejected.append(DecisionRow(round_, Node.TAGGER, f"conversation:{cid}", Action.REJECT_REPLY,
                                            result.error, {"reply": result.text[:500]}))
                continue
            counts["tagged"] += 1
            # tags the parser dropped from an otherwise valid reply (named entities, too long, ...), by reason
            for reason, n in result.value.get("dropped", {}).items():
                counts[f"dropped_{reason}"] = counts.get(f"dropped_{reason}", 0) + n
            lang_ids: dict[str, list[int]] = {}
            for lang in ("en", "zh"):
                names = result.value[lang]
                counts[f"tags_{lang}"] += len(names)
                by_name = tag_ids(store, names, lang)
                lang_ids[lang] = [by_name[n] for n in names]
                links += [(cid, tid) for tid in lang_ids[lang]]
            # The prompt asks for the same tags in both languages, so equal-length lists align by position. Lists
            # of different lengths cannot be paired reliably (counting every pair made the en/zh display noisy).
            en, zh = lang_ids["en"], lang_ids["zh"]
            if len(en) == len(zh):
                pairs += list(zip(en, zh))
        link_tags(store, links)
        add_alignments(store, pairs)
        decisions.record(store, rejected)
        if progress:
            progress(len(part))

    run_step(step, items, cfg, on_shard=store_shard, shard_size=s.batch_size, counts=StepCounts())
    return counts


def tag_now(store: Store, cfg: IloopConfig, ids: list[int], round_: int) -> dict[str, int]:
    """Tag the given conversations with the tagger role (embedded servers started and stopped here)."""
    from tqdm import tqdm

    if not ids:
        return {"tagged": 0, "rejected": 0}
    with embedded_servers(cfg, ["tagger"]), tqdm(total=len(ids), desc="tag", unit="conv", mininterval=2) as bar:
        llm = LLM(cfg, store, round_)
        counts = tag_conversations(store, llm, cfg.tagging, ids, round_, progress=bar.update)
        llm.close()
    decisions.record_one(store, round_, Node.TAGGER, f"conversations:{len(ids)}", Action.TAG,
                         f"{counts['tagged']} tagged, {counts['rejected']} replies rejected", counts)
    return counts


def tag_generated(store: Store, cfg: IloopConfig, round_: int) -> dict[str, int]:
    """Every untagged generated item (evolved, synthesized), so it counts in coverage in the round that made it."""
    from state.tags import untagged_ids
    return tag_now(store, cfg, untagged_ids(store, origins=["evolved", "synthesized"]), round_)
