"""The report's figures as PNG files (matplotlib, headless Agg backend). Each function takes plain values and a path,
so it is tested without a store; tools/report.py gathers the values."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ORIGIN_COLOURS = {"pool": "#c8c8c8", "seed": "#1f77b4", "evolved": "#d62728", "synthesized": "#2ca02c"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def semantic_map(pool_xy: np.ndarray, items: dict[str, np.ndarray], rounds_xy: dict[int, np.ndarray],
                 path: Path, title: str) -> Path:
    """Two panels on the fixed map: the dataset by origin over the pool sample, and the dataset by the round its
    items entered."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharex=True, sharey=True)
    for ax in axes:
        if len(pool_xy):
            ax.scatter(pool_xy[:, 0], pool_xy[:, 1], s=3, c=ORIGIN_COLOURS["pool"], label=f"pool ({len(pool_xy)})",
                       linewidths=0)
    for origin, xy in items.items():
        if len(xy):
            axes[0].scatter(xy[:, 0], xy[:, 1], s=14, c=ORIGIN_COLOURS.get(origin, "k"), label=f"{origin} ({len(xy)})")
    cmap = plt.get_cmap("viridis", max(2, len(rounds_xy)))
    for k, (r, xy) in enumerate(sorted(rounds_xy.items())):
        if len(xy):
            axes[1].scatter(xy[:, 0], xy[:, 1], s=14, color=cmap(k), label=f"round {r} ({len(xy)})")
    axes[0].set_title("dataset by origin"), axes[1].set_title("dataset by round entered")
    for ax in axes:
        ax.legend(loc="best", fontsize=8, markerscale=1.5)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compared_dataset(round_figures: dict) -> dict:
    """The dataset's figures to set beside the reference's: its same-size subsample when the round has one."""
    return round_figures.get("matched_dataset") or round_figures.get("dataset", {})


def per_round(rounds: list[dict], figures: list[tuple[str, str]], path: Path) -> Path:
    """One panel per figure: the dataset's value per round beside the random reference's, same map and size."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(figures), figsize=(4 * len(figures), 3.6))
    axes = np.atleast_1d(axes)
    xs = [r["round"] for r in rounds]
    for ax, (key, label) in zip(axes, figures):
        # entropy and cells grow with a set's size: where the tagged pool was smaller than the dataset, the dataset's
        # side is its subsample of the reference's size (matched_dataset), as the stop rule compares them
        ys = [compared_dataset(r).get(key, np.nan) for r in rounds]
        ax.plot(xs, ys, "-o", label="dataset (at the reference's size)")
        ax.plot(xs, [r.get("reference", {}).get(key, np.nan) for r in rounds], "--s", label="random reference")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("round")
        ax.set_xticks(xs)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def domain_bars(dataset: dict[str, int], reference: dict[str, int], path: Path, top: int = 20) -> Path:
    """Share of each domain in the dataset and in the reference (the dataset's top domains first)."""
    plt = _plt()
    names = sorted(set(dataset) | set(reference), key=lambda d: (-dataset.get(d, 0), -reference.get(d, 0), d))[:top]
    total_d, total_r = max(1, sum(dataset.values())), max(1, sum(reference.values()))
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    ax.barh(y - 0.2, [dataset.get(n, 0) / total_d for n in names], 0.4, label="dataset")
    ax.barh(y + 0.2, [reference.get(n, 0) / total_r for n in names], 0.4, label="random reference")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of items with a domain")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def degree_loglog(degrees: list[int], gamma: float | None, x_min: int | None, path: Path) -> Path:
    """The tag graph's degree CCDF on log-log axes, with the fitted power law over its tail when there is one."""
    plt = _plt()
    d = np.sort(np.asarray([x for x in degrees if x > 0]))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if len(d):
        uniq = np.unique(d)
        ccdf = np.array([(d >= u).mean() for u in uniq])
        ax.loglog(uniq, ccdf, "o", ms=4, label=f"tags ({len(d)})")
        if gamma and x_min:
            tail = uniq[uniq >= x_min]
            start = (d >= x_min).mean()
            ax.loglog(tail, start * (tail / x_min) ** (1 - gamma), "-", label=f"power law gamma={gamma:.2f}, "
                      f"x_min={x_min}")
    ax.set_xlabel("degree (co-occurring tags)")
    ax.set_ylabel("P(degree >= x)")
    if len(d):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def count_bars(groups: dict[str, dict[str, int]], path: Path) -> Path:
    """Counts by reason, one panel per group (leaks by benchmark, rejections by reason per stage)."""
    plt = _plt()
    groups = {g: c for g, c in groups.items() if c} or {"nothing recorded": {}}
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.8))
    for ax, (group, counts) in zip(np.atleast_1d(axes), groups.items()):
        names = sorted(counts, key=lambda k: -counts[k])[:12]
        ax.barh(range(len(names)), [counts[n] for n in names])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(group, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
