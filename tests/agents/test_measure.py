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
