"""Seed selection on synthetic pools with known losses and tags: exact ids, steering, totals over rounds, ILA's
visiting order. The comparison of ILA with random and top-loss subsets on real embeddings is test_seeds_real.py."""
import math
from collections import Counter

import numpy as np
import pytest

from settings.seeds import SelectionSettings
from tools.projection import Projection, ProjectionError, spatial_entropy
from tools.seeds import SeedFrame, Steering, combine, ila_order, resolve_cuts, select_criteria, select_ila

FREQ = {"common": 100, "rare1": 1, "mid1": 4, "a": 50, "b": 50, "c": 50, "d": 50, "e": 50}
#        id  base  ft    tags                         domain
ROWS = [(1, 2.0, 1.0, ["common"], "code"),
        (2, 2.0, 1.95, ["common"], "code"),
        (3, 2.1, 2.08, ["common"], "code"),
        (4, 2.0, 1.5, ["rare1"], "code"),
        (5, 2.0, 1.4, ["mid1", "common"], "code"),
        (6, 2.0, 1.3, ["a", "b", "c", "d", "e"], "writing"),
        (7, 2.0, 1.2, ["a", "b", "c", "d"], "writing"),
        (8, 6.0, 5.0, ["common"], "writing"),
        (9, 2.0, 1.1, ["common"], "math"),
        (10, 2.0, 1.1, ["common"], "math")]


def frame(rows=ROWS, freq=FREQ, exclude=()):
    names = sorted(freq)
    domains = sorted({r[4] for r in rows})
    ptr = np.r_[0, np.cumsum([len(r[3]) for r in rows])]
    return SeedFrame(ids=np.array([r[0] for r in rows]), base_loss=np.array([r[1] for r in rows]),
                     ft_loss=np.array([r[2] for r in rows]), tag_ptr=ptr,
                     tag_idx=np.array([names.index(t) for r in rows for t in r[3]]),
                     tag_freq=np.array([freq[n] for n in names]), tag_names=names,
                     domain=np.array([domains.index(r[4]) for r in rows]), domain_names=domains,
                     exclude=np.array([r[0] in exclude for r in rows]))


SETTINGS = SelectionSettings(hard_count=2, undertrained_count=5, long_tail_max_freq=3, mid_band_max_freq=6,
                             mid_band_share=1.0, near_misses=3)


def pick(f, settings=SETTINGS, steering=None, seed=0):
    cuts = resolve_cuts(f, settings, 7_000_000)
    chosen, near, _ = select_criteria(f, settings, cuts, steering or Steering(), seed)
    ids = {c: sorted(int(f.ids[k]) for k in rows) for c, rows in chosen.items()}
    return ids, {c: [int(f.ids[k]) for k in rows] for c, rows in near.items()}, cuts


def test_each_criterion_selects_exactly_the_expected_ids():
    ids, near, cuts = pick(frame())
    assert ids == {"hard": [2, 3], "long_tail": [4, 5], "multi_skill": [6], "undertrained": [8]}
    assert 6.0 > cuts.undertrained_threshold > 2.1  # mean + 1.96 std of the ten losses
    assert near["hard"][0] == 4  # next-smallest reduction (0.5) just missed the quota
    assert near["multi_skill"] == [7]  # four tags, one short
    f = frame()
    rows = combine(select_criteria(f, SETTINGS, cuts, Steering(), 0)[0])
    assert {int(f.ids[k]): c for k, c in rows.items()} == {2: ["hard"], 3: ["hard"], 4: ["long_tail"],
                                                            5: ["long_tail"], 6: ["multi_skill"], 8: ["undertrained"]}


def test_ifd_measure_and_already_chosen_seeds():
    f = frame(exclude=(3,))
    f.ifd = np.array([0.5, 0.9, 0.99, 0.4, 0.3, 0.2, 0.1, 0.95, 0.6, 0.7])
    ids, _, _ = pick(f, SETTINGS.model_copy(update={"hard_measure": "ifd"}))
    assert ids["hard"] == [2, 8]  # highest IFD, 3 is a seed already
    assert 3 not in sum(ids.values(), [])


def test_ifd_above_one_is_dropped_before_ranking_and_counted():
    f = frame(exclude=(3,))
    # rows 1, 5 and 10 have the highest IFD but above 1 (the query hinders the answer); row 3 is a seed already
    f.ifd = np.array([1.8, 0.9, 1.5, 0.4, 1.01, 0.2, 0.1, 0.95, 0.6, 3.0])
    s = SETTINGS.model_copy(update={"hard_measure": "ifd"})
    chosen, near, drops = select_criteria(f, s, resolve_cuts(f, s, 7_000_000), Steering(), 0)
    assert sorted(int(f.ids[k]) for k in chosen["hard"]) == [2, 8]  # the highest IFDs <= 1
    assert drops == {"ifd_above_1": 3}  # 1, 5, 10; row 3 is not free, so not counted
    assert not {1, 5, 10} & {int(f.ids[k]) for k in near["hard"]}  # dropped rows are not near misses either


