"""embed: puts every conversation's instruction into Chroma (ids = content hash, so nothing is embedded twice)."""
from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agents.resources import Resources, resources
from agents.state import IloopState
from state import conversations, decisions
from state.decisions import Action, Node
from tools.instructions import embed_conversations


def embed_new(res: Resources, progress=None) -> int:
    """Embed the instructions not yet in the collection (also after the leakage guard admits candidates)."""
    return embed_conversations(res.store, res.vectors, res.embedder, res.conversations, progress=progress,
                               cfg=res.config)


def node(state: IloopState, config: RunnableConfig) -> dict[str, Any]:
    from tqdm import tqdm

    res = resources(config)
    pending = max(0, conversations.count(res.store) - res.vectors.count(res.conversations))
    with tqdm(total=pending, desc="embed", unit="text", disable=pending == 0, mininterval=2) as bar:
        n = embed_new(res, progress=bar.update)
    decisions.record_one(res.store, state.get("db_round", 0), Node.EMBED, f"collection:{res.conversations}",
                         Action.EMBED, f"embedded {n} new instructions",
                         {"model": res.config.embedding.model, "embedded": n})
    return {"embedded": n}
