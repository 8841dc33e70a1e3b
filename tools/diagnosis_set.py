"""The diagnosis set: a fresh sample of seeds each round, stratified by domain and criterion, held out for good.

The report draws the diagnosis set "from the same distribution as the seeds". Here it is drawn FROM the seeds that
were never evolved: each stratum (primary domain x the seed's first criterion) gets a share of the sample
proportional to its share of all seeds (largest remainder), drawn at random within the stratum. A drawn seed is
never evolved and its conversation is subtracted from every fine-tuning subset (state.diagnosis.held_out_ids), so
M_FT never trains on a query it is diagnosed on, and a later round's sample is fresh.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict

from state import diagnosis
from state.db import Store
from state.diagnosis import HeldOut
from state.domains import primary_domains
from state.seeds import seed_rows
from tools.finetune import NO_DOMAIN


def allocate(weights: dict[tuple[str, str], int], available: dict[tuple[str, str], int], n: int
             ) -> dict[tuple[str, str], int]:
    """Items per stratum: proportional to ``weights`` (largest remainder), never more than ``available``; what a
    full stratum cannot take goes to the others in the same way."""
    out: dict[tuple[str, str], int] = Counter()
    left = min(n, sum(available.values()))
    while left > 0:
        open_ = {k: w for k, w in weights.items() if available.get(k, 0) > out[k] and w > 0}
        if not open_:
            open_ = {k: 1 for k in available if available[k] > out[k]}
        total = sum(open_.values())
        quotas = {k: left * w / total for k, w in open_.items()}
        give = {k: min(int(q), available[k] - out[k]) for k, q in quotas.items()}
        rest = left - sum(give.values())
        for k in sorted(open_, key=lambda k: (-(quotas[k] - int(quotas[k])), k)):
            if rest <= 0:
                break
            if give[k] < available[k] - out[k]:
                give[k] += 1
                rest -= 1
        if not any(give.values()):
            break
        for k, g in give.items():
            out[k] += g
        left -= sum(give.values())
    return {k: v for k, v in out.items() if v}


def draw(store: Store, size: int, round_: int, seed: int, max_share: float = 1.0) -> list[HeldOut]:
    """Hold out up to ``size`` never-evolved seeds (at most ``max_share`` of them) for this round's diagnosis;
    returns what was drawn."""
    rows = seed_rows(store)
    domains = primary_domains(store, [cid for _, cid, *_ in rows]) if rows else {}
    stratum = {sid: (domains.get(cid, NO_DOMAIN), crit) for sid, cid, crit, *_ in rows}
    weights = Counter(stratum[sid] for sid, _, _, status, _ in rows if status != "held_out")
    pool: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for sid, cid, _, status, attempts in rows:
        if status == "selected" and attempts == 0:
            pool[stratum[sid]].append((sid, cid))
    size = min(size, int(max_share * sum(len(v) for v in pool.values())))
    take = allocate(dict(weights), {k: len(v) for k, v in pool.items()}, size)
    rng = random.Random(f"{seed}:diagnosis:{round_}")
    drawn = []
    for key in sorted(take):
        for sid, cid in sorted(rng.sample(pool[key], take[key])):
            drawn.append(HeldOut(cid, sid, key[0], key[1]))
    diagnosis.hold_out(store, round_, drawn)
    return drawn


def hold_out_round(store: Store, cfg, round_: int, node, limit: int | None = None) -> int:
    """The round's diagnosis sample, drawn once (the seed selector draws it before evolution can take the seeds; a
    stage command draws its own); returns how many were drawn now."""
    from state import decisions
    from state.decisions import Action

    if diagnosis.items(store, round_):
        return 0
    d = cfg.diagnosis
    drawn = draw(store, d.sample_size if limit is None else limit, round_, cfg.seed, d.max_share)
    if drawn:
        strata = Counter(f"{h.domain} / {h.criterion}" for h in drawn)
        decisions.record_one(store, round_, node, f"round:{round_}", Action.HOLD_OUT,
                             f"{len(drawn)} never-evolved seeds held out for diagnosis, for good",
                             {"drawn": len(drawn), "strata": dict(strata),
                              "conversations": [h.conversation_id for h in drawn]})
    return len(drawn)