def test_steering_weights_and_quotas_change_the_choice():
    boost = pick(frame(), steering=Steering(domain={"math": 100}))[0]
    assert boost["hard"] == [9, 10]  # rank 7-8 of 10 divided by 100 beats rank 1
    off = pick(frame(), steering=Steering(domain={"writing": 0}))[0]
    assert off["multi_skill"] == [] and off["undertrained"] == []  # rows 6 and 8 are writing
    quotas = pick(frame(), steering=Steering(criterion={"hard": 2.0, "undertrained": 0.0, "long_tail": 0.5}))[0]
    assert quotas["hard"] == [2, 3, 4, 5] and quotas["undertrained"] == [] and quotas["long_tail"] == [4]
    tag_off = pick(frame(), steering=Steering(tag={"e": 0.0}))[0]
    assert tag_off["multi_skill"] == []
    tag_up = pick(frame(), steering=Steering(tag={"a": 50.0}))[0]
    assert tag_up["hard"] == [6, 7]


def test_middle_band_draw_is_a_seeded_share():
    rows = [(k, 2.0, 1.0, ["mid1"], "x") for k in range(2000)]
    settings = SETTINGS.model_copy(update={"mid_band_share": 0.3})
    a = pick(frame(rows, {"mid1": 4}), settings, seed=7)[0]["long_tail"]
    b = pick(frame(rows, {"mid1": 4}), settings, seed=7)[0]["long_tail"]
    c = pick(frame(rows, {"mid1": 4}), settings, seed=8)[0]["long_tail"]
    assert a == b and a != c and 540 < len(a) < 660
    doubled = pick(frame(rows, {"mid1": 4}), settings, Steering(domain={"x": 2.0}), seed=7)[0]["long_tail"]
    assert set(a) < set(doubled) and 1080 < len(doubled) < 1320  # weight 2 doubles the draw probability


def test_scaled_cuts_follow_the_documented_rules():
    s = SelectionSettings()
    cuts = resolve_cuts(frame(), s, 7_000_000)
    assert (cuts.hard_quota, cuts.undertrained_quota, cuts.long_tail_max_freq, cuts.mid_band_max_freq) == (1, 1, 2, 5)
    big = frame([(k, 2.0, 1.0, ["common"], "x") for k in range(70_000)], {"common": 70_000})
    cuts = resolve_cuts(big, s, 7_000_000)
    assert (cuts.hard_quota, cuts.undertrained_quota, cuts.long_tail_max_freq, cuts.mid_band_max_freq,
            cuts.ila_budget) == (500, 2000, 2, 5, 12_000)


def test_ila_visits_cells_in_rounds_deepest_first():
    cell = np.array([0, 0, 0, 1, 1, 2])
    value = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 0.5])
    assert ila_order(cell, value, np.ones(6, bool)).tolist() == [3, 1, 5, 4, 2, 0]
    assert ila_order(cell, value, np.array([1, 1, 1, 0, 1, 1], bool)).tolist() == [4, 1, 5, 2, 0]


def growing_pool(rows: int, seed: int = 0) -> dict:
    """A pool whose first n rows are the pool of a round: losses, ~5 Zipf tags a row, 40x40 grid cells."""
    rng = np.random.default_rng(seed)
    n_tags = rng.integers(1, 10, size=rows)
    base = rng.gamma(4.0, 0.4, size=rows)
    return {"base": base, "ft": base - rng.uniform(0, 0.6, rows), "n_tags": n_tags,
            "tag_idx": np.minimum(rng.zipf(1.6, size=int(n_tags.sum())) - 1, 1999), "cell": rng.integers(0, 1600, rows)}


def round_frame(pool: dict, n: int, seeds: dict[int, list[str]]) -> SeedFrame:
    ptr = np.r_[0, np.cumsum(pool["n_tags"][:n])]
    idx = pool["tag_idx"][:ptr[-1]]
    return SeedFrame(ids=np.arange(n), base_loss=pool["base"][:n], ft_loss=pool["ft"][:n], tag_ptr=ptr,
                     tag_idx=idx, tag_freq=np.bincount(idx, minlength=2000), tag_names=[f"t{k}" for k in range(2000)],
                     domain=np.full(n, -1), domain_names=[], cell=pool["cell"][:n],
                     exclude=np.isin(np.arange(n), list(seeds)),
                     held=dict(Counter(c for crits in seeds.values() for c in crits)))


