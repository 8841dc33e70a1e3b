"""The plan's estimate from settings and measured rates (pure: no store)."""
from settings import IloopConfig
from tools.plan import DEFAULT_ROLE_SHARE, DEFAULT_SECONDS, DEFAULT_TOKENS, plan_rounds


def cfg(**kw):
    return IloopConfig.model_validate({"tagging": {"max_per_round": 10}, "evolution": {"max_per_round": 4},
                                       "diagnosis": {"sample_size": 6}, "synthesis": {"max_per_round": 2}, **kw})


def test_before_any_round_every_figure_is_a_default_and_says_so():
    p = plan_rounds(cfg(), {}, {}, rounds=2)
    assert p["nodes"]["tagger"] == {"items": 10, "seconds_per_item": DEFAULT_SECONDS["tagger"],
                                    "tokens_per_item": DEFAULT_TOKENS["tagger"], "seconds": DEFAULT_SECONDS["tagger"] * 10,
                                    "tokens": DEFAULT_TOKENS["tagger"] * 10, "source": "default"}
    assert {r: v["share"] for r, v in p["roles"].items()} == DEFAULT_ROLE_SHARE
    assert p["total"]["tokens"] == 2 * p["per_round"]["tokens"] and p["fits_budget"] is None


def test_measured_rates_scale_with_the_planned_load_and_meet_the_budget():
    metrics = {1: {"node_seconds_tagger": 40.0, "node_tokens_tagger": 8000, "tagger_items": 8,
                   "node_seconds_embed": 12.0, "node_tokens_embed": 0,
                   "node_seconds_evolver": 100.0, "node_tokens_evolver": 6000, "evolved_seeds": 2,
                   "node_seconds_finish": 1.0},
               2: {"node_seconds_tagger": 20.0, "node_tokens_tagger": 2000, "tagger_items": 2,
                   "node_seconds_embed": 6.0, "node_tokens_embed": 0}}
    usage = {1: {"tagger": {"prompt_tokens": 7000, "completion_tokens": 1000, "calls": 8, "cache_hits": 0},
                 "evolver": {"prompt_tokens": 3000, "completion_tokens": 3000, "calls": 9, "cache_hits": 0}},
             2: {"tagger": {"prompt_tokens": 1500, "completion_tokens": 500, "calls": 2, "cache_hits": 0}}}
    p = plan_rounds(cfg(max_tokens=50_000), metrics, usage, rounds=3)
    tagger = p["nodes"]["tagger"]
    assert tagger["seconds_per_item"] == 6.0 and tagger["seconds"] == 60.0 and tagger["source"].startswith("measured")
    assert tagger["tokens_per_item"] == 1000 and tagger["tokens"] == 10_000
    assert p["nodes"]["embed"] == {"seconds": 9.0, "tokens": 0, "source": "measured (2 rounds, per round)"}
    assert p["nodes"]["evolver"]["seconds"] == 200.0 and p["nodes"]["evolver"]["tokens"] == 12_000
    assert "finish" not in p["nodes"] and p["nodes"]["oracle_diagnoser"]["source"] == "default"
    per_round = p["per_round"]["tokens"]
    assert p["roles"]["tagger"]["share"] == round(10_000 / 16_000, 3) and set(p["roles"]) == {"tagger", "evolver"}
    assert p["fits_budget"] == (3 * per_round <= 50_000)
