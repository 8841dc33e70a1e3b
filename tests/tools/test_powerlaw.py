import networkx as nx
import numpy as np

from tools.powerlaw import fit_degrees


def test_recovers_the_exponent_of_a_scale_free_graph():
    g = nx.barabasi_albert_graph(20000, 3, seed=7)  # degree exponent 3 in theory
    fit = fit_degrees([d for _, d in g.degree()])
    assert abs(fit.gamma - 3.0) < 0.35, fit
    assert fit.ks_distance < 0.1 and fit.n_nodes == 20000 and fit.loglog_slope < -1.5


def test_recovers_a_sampled_discrete_power_law():
    rng = np.random.default_rng(0)
    gamma = 2.2
    degrees = np.floor((1 - rng.random(30000)) ** (-1 / (gamma - 1)) * 2).astype(int)
    fit = fit_degrees(degrees)
    assert abs(fit.gamma - gamma) < 0.2, fit


def test_not_a_power_law_gives_a_poor_fit_or_none():
    assert fit_degrees([3, 3, 3, 3]) is None
    regular = fit_degrees(np.random.default_rng(1).poisson(30, 5000) + 1)
    assert regular is None or regular.ks_distance > 0.05 or regular.loglog_r2 < 0.5