def test_quotas_are_totals_over_rounds_on_a_growing_pool():
    sizes = [10_000 + 4_000 * r for r in range(6)]  # six rounds, the pool grows by 4,000 each
    pool, s, seeds = growing_pool(sizes[-1]), SelectionSettings(), {}
    quota_before = {"hard": 0, "undertrained": 0, "ila": 0}
    for n in sizes:
        f = round_frame(pool, n, seeds)
        cuts = resolve_cuts(f, s, 7_000_000)
        chosen, _, _ = select_criteria(f, s, cuts, Steering(), 0)
        chosen["ila"] = select_ila(f, cuts, Steering())
        assert not set(combine(chosen)) & set(seeds)  # a conversation is a seed once
        seeds.update(combine(chosen))
        held = Counter(c for crits in seeds.values() for c in crits)
        quota = {"hard": cuts.hard_quota, "undertrained": cuts.undertrained_quota, "ila": cuts.ila_budget}
        for crit, q in quota.items():
            assert held[crit] <= q, (n, crit, held[crit], q)  # a quota is what a criterion may hold in total
        # plenty of eligible rows: hard and ILA reach their totals exactly, so a round adds only the growth
        for crit in ("hard", "ila"):
            assert held[crit] == quota[crit] and len(chosen[crit]) == quota[crit] - quota_before[crit], (n, crit)
        assert len(chosen["undertrained"]) <= quota["undertrained"] - quota_before["undertrained"] + 1
        quota_before = quota
    # after six rounds the pool holds the paper's shares, not six times them
    assert held["hard"] == math.ceil(50_000 * sizes[-1] / 7_000_000) == 215
    assert held["ila"] == math.ceil(1_200_000 * sizes[-1] / 7_000_000) == 5143


def test_a_criterion_over_its_total_adds_nothing():
    f = frame()
    f.held = {"hard": 5, "undertrained": 1}  # earlier rounds already gave more than today's quotas (2 and 5 x 0.2)
    ids, near, _ = pick(f, steering=Steering(criterion={"undertrained": 0.2}))
    assert ids["hard"] == [] and ids["undertrained"] == []
    assert set(near["hard"][:2]) == {2, 3}  # what would have been chosen is still shown as a near miss
    f.held = {"hard": 1}
    assert pick(f)[0]["hard"] == [3]  # one more (the smallest reduction) brings hard to its total of 2


def test_ila_covers_more_grid_cells_than_a_random_subset():
    """A unit test of the visiting order on Gaussian blobs: ILA takes one row per non-empty cell before a second,
    so it covers more cells than random subsets by construction. Real embeddings: test_seeds_real.py."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(12, 32)) * 3
    sizes = [1400] + [50] * 11  # one dominant topic, many small ones
    vecs = np.concatenate([c + rng.normal(size=(n, 32)) for c, n in zip(centers, sizes)])
    n = len(vecs)
    proj = Projection.fit(vecs, "synthetic")
    cells = proj.cells(proj.transform(vecs), 20)
    tags = rng.integers(1, 7, size=n)
    f = SeedFrame(ids=np.arange(n), base_loss=rng.uniform(1, 3, n), tag_ptr=np.r_[0, np.cumsum(tags)],
                  tag_idx=np.zeros(tags.sum(), dtype=np.int64), tag_freq=np.array([n]), tag_names=["t"],
                  domain=np.full(n, -1), domain_names=[], cell=cells)
    budget = 150
    cuts = resolve_cuts(f, SelectionSettings(ila_budget=budget), 7_000_000)
    chosen = select_ila(f, cuts, Steering())
    assert len(chosen) == budget
    ila_cells = len(np.unique(cells[chosen]))
    random_cells = [len(np.unique(cells[rng.choice(n, budget, replace=False)])) for _ in range(20)]
    assert ila_cells > max(random_cells), (ila_cells, random_cells)
    assert spatial_entropy(cells[chosen]) > max(spatial_entropy(cells[rng.choice(n, budget, replace=False)])
                                                for _ in range(5))
    # within the budget, ILA takes deeper instructions than random in the cells it visits first
    depth = np.log(tags) * f.base_loss
    assert depth[chosen].mean() > depth.mean()


def test_projection_is_stored_and_maps_new_points_into_the_same_plane(tmp_path):
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(300, 16))
    proj = Projection.fit(vecs, "m")
    proj.save(tmp_path / "p.json")
    again = Projection.load(tmp_path / "p.json")
    new = rng.normal(size=(5, 16))
    assert np.allclose(proj.transform(new), again.transform(new))
    assert (again.cells(again.transform(new), 10) == proj.cells(proj.transform(new), 10)).all()
    assert Projection.fit(vecs, "m").components == proj.components  # deterministic
    far = again.cells(np.array([[1e9, -1e9]]), 10)
    assert far.tolist() == [9 * 10 + 0]  # outliers land in edge cells
    with pytest.raises(ProjectionError, match="16-dim"):
        again.transform(rng.normal(size=(2, 8)))
