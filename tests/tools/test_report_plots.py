"""The report's PNG figures from plain values (no store): each writes a real image of a sensible size."""
import numpy as np
from PIL import Image

from tools import report_plots as plots


def size_of(path):
    with Image.open(path) as im:
        return im.size


def test_every_figure_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(300, 2))
    plots.semantic_map(pool, {"seed": pool[:5], "evolved": pool[5:8], "synthesized": np.zeros((0, 2))},
                       {1: pool[:6], 2: pool[6:8]}, tmp_path / "map.png", "map")
    rounds = [{"round": 1, "dataset": {"entropy": 1.0}, "reference": {"entropy": 1.2}},
              {"round": 2, "dataset": {"entropy": 1.5}, "reference": {}}]
    plots.per_round(rounds, [("entropy", "spatial entropy"), ("depth_mean", "mean depth")], tmp_path / "r.png")
    plots.domain_bars({"math": 3, "code": 1}, {"code": 4}, tmp_path / "d.png")
    plots.degree_loglog(list(rng.zipf(2.2, 400)), 2.2, 2, tmp_path / "g.png")
    plots.degree_loglog([], None, None, tmp_path / "g0.png")  # an empty graph still gives a page section
    plots.count_bars({"leaks": {"mt-bench": 3}, "evolution": {"answer_cut": 2, "unchanged": 1}, "empty": {}},
                     tmp_path / "c.png")
    plots.count_bars({}, tmp_path / "c0.png")
    for name in ("map", "r", "d", "g", "g0", "c", "c0"):
        w, h = size_of(tmp_path / f"{name}.png")
        assert w >= 300 and h >= 200, name


def test_the_dataset_is_compared_at_the_references_size_when_the_round_has_a_matched_subsample():
    from tools.report import comparison_rows
    from tools.report_plots import compared_dataset
    full = {"dataset": {"entropy": 2.0}, "reference": {"entropy": 1.9}}
    assert compared_dataset(full) == {"entropy": 2.0}
    matched = {**full, "matched_dataset": {"entropy": 1.9}}
    assert compared_dataset(matched) == {"entropy": 1.9}
    assert comparison_rows(matched)[0][1:] == [1.9, 1.9, 0.0]  # not the full dataset's 2.0 against 1.9
