"""Settings a person may change while a run goes on (the console's Steering page): per-round budgets, the
selector's criterion quotas and the stop rule's targets.

They are stored as steering rows of kind ``setting`` (key = the dotted setting, weight = its value). The next
round's begin_round copies them into the graph state, and every node of that round runs with them applied over the
run's configuration (agents/timing.py): a change never lands in the middle of a round. Only numbers listed here
can be steered; each is checked against the setting's own bounds, so the console cannot save a value the run would
refuse.
"""
from __future__ import annotations

from typing import Any

from settings.config import IloopConfig

# dotted key -> what the console shows beside it
STEERABLE_SETTINGS: dict[str, str] = {
    "tagging.max_per_round": "conversations tagged per round",
    "scoring.max_per_round": "conversations loss-scored per round",
    "evolution.max_per_round": "seeds evolved per round",
    "diagnosis.sample_size": "diagnosis items answered per round",
    "synthesis.max_per_round": "targeted items asked for per round",
    "selection.hard_count": "hard-to-follow quota (total; 0 = scaled)",
    "selection.undertrained_count": "undertrained quota (total; 0 = scaled)",
    "selection.ila_budget": "ILA quota (total; 0 = scaled)",
    "max_rounds": "stop: most rounds per run",
    "max_tokens": "stop: token budget of a run (0 = none)",
    "measure.min_growth": "stop: growth below which a figure has plateaued",
    "measure.patience": "stop: rounds of plateau before the loop stops",
}


def _section_and_field(cfg: IloopConfig, key: str) -> tuple[Any, str]:
    if key not in STEERABLE_SETTINGS:
        raise ValueError(f"setting {key!r} cannot be steered; steerable: {', '.join(STEERABLE_SETTINGS)}")
    *path, name = key.split(".")
    obj = cfg
    for part in path:
        obj = getattr(obj, part)
    return obj, name


def current_value(cfg: IloopConfig, key: str) -> float:
    obj, name = _section_and_field(cfg, key)
    return getattr(obj, name)


def with_settings(cfg: IloopConfig, values: dict[str, float]) -> IloopConfig:
    """``cfg`` with the steered values applied, each validated by its section's own field rules (a ValueError
    names the key and what is wrong)."""
    if not values:
        return cfg
    tree = cfg.model_dump(mode="json")
    for key, value in sorted(values.items()):
        obj, name = _section_and_field(cfg, key)
        kind = type(getattr(obj, name))
        node = tree
        for part in key.split(".")[:-1]:
            node = node[part]
        if kind is int and float(value) != int(value):
            raise ValueError(f"setting {key!r} takes a whole number, not {value}")
        node[name] = kind(value)
    try:
        return IloopConfig.model_validate(tree)
    except Exception as exc:  # pydantic names the field and the bound
        raise ValueError(f"steered settings {values}: {exc}") from exc
