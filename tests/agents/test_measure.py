"""measure's stop rule and the router after it (pure: no store needed)."""
from agents.measure import figure_growth, round_metrics, route_after_measure, stop_rule
from settings import IloopConfig

FLAT = {"entropy": 0.001, "occupied_cells": 0.0, "tag_share": 0.004, "depth_mean": -0.02, "difficulty_mean": 0.0}
GROWING = {**FLAT, "occupied_cells": 0.2}


def cfg(**kw):
    measure = {"patience": kw.pop("patience", 2), "min_growth": kw.pop("min_growth", 0.01)}
    return IloopConfig.model_validate({"max_rounds": 5, **kw, "measure": measure})


def test_plateau_needs_every_figure_flat_for_patience_rounds():
    assert stop_rule(2, [GROWING, FLAT], 0, cfg())[0] == ""  # one flat round of two
    reason, why = stop_rule(3, [GROWING, FLAT, FLAT], 0, cfg())
    assert reason == "plateau" and "occupied_cells +0.0000" in why and "0.01" in why
    assert stop_rule(1, [FLAT], 0, cfg(patience=1))[0] == "plateau"
    # one figure still growing keeps the loop going, however flat the rest are
    assert stop_rule(3, [FLAT, FLAT, GROWING], 0, cfg())[0] == ""
    assert stop_rule(1, [{}], 0, cfg(patience=1))[0] == ""  # nothing measured is not a plateau
    no_depth = {k: v for k, v in FLAT.items() if k != "depth_mean"}
    assert stop_rule(1, [no_depth], 0, cfg(patience=1))[0] == ""  # a figure missing (nothing scored) is not flat
    no_rating = {k: v for k, v in FLAT.items() if k != "difficulty_mean"}
    off = IloopConfig.model_validate({"max_rounds": 5, "measure": {"patience": 1, "difficulty_sample": 0}})
    assert stop_rule(1, [no_rating], 0, off)[0] == "plateau"  # difficulty switched off is not required


def test_max_rounds_and_the_token_budget():
    assert stop_rule(5, [GROWING] * 5, 0, cfg())[0] == "max_rounds"
    reason, why = stop_rule(1, [GROWING], 1200, cfg(max_tokens=1000))
    assert reason == "token_budget" and "1200" in why
    assert stop_rule(1, [GROWING], 999, cfg(max_tokens=1000))[0] == ""
    assert stop_rule(1, [GROWING], 10 ** 9, cfg())[0] == ""  # 0 = no budget


def test_round_one_is_compared_with_the_random_reference_later_rounds_with_the_last():
    now = {"dataset_entropy": 2.2, "reference_entropy": 2.0, "dataset_depth_mean": 1.0, "reference_depth_mean": 1.25}
    g = figure_growth(now, [])
    assert g["entropy"] == 0.1 and g["depth_mean"] == -0.2
    g2 = figure_growth(now, [{"dataset_entropy": 2.2, "dataset_depth_mean": 0.5}])
    assert g2 == {"entropy": 0.0, "depth_mean": 1.0}


def test_the_router_follows_the_reason_measure_wrote():
    assert route_after_measure({"stop_reason": ""}) == "begin_round"
    assert route_after_measure({}) == "begin_round"
    assert route_after_measure({"stop_reason": "plateau"}) == "finish"


def test_round_metrics_shares_and_growth():
    stats = {"conversations": {"total": 10, "mean_turns": 1.5, "mean_chars": 200.0, "multi_turn": 4,
                               "by_lang": {"en": 6, "zh": 4}, "by_origin": {"pool": 9, "evolved": 1}},
             "tags": {"canonical": 7, "conversations_tagged": 5}, "domains": {"total": 3}}
    m = round_metrics(stats, new=2, embedded=2, vectors_total=10)
    assert m["growth"] == 2 / 8 and m["multi_turn_share"] == 0.4 and m["lang_share_zh"] == 0.4
    assert m["origin_evolved"] == 1 and m["tagged_share"] == 0.5 and m["domains"] == 3


def test_graph_metrics_carry_the_fit_and_its_verdict():
    import numpy as np

    from agents.measure import graph_metrics
    from tools.powerlaw import fit_degrees

    fit = fit_degrees(np.random.default_rng(2).geometric(0.1, 4000)).as_dict()
    m = graph_metrics({"graph_nodes": 40, "graph_edges": 90, "power_law": fit})
    assert m["graph_nodes"] == 40 and m["powerlaw_gamma"] == fit["gamma"] and m["powerlaw_x_min"] == fit["x_min"]
    # an exponential sample: the round says so, not just "gamma = 3"
    assert m["powerlaw_favoured"] == 0.0 and m["powerlaw_vs_exponential_r"] < 0
    assert m["powerlaw_vs_exponential_p"] < 0.01
    assert graph_metrics({}) == {"graph_nodes": 0, "graph_edges": 0}


def test_every_graph_metric_is_one_stats_shows():
    import numpy as np

    from agents.measure import graph_metrics
    from state.metrics import GRAPH_METRICS
    from tools.powerlaw import fit_degrees

    m = graph_metrics({"graph_nodes": 1, "graph_edges": 1,
                       "power_law": fit_degrees(np.random.default_rng(1).zipf(2.5, 2000)).as_dict()})
    assert set(m) == set(GRAPH_METRICS)
