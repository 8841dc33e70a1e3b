"""measure's stop rule and the router after it (pure: no store needed)."""
from agents.measure import round_metrics, route_after_measure, stop_reason


def test_stop_reason_max_rounds_then_plateau_then_go_on():
    assert stop_reason(3, 0.5, max_rounds=3, min_growth=0.01) == "max_rounds"
    assert stop_reason(1, 0.005, max_rounds=3, min_growth=0.01) == "plateau"
    assert stop_reason(1, 0.02, max_rounds=3, min_growth=0.01) == ""


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
