"""Tag normalisation, per language (the default embedder is not cross-lingual):

1. embed every distinct tag name (vectors cached in Chroma by content hash);
2. threshold merge: visiting tags from the highest priority down, an unassigned tag becomes a representative and
   takes every unassigned tag with cosine >= merge_threshold as its alias (no chaining: similarity is always to the
   representative);
3. DBSCAN (Euclidean, eps, min_samples) over the representatives' unit vectors, as the report ran it with
   scikit-learn's default metric: eps 0.47 is a chord length, i.e. cosine >= 1 - eps^2 / 2 = 0.89, one step below
   the 0.91 merge (read as a cosine distance it would be cosine >= 0.53); each cluster merges into its top member;
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
    kept_apart: int = 0  # DBSCAN cluster members below chain_floor(eps) to the cluster's top tag
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


def eps_cosine(eps: float) -> float:
    """The cosine similarity a Euclidean eps between unit vectors stands for: |a - b|^2 = 2 (1 - cos)."""
    return 1.0 - eps * eps / 2.0


def dbscan_clusters(vecs: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN labels (-1 = no cluster), Euclidean on unit vectors (scikit-learn's default metric, the report's)."""
    from sklearn.cluster import DBSCAN

    if len(vecs) < min_samples:
        return np.full(len(vecs), -1)
    # eps is a chord length only on the unit sphere: renormalise rather than trust every embedder to
    unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean", algorithm="brute").fit(unit).labels_


def chain_floor(eps: float) -> float:
    """The cosine a DBSCAN member needs to its cluster's top tag: twice eps's cosine distance, 1 - cos <= 2 (1 -
    eps_cosine(eps)), i.e. distance <= sqrt(2) eps. DBSCAN with min_samples 2 is single linkage, so a cluster can
    chain far from its top tag. Measured (docs/taxonomy.md): at the report's eps 0.47 it keeps 11 of 572 merges apart
    on a dense synthetic set of 8,000 tags and none on the labelled tags; at MiniLM's looser 0.707 it is what stops
    one cluster of 6,947 tags from merging into one."""
    return 1.0 - eps * eps


def cluster_merges(vecs: np.ndarray | None, reps: list[int], labels, rank, floor: float
                   ) -> tuple[dict[int, int], int, int]:
    """representative -> its cluster's top member (by ``rank``), the largest cluster merged, and how many members
    were kept apart for being below cosine ``floor`` to the top member (``chain_floor``)."""
    final_rep = {r: r for r in reps}
    clusters: dict[int, list[int]] = defaultdict(list)
    for r, label in zip(reps, labels):
        if label >= 0:
            clusters[label].append(r)
    largest, kept_apart = 0, 0
    for members in clusters.values():
        top = min(members, key=rank)
        joined = [m for m in members if m == top or float(vecs[m] @ vecs[top]) >= floor]
        largest = max(largest, len(joined))
        kept_apart += len(members) - len(joined)
        for m in joined:
            final_rep[m] = top
    return final_rep, largest, kept_apart


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
    their aligned English tags and DBSCAN is skipped). A non-English language the embedder reads merges by
    embedding and, as a second signal, through its aligned English tags. Rewrites canonical pointers, status and
    frequency."""
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
    by_alignment = set()
    if embed is None:
        vecs, first_method = None, "alignment"
        first = greedy_merge(order, alignment_pairs(store, tags), len(tags))
    else:
        vecs, first_method = embed([row.name for row in tags]), "threshold"
        pairs = neighbour_pairs(vecs, thresholds.merge_threshold)
        by_alignment: set[tuple[int, int]] = set()
        if lang != "en":
            # The English canonical tags the alignment points at are a second signal for another language's tags
            # the embedder reads: two tags whose main translation is the same English tag merge even when their
            # cosine falls short of the threshold (the pair keeps its cosine as its similarity).
            seen = {(i, j) for i, j, _ in pairs}
            for i, j, _ in alignment_pairs(store, tags):
                if (i, j) not in seen:
                    by_alignment.add((i, j))
                    pairs.append((i, j, float(vecs[i] @ vecs[j])))
        first = greedy_merge(order, pairs, len(tags))
    reps = sorted({rep for rep, _ in first.values()}, key=rank.get)
    labels = (dbscan_clusters(vecs[reps], thresholds.dbscan_eps, thresholds.dbscan_min_samples) if vecs is not None
              else np.full(len(reps), -1))
    final_rep, report.largest_cluster, report.kept_apart = cluster_merges(vecs, reps, labels, rank.get,
                                                                          chain_floor(thresholds.dbscan_eps))

    group_convs: dict[int, set[int]] = defaultdict(set)
    target: dict[int, tuple[int, float, str]] = {}
    for k in range(len(tags)):
        rep1, s1 = first[k]
        rep = final_rep[rep1]
        if rep == k:
            target[k] = (k, 1.0, "")
        elif rep == rep1:
            target[k] = (rep, s1, "alignment" if (min(k, rep), max(k, rep)) in by_alignment else first_method)
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
