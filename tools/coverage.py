"""Under-covered regions of the taxonomy: thin domains, long-tail tags and low-degree tags (pure functions).

Under-covered means: a thin domain (its share of tagged conversations is below ``thin_domain_ratio`` x the mean
share), a long-tail tag (frequency in the lowest ``long_tail_quantile``) or a low-degree tag (few co-occurring
tags: a skill seen only in isolation).
"""
from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np

from state.domains import OTHER


def find_gaps(graph: nx.Graph, shares: dict[str, int], long_tail_q: float, thin_ratio: float, max_tags: int
              ) -> list[dict[str, Any]]:
    """Priorities as dicts: kind, key, weight, reason, evidence. Pure: unit-testable on a hand-made graph."""
    out: list[dict[str, Any]] = []
    real = {d: n for d, n in shares.items() if d != OTHER}
    total = sum(real.values())
    if real and total:
        mean = total / len(real)
        for domain, n in sorted(real.items(), key=lambda kv: kv[1]):
            if n < thin_ratio * mean:
                out.append(dict(kind="domain", key=domain, weight=round(min(5.0, mean / max(n, 1)), 3),
                                reason=f"thin domain: {n} conversations against a mean of {mean:.1f}",
                                evidence={"conversations": n, "mean": round(mean, 2), "share": round(n / total, 4)}))
    if graph.number_of_nodes():
        freqs = np.array([graph.nodes[t].get("frequency", 0) for t in graph.nodes])
        degrees = dict(graph.degree())
        f_cut = float(np.quantile(freqs, long_tail_q))
        d_cut = float(np.quantile(np.array(list(degrees.values())), long_tail_q))
        candidates = []
        for t in graph.nodes:
            f, d = graph.nodes[t].get("frequency", 0), degrees[t]
            long_tail, isolated = f <= f_cut, d <= d_cut
            if long_tail or isolated:
                candidates.append((not (long_tail and isolated), f, d, t, long_tail, isolated))
        for _, f, d, t, long_tail, isolated in sorted(candidates)[:max_tags]:
            why = " and ".join(w for w, on in (("long-tail", long_tail), ("low-degree", isolated)) if on)
            out.append(dict(kind="tag", key=graph.nodes[t].get("name", str(t)),
                            weight=3.0 if long_tail and isolated else 2.0,
                            reason=f"{why} tag: frequency {f} (cut {f_cut:g}), degree {d} (cut {d_cut:g})",
                            evidence={"tag_id": t, "frequency": f, "degree": d, "domain":
                                      graph.nodes[t].get("domain", ""), "lang": graph.nodes[t].get("lang", "")}))
    return out


def domain_entropy(shares: dict[str, int]) -> float:
    """Shannon entropy (nats) of the conversations' spread over domains."""
    total = sum(shares.values())
    return -sum((n / total) * math.log(n / total) for n in shares.values() if n) if total else 0.0
