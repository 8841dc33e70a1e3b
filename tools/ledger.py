"""The skill ledger: per skill the oracle named, when it was first diagnosed, how often, the items made for it
(admitted, rejected by reason) and its deficiency rate before and after.

A skill's deficiency rate in a round is the share of that round's usable findings (one per diagnosis item, a fresh
held-out sample every round) that name it. "Before" is the rate in the round it was first diagnosed; "after" is
the rate in the first later round whose sample was answered by a different M_FT; ``items_before_after`` says how
many items made for the skill that M_FT trained on: those in the training list of the adapter(s) that answered the
"after" round, read from their cards under ``home`` (with ``diagnosis.refresh_new_items`` above 1 an item admitted
earlier may not be in it yet); without the cards, the items admitted before that round (an upper bound). 0 means
the change is not the synthesizer's doing. With no such round
yet, "after" is None: not measured, not zero. Samples are small (``diagnosis.sample_size`` a round), so a rate is a
share of a handful of findings: read it with the round's sample size beside it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from state import ledger as rows_of, syntheses
from state.db import Store
from tools.finetune import adapter_card


def _items(outcomes: list[dict]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = defaultdict(lambda: {"written": 0, "rejected": Counter(), "staged": 0,
                                                          "admitted": 0, "leaks": 0, "duplicates": 0, "pending": 0})
    for o in outcomes:
        it = out[o["skill_id"]]
        it["written"] += 1
        if o["status"] == "rejected":
            it["rejected"][o["reason"]] += 1
            continue
        it["staged"] += 1
        key = {"admitted": "admitted", "leak": "leaks", "duplicate": "duplicates"}.get(o["candidate_status"], "pending")
        it[key] += 1
    return out


def trained_ids(home: Path | None, fingerprints: set[str]) -> set[int] | None:
    """Every conversation the given M_FT adapters trained on, from their cards; None when a card is missing."""
    if home is None:
        return None
    ids: set[int] = set()
    for fp in sorted(fingerprints):
        card = adapter_card(home, fp)
        if card is None:
            return None
        ids.update(card.get("train_ids", []))
    return ids


def build_ledger(store: Store, home: Path | None = None) -> dict[str, Any]:
    """The ledger from the store; ``home`` (the iloop home with the adapters) makes ``items_before_after`` exact."""
    samples = rows_of.round_samples(store)
    rounds = sorted(samples)
    named: Counter = Counter()
    severity: dict[int, list[int]] = defaultdict(list)
    for skill_id, _, round_, sev in rows_of.skill_findings(store):
        named[(skill_id, round_)] += 1
        severity[skill_id].append(sev)
    outcomes = syntheses.outcomes(store)
    items = _items(outcomes)
    trained_in = {r: trained_ids(home, samples[r]["adapters"]) for r in rounds}  # each round's cards read once
    skills = []
    for sk in rows_of.skills(store):
        sid, first = sk["id"], sk["first_round"]
        rates = {r: round(named[(sid, r)] / samples[r]["ok"], 4) for r in rounds if r >= first and samples[r]["ok"]}
        after_round = next((r for r in rounds if r > first and samples[r]["ok"]
                            and samples[r]["adapters"] - samples.get(first, {}).get("adapters", set())), None)
        before, after = rates.get(first), rates.get(after_round) if after_round is not None else None
        it = items[sid]
        # items made for the skill that the "after" M_FT trained on (else: admitted in an earlier round)
        train = trained_in[after_round] if after_round is not None else None
        trained = sum(1 for o in outcomes if o["skill_id"] == sid and o["candidate_status"] == "admitted"
                      and after_round is not None and (o["conversation_id"] in train if train is not None
                                                        else o["round"] < after_round))
        skills.append({
            "skill": sk["name"], "key": sk["key"], "status": sk["status"], "tag": sk["tag"], "domain": sk["domain"],
            "similarity": round(sk["similarity"], 4), "first_round": first,
            "diagnosed": sum(named[(sid, r)] for r in rounds),
            "rounds_diagnosed": [r for r in rounds if named[(sid, r)]],
            "mean_severity": round(sum(severity[sid]) / len(severity[sid]), 2) if severity[sid] else None,
            "items": {**it, "rejected": dict(it["rejected"])},
            "rate_before": before, "rate_after": after, "after_round": after_round, "items_before_after": trained,
            "change": round(after - before, 4) if before is not None and after is not None else None,
            "rates": rates})
    per_round = [{"round": r, "findings": samples[r]["ok"], "rejected": samples[r]["rejected"],
                  "deficient": samples[r]["deficient"],
                  "deficiency_rate": round(samples[r]["deficient"] / samples[r]["ok"], 4) if samples[r]["ok"] else None,
                  "adapters": sorted(samples[r]["adapters"])} for r in rounds]
    skills.sort(key=lambda s: (-s["diagnosed"], s["first_round"], s["skill"]))
    return {"rounds": per_round, "skills": skills}
