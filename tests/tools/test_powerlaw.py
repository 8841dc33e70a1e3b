"""The fit must be able to say "not a power law": each sample has known parameters and a fixed seed, and is large
enough that the package's likelihood-ratio verdict is far from its significance cut (measured: the R values below
were stable over seeds 0-2)."""
import numpy as np
import pytest

from tools.powerlaw import fit_degrees, fit_metrics

N = 8000


def test_a_discrete_power_law_is_recovered_and_beats_the_exponential():
    fit = fit_degrees(np.random.default_rng(1).zipf(2.5, N))
    assert abs(fit.gamma - 2.5) < 0.1, fit
    exp = fit.comparisons["exponential"]
    assert exp.ratio > 2 and exp.p_value < 0.01 and exp.favoured == "power_law", fit
    # a lognormal can mimic a power law's tail, so the pure power law is favoured or tied, never beaten by it
    assert fit.favoured in ("power_law", "power_law_or_lognormal") and fit.ks_distance < 0.02


def test_a_lognormal_sample_is_not_called_a_power_law():
    degrees = np.floor(np.random.default_rng(0).lognormal(2.0, 1.0, N)).astype(int) + 1
    fit = fit_degrees(degrees)
    logn = fit.comparisons["lognormal"]
    assert logn.ratio < 0 and logn.p_value < 0.01 and logn.favoured == "lognormal", fit
    assert fit.favoured == "lognormal"


def test_an_exponential_sample_favours_the_exponential():
    fit = fit_degrees(np.random.default_rng(2).geometric(0.1, N))
    exp = fit.comparisons["exponential"]
    assert exp.ratio < 0 and exp.p_value < 1e-6 and exp.favoured == "exponential", fit
    assert fit.favoured == "exponential" and fit_metrics(fit.as_dict())["powerlaw_favoured"] == 0.0


def test_x_min_is_searched_beyond_the_first_two_hundred_degrees():
    # The old hand-written fit stopped its x_min search at the 200th distinct degree: a power-law tail that starts
    # above a long flat head was fitted from the head. Here the tail starts at 250, past 249 distinct head degrees.
    rng = np.random.default_rng(3)
    head = rng.integers(1, 250, 5000)
    tail = np.floor(250 * (1 - rng.random(2500)) ** (-1 / 1.5)).astype(int)
    fit = fit_degrees(np.concatenate([head, tail]))
    assert fit.x_min >= 230 and abs(fit.gamma - 2.5) < 0.15, fit


def test_too_few_nodes_or_distinct_degrees_give_no_fit():
    assert fit_degrees([3, 3, 3, 3]) is None
    assert fit_degrees([1, 2, 3] * 3) is None
    assert fit_metrics(None) == {}


def test_metrics_are_numbers_with_both_comparisons():
    fit = fit_degrees(np.random.default_rng(1).zipf(2.5, N))
    m = fit_metrics(fit.as_dict())
    assert set(m) >= {"powerlaw_gamma", "powerlaw_x_min", "powerlaw_ks", "powerlaw_vs_lognormal_r",
                      "powerlaw_vs_lognormal_p", "powerlaw_vs_exponential_r", "powerlaw_vs_exponential_p"}
    assert all(isinstance(v, (int, float)) for v in m.values())
    assert m["powerlaw_gamma"] == pytest.approx(fit.gamma) and m["powerlaw_favoured"] == 1.0


def test_the_package_prints_nothing(capsys):
    fit_degrees(np.random.default_rng(0).zipf(2.2, 2000))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
