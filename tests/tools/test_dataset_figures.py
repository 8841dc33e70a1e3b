"""Coverage and depth figures of one set (pure numpy)."""
import math

import numpy as np
import pytest

from tools.dataset_figures import SetArrays, depth_values, growth, set_figures, vendi_score


def arrays(cells, n_tags, loss, domains=None, tags=None, vectors=None, difficulty=()):
    n = len(cells)
    return SetArrays(np.array(cells), np.array(n_tags), np.array(loss, dtype=float), domains or [None] * n,
                     tags or [[] for _ in range(n)], vectors, list(difficulty))


def test_entropy_and_coverage_count_occupied_cells_and_ignore_unmapped_items():
    f = set_figures(arrays([3, 3, 7, 9, -1], [1] * 5, [1.0] * 5), n_canonical=10)
    assert f["occupied_cells"] == 3 and f["coverage"] == pytest.approx(math.log(3)) and f["mapped"] == 4
    p = np.array([2, 1, 1]) / 4
    assert f["entropy"] == pytest.approx(-(p * np.log(p)).sum(), abs=1e-5)
    one = set_figures(arrays([5, 5], [1, 1], [1.0, 1.0]), 10)
    assert one["entropy"] == 0.0 and one["coverage"] == 0.0


def test_depth_is_log_tags_times_loss_over_scored_tagged_items_only():
    d = depth_values(np.array([4, 1, 0, 3]), np.array([2.0, 5.0, 3.0, np.nan]))
    assert d[0] == pytest.approx(math.log(4) * 2) and d[1] == 0.0 and np.isnan(d[2]) and np.isnan(d[3])
    f = set_figures(arrays([1, 2, 3, 4], [4, 1, 0, 3], [2.0, 5.0, 3.0, np.nan]), 10)
    assert f["depth_scored"] == 0.5 and f["depth_mean"] == pytest.approx(math.log(4))


def test_tag_share_domains_and_difficulty():
    f = set_figures(arrays([1, 2, 3], [2, 1, 1], [1.0] * 3, domains=["math", "math", None],
                           tags=[[1, 2], [2], [3]], difficulty=[0, 4, 2]), n_canonical=6)
    assert f["tag_share"] == 0.5 and f["tags_covered"] == 3 and f["domains_covered"] == 1
    assert f["domain_entropy"] == 0.0 and f["difficulty_mean"] == 2.0 and f["difficulty_rated"] == 3
    assert "difficulty_mean" not in set_figures(arrays([1], [1], [1.0]), 6)


def test_vendi_is_one_for_copies_and_n_for_orthogonal_items():
    assert vendi_score(np.tile([[1.0, 2.0, 3.0]], (5, 1))) == pytest.approx(1.0)
    assert vendi_score(np.eye(4)) == pytest.approx(4.0)
    # more items than dimensions goes through the d x d Gram matrix: same value as the n x n kernel
    x = np.random.default_rng(0).normal(size=(50, 8))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.clip(np.linalg.eigvalsh(xn @ xn.T / 50), 0, None)
    lam = lam[lam > 1e-12]
    assert vendi_score(x) == pytest.approx(math.exp(-(lam * np.log(lam)).sum()))
    assert vendi_score(None) == 0.0


def test_growth_is_relative_and_treats_a_first_positive_value_as_full_growth():
    g = growth({"entropy": 2.2, "tag_share": 0.5, "depth_mean": 1.0}, {"entropy": 2.0, "tag_share": 0.0},
               ("entropy", "tag_share", "depth_mean"))
    assert g == {"entropy": pytest.approx(0.1), "tag_share": 1.0}  # depth_mean has no earlier value
    assert growth({"x": 0.0}, {"x": 0.0}, ("x",)) == {"x": 0.0}


def test_misaligned_arrays_are_an_error():
    with pytest.raises(ValueError, match="one entry per item"):
        SetArrays(np.array([1, 2]), np.array([1]), np.array([1.0, 1.0]), [None, None], [[], []])
