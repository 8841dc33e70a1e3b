"""Tag normalisation, per language (the default embedder is not cross-lingual):

1. embed every distinct tag name (vectors cached in Chroma by content hash);
2. threshold merge: visiting tags from the highest priority down, an unassigned tag becomes a representative and
   takes every unassigned tag with cosine >= merge_threshold as its alias (no chaining: similarity is always to the
   representative);
3. DBSCAN (cosine, eps, min_samples) over the representatives; each cluster merges into its top member;
4. canonical tags rarer than the noise cut are marked noise (kept, never deleted: they may grow later).

Priority is (was canonical before, frequency, older id): a tag that was canonical stays canonical unless it now
merges into another old canonical, so canonical ids are stable as data grows. Every merge that is new or changed is
recorded in tag_merges with the round and the similarity.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from state.db import Store
from state.tags import TagMergeRow, TagUpdate, alignment_partners, rewrite_tags, tags_of_language


@dataclass
class NormalizeReport:
    lang: str
    tags: int = 0
    canonical: int = 0
    threshold_merges: int = 0
    dbscan_merges: int = 0
    noise: int = 0
    min_freq: int = 1
    largest_cluster: int = 0
    kept_apart: int = 0  # DBSCAN cluster members too far from the cluster's top tag to merge
    sample_merges: list[tuple[str, str, float, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def scaled_min_freq(tagged: int, paper_min: int, paper_pool: int, override: int = 0) -> int:
    """The paper drops tags seen fewer than 100 times in ~7M conversations; the same rate on this pool."""
    if override:
        return override
    return max(1, math.ceil(paper_min * tagged / paper_pool))


def neighbour_pairs(vecs: np.ndarray, threshold: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """All pairs i < j with cosine >= threshold (rows are unit vectors), by blocked matrix products."""
    pairs = []
    for start in range(0, len(vecs), block):
        sims = vecs[start:start + block] @ vecs.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if i < c:
                pairs.append((i, c, float(sims[r, c])))
    return pairs


def greedy_merge(order: list[int], pairs: list[tuple[int, int, float]], n: int) -> dict[int, tuple[int, float]]:
    """member -> (representative, similarity); representatives are visited in ``order`` (highest first)."""
    nbrs: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for i, j, s in pairs:
        nbrs[i].append((j, s))
        nbrs[j].append((i, s))
    assigned: dict[int, tuple[int, float]] = {}
    for rep in order:
        if rep in assigned:
            continue
        assigned[rep] = (rep, 1.0)
        for other, s in nbrs.get(rep, ()):
            if other not in assigned:
                assigned[other] = (rep, s)
    for k in range(n):
        assigned.setdefault(k, (k, 1.0))
    return assigned


def dbscan_clusters(vecs: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    from sklearn.cluster import DBSCAN

    if len(vecs) < min_samples:
        return np.full(len(vecs), -1)
    return DBSCAN(eps=eps, min_samples=min_samples, metric="cosine", algorithm="brute").fit(vecs).labels_


def alignment_pairs(store: Store, tags, min_share: float = 0.5, min_count: int = 2
                    ) -> list[tuple[int, int, float]]:
    """For a language the embedder cannot read: tags whose main English partner (by aligned count) resolves to
    the same English canonical tag are treated as similar, with similarity = the smaller partner share. The main
    partner must hold more than ``min_share`` of the tag's aligned count and at least ``min_count`` of it: a single
    pairing can come from a reply whose two lists were not in the same order."""
    index = {row.id: k for k, row in enumerate(tags)}
    partners: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for en_canon, zh, n in alignment_partners(store, list(index)):
        partners[index[zh]][en_canon] += n
    groups: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for k, counts in partners.items():
        best, n = max(counts.items(), key=lambda kv: kv[1])
        share = n / sum(counts.values())
        if share > min_share and n >= min_count:
            groups[best].append((k, share))
    pairs = []
    for members in groups.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                (i, si), (j, sj) = members[x], members[y]
                pairs.append((min(i, j), max(i, j), min(si, sj)))
    return pairs


def normalize_language(store: Store, lang: str, embed, thresholds, min_freq: int, round_: int,
                       sample: int = 15) -> NormalizeReport:
    """``embed(names) -> unit vectors``, or None for a language the embedder cannot read (then tags merge through
    their aligned English tags and DBSCAN is skipped); rewrites canonical pointers, status and frequency."""
    report = NormalizeReport(lang, min_freq=min_freq)
    tags, links = tags_of_language(store, lang)
    report.tags = len(tags)
    if not tags:
        return report
    index = {row.id: k for k, row in enumerate(tags)}
    convs_of: dict[int, set[int]] = defaultdict(set)
    for cid, tid in links:
        convs_of[index[tid]].add(cid)
    freq = [len(convs_of[k]) for k in range(len(tags))]
    was_canonical = [row.status == "canonical" for row in tags]
    order = sorted(range(len(tags)), key=lambda k: (was_canonical[k], freq[k], -tags[k].id), reverse=True)
    rank = {k: r for r, k in enumerate(order)}
    if embed is None:
        vecs, first_method = None, "alignment"
        first = greedy_merge(order, alignment_pairs(store, tags), len(tags))
    else:
        vecs, first_method = embed([row.name for row in tags]), "threshold"
        first = greedy_merge(order, neighbour_pairs(vecs, thresholds.merge_threshold), len(tags))
    reps = sorted({rep for rep, _ in first.values()}, key=rank.get)
    labels = (dbscan_clusters(vecs[reps], thresholds.dbscan_eps, thresholds.dbscan_min_samples) if vecs is not None
              else np.full(len(reps), -1))
    final_rep = {r: r for r in reps}
    clusters: dict[int, list[int]] = defaultdict(list)
    for r, label in zip(reps, labels):
        if label >= 0:
            clusters[label].append(r)
    # DBSCAN chains: on dense tag sets one cluster can span unrelated tags. A member joins its cluster's top tag
    # only within two eps-steps of it (cosine >= 1 - 2 eps); the rest stay their own canonical tags.
    floor = 1.0 - 2 * thresholds.dbscan_eps
    for members in clusters.values():
        top = min(members, key=rank.get)
        joined = [m for m in members if m == top or float(vecs[m] @ vecs[top]) >= floor]
        report.largest_cluster = max(report.largest_cluster, len(joined))
        report.kept_apart += len(members) - len(joined)
        for m in joined:
            final_rep[m] = top

    group_convs: dict[int, set[int]] = defaultdict(set)
    target: dict[int, tuple[int, float, str]] = {}
    for k in range(len(tags)):
        rep1, s1 = first[k]
        rep = final_rep[rep1]
        if rep == k:
            target[k] = (k, 1.0, "")
        elif rep == rep1:
            target[k] = (rep, s1, first_method)
        else:
            target[k] = (rep, float(vecs[k] @ vecs[rep]), "dbscan")
        group_convs[rep] |= convs_of[k]

    updates, merges = [], []
    for k, row in enumerate(tags):
        rep, sim, method = target[k]
        if rep == k:
            status = "canonical" if len(group_convs[k]) >= min_freq else "noise"
            report.canonical += status == "canonical"
            report.noise += status == "noise"
            updates.append(TagUpdate(row.id, None, status, len(group_convs[k])))
            continue
        new_canon = tags[rep].id
        changed = row.canonical_id != new_canon
        updates.append(TagUpdate(row.id, new_canon, "alias", freq[k], round_ if changed else None))
        report.threshold_merges += method in ("threshold", "alignment")
        report.dbscan_merges += method == "dbscan"
        if changed:
            merges.append(TagMergeRow(round_, row.id, new_canon, method, round(sim, 4)))
            if len(report.sample_merges) < sample:
                report.sample_merges.append((row.name, tags[rep].name, round(sim, 3), method))
    rewrite_tags(store, updates, merges)
    return report
