"""Degree distribution of the tag co-occurrence graph: is it a power law, P(degree = d) ~ d^-gamma, and how good a one?

The fit is the `powerlaw` package's (Clauset, Shalizi & Newman 2009; Alstott et al. 2014): discrete maximum
likelihood for gamma, x_min chosen by the smallest Kolmogorov-Smirnov distance over every candidate, and
log-likelihood-ratio tests of the power law against a lognormal and an exponential on the same tail (Vuong's
normalised ratio R and its p-value). A gamma alone says nothing: any list of degrees gets one; the comparisons are
what can say "not a power law". The log-log least-squares line over the degree histogram, which the
InfinityInstruct-Subject report draws, is kept beside it for comparison with the report's figure.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

ALTERNATIVES = ("lognormal", "exponential")
SIGNIFICANCE = 0.1  # Clauset et al.: a likelihood-ratio sign with p above 0.1 is not a verdict
POWER_LAW, BOTH = "power_law", "power_law_or_lognormal"
UNDECIDED = "undecided"


@dataclass
class Comparison:
    ratio: float  # normalised log-likelihood ratio R: > 0 favours the power law, < 0 the alternative
    p_value: float  # chance of a sign this strong if both laws fitted equally well
    favoured: str  # "power_law", the alternative's name, or "undecided" (p >= SIGNIFICANCE)


@dataclass
class PowerLawFit:
    gamma: float  # discrete MLE exponent (the package's alpha)
    x_min: int  # smallest degree of the fitted tail, by minimum KS distance
    ks_distance: float  # max gap between the tail's empirical CDF and the fitted discrete power law
    sigma: float  # standard error of gamma
    n_tail: int  # nodes with degree >= x_min
    n_nodes: int
    favoured: str  # the law the data favour: power_law, power_law_or_lognormal, lognormal, exponential, undecided
    p_value: float  # p of the comparison that decided ``favoured``
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    loglog_slope: float = 0.0  # -gamma of the least-squares line on log P(d) vs log d (the report's figure)
    loglog_r2: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _package():
    try:
        import powerlaw
    except ImportError as exc:  # a declared dependency; a broken install should say what is missing
        raise ImportError("the power-law fit needs the 'powerlaw' package: pip install 'powerlaw>=2,<3'") from exc
    return powerlaw


def _verdict(comparisons: dict[str, Comparison], between) -> tuple[str, float]:
    """An alternative that beats the power law wins (when both do, their own comparison ``between()`` -> (R, p),
    R > 0 for the lognormal, decides); a power law that beats both is one; beating only the exponential is a heavy
    tail that could be either power law or lognormal (the usual outcome on a few hundred nodes, Clauset et al.
    section 5.1)."""
    exp, logn = comparisons["exponential"], comparisons["lognormal"]
    beaten = [c for c in (exp, logn) if c.favoured not in (POWER_LAW, UNDECIDED)]
    if len(beaten) == 2:
        r, p = between()
        if p < SIGNIFICANCE:
            return ("lognormal" if r > 0 else "exponential"), float(f"{p:.4g}")
        # the two alternatives tie with each other (a wide lognormal can mimic an exponential tail): the one that
        # beats the power law by more is named; either way the answer is "not a power law"
        best = min(beaten, key=lambda c: c.ratio)
        return best.favoured, best.p_value
    if beaten:
        return beaten[0].favoured, beaten[0].p_value
    if exp.favoured == POWER_LAW and logn.favoured == POWER_LAW:
        return POWER_LAW, max(exp.p_value, logn.p_value)
    if exp.favoured == POWER_LAW:
        return BOTH, logn.p_value
    return UNDECIDED, exp.p_value


def _loglog(d: np.ndarray) -> tuple[float, float]:
    hist = Counter(d.astype(int).tolist())
    xs = np.log(np.array(sorted(hist), dtype=float))
    ys = np.log(np.array([hist[k] for k in sorted(hist)], dtype=float) / len(d))
    slope, intercept = np.polyfit(xs, ys, 1)
    pred = slope * xs + intercept
    ss_res, ss_tot = float(np.sum((ys - pred) ** 2)), float(np.sum((ys - ys.mean()) ** 2))
    return float(slope), (1 - ss_res / ss_tot if ss_tot else 0.0)


def fit_degrees(degrees: list[int] | np.ndarray, min_nodes: int = 20) -> PowerLawFit | None:
    """The fit of the positive degrees, or None when there are too few nodes or distinct degrees to fit."""
    d = np.asarray([x for x in degrees if x > 0], dtype=float)
    if len(d) < max(min_nodes, 5) or len(np.unique(d)) < 3:
        return None
    powerlaw = _package()
    # The package reports optimiser edges, small-x_min caveats and numpy divisions as warnings and prints its
    # progress; none is actionable here, and each fit would otherwise write a screenful into the CLI's output.
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(d, discrete=True, verbose=False)
        comparisons = {}
        for alt in ALTERNATIVES:
            r, p = fit.distribution_compare("power_law", alt, normalized_ratio=True)
            # a degenerate tail (a handful of nodes) gives nan: no evidence either way, and nan breaks JSON
            r, p = (float(r), float(p)) if np.isfinite(r) and np.isfinite(p) else (0.0, 1.0)
            favoured = UNDECIDED if not p < SIGNIFICANCE else (POWER_LAW if r > 0 else alt)
            comparisons[alt] = Comparison(round(r, 4), float(f"{p:.4g}"), favoured)
        favoured, p_value = _verdict(comparisons, lambda: tuple(np.nan_to_num(np.array(fit.distribution_compare(
            "lognormal", "exponential", normalized_ratio=True), dtype=float), nan=1.0).tolist()))
    slope, r2 = _loglog(d)
    return PowerLawFit(gamma=round(float(fit.power_law.alpha), 4), x_min=int(fit.power_law.xmin),
                       ks_distance=round(float(fit.power_law.D), 4), sigma=round(float(fit.power_law.standard_err), 4),
                       n_tail=int(np.sum(d >= fit.power_law.xmin)), n_nodes=len(d), favoured=favoured,
                       p_value=p_value, comparisons=comparisons, loglog_slope=round(slope, 4),
                       loglog_r2=round(r2, 4))


def fit_metrics(fit: dict | None) -> dict[str, float]:
    """A fit (as_dict) as the round's named numbers; the verdict's name lives in the taxonomist's decision."""
    if not fit:
        return {}
    out = {"powerlaw_gamma": fit["gamma"], "powerlaw_x_min": fit["x_min"], "powerlaw_ks": fit["ks_distance"],
           "powerlaw_n_tail": fit["n_tail"], "powerlaw_n_nodes": fit["n_nodes"], "powerlaw_loglog_r2": fit["loglog_r2"],
           "powerlaw_favoured": float(fit["favoured"] in (POWER_LAW, BOTH))}
    for alt, c in fit["comparisons"].items():
        out[f"powerlaw_vs_{alt}_r"] = c["ratio"]
        out[f"powerlaw_vs_{alt}_p"] = c["p_value"]
    return out
