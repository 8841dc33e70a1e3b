"""The plan's estimate from settings and measured rates (pure: no store)."""
from settings import IloopConfig
from tools.plan import DEFAULT_SECONDS, DEFAULT_TOKENS, plan_rounds


def cfg(**kw):
    return IloopConfig.model_validate({"tagging": {"max_per_round": 10}, "evolution": {"max_per_round": 4},
                                       "diagnosis": {"sample_size": 6}, "synthesis": {"max_per_round": 2}, **kw})


def test_before_any_round_every_figure_is_a_default_and_says_so():
    p = plan_rounds(cfg(), {}, {}, rounds=2)
    assert p["nodes"]["tagger"] == {"items": 10, "seconds_per_item": DEFAULT_SECONDS["tagger"],
                                    "seconds": DEFAULT_SECONDS["tagger"] * 10, "source": "default"}
    assert p["roles"]["judge"]["tokens"] == DEFAULT_TOKENS["judge"] * 4 and p["roles"]["judge"]["source"] == "default"
    assert p["total"]["tokens"] == 2 * p["per_round"]["tokens"] and p["fits_budget"] is None


def test_measured_rates_scale_with_the_planned_load_and_meet_the_budget():
    metrics = {1: {"node_seconds_tagger": 40.0, "tagged_round": 8, "node_seconds_embed": 12.0,
                   "node_seconds_evolver": 100.0, "evolved_seeds": 2},
               2: {"node_seconds_tagger": 20.0, "tagged_round": 2, "node_seconds_embed": 6.0}}
    usage = {1: {"tagger": {"prompt_tokens": 7000, "completion_tokens": 1000, "calls": 8, "cache_hits": 0},
                 "evolver": {"prompt_tokens": 3000, "completion_tokens": 3000, "calls": 9, "cache_hits": 0}}}
    p = plan_rounds(cfg(max_tokens=50_000), metrics, usage, rounds=3)
    tagger = p["nodes"]["tagger"]
    assert tagger["seconds_per_item"] == 6.0 and tagger["seconds"] == 60.0 and tagger["source"].startswith("measured")
    assert p["nodes"]["embed"] == {"seconds": 9.0, "source": "measured (2 rounds, per round)"}
    assert p["nodes"]["evolver"]["seconds"] == 200.0
    assert p["roles"]["tagger"]["tokens_per_item"] == 1000 and p["roles"]["tagger"]["tokens"] == 10_000
    assert p["roles"]["evolver"]["tokens"] == 12_000 and p["roles"]["oracle"]["source"] == "default"
    per_round = p["per_round"]["tokens"]
    assert p["fits_budget"] == (3 * per_round <= 50_000)
