"""When 'other' holds too much of the taxonomy, the domain role proposes the domains the list lacks.

The report induces its 26 domains once, from the top 1,000 tags of millions of conversations. A loop that starts from
a few dozen tagged conversations induces from a small top-K and can leave whole fields without a domain (on the demo
pool: 5 domains, no law, health or geography), so their tags pile up in 'other'. When the English 'other' share is
above ``taxonomy.max_other_share``, the tags in 'other' (most frequent first, with the category names the mapper
invented for them as hints) go to the domain role with the existing list; the new domains it proposes are added
(decisions), and every tag in 'other' (both languages) goes back to the mapper against the whole list. At most
``PER_EXTENSION`` domains a pass, ``taxonomy.extend_passes`` passes a round, and in a later round only when the
English 'other' share has risen since (``extension_due``), so a share the list cannot lower costs a pass or two,
not passes every round.
"""
from __future__ import annotations

from settings import TaxonomySettings
from state import decisions, domains as domain_repo
from state.db import Store
from state.decisions import Action, DecisionRow, Node
from state.domains import OTHER, canonical_tags
from tools.domains import InduceDomainsTask, parse_induce
from tools.llm_parse import ParseError
from tools.prompts import render_messages

MAX_TAGS_SHOWN = 60  # as many as the first induction sees: the prompt stays short enough for a small oracle
MIN_OTHER_TAGS = 8
SHARE_MARGIN = 0.02  # how far the English 'other' share must rise after an earlier round's extension to try again
MAX_PROPOSED = 60
# New domains one extension may add: asked for "1 to 19", the packaged 1.5B lists one domain per tag (as it did when
# an induction asked it for 8); a few at a time keeps them broad, and the next round extends again if need be.
PER_EXTENSION = 4


class ExtendDomainsTask(InduceDomainsTask):
    """(existing domains, tags in 'other' with counts, invented names) -> new domains, none of the existing ones."""

    name, template = "extend_domains", "domain_extend.j2"

    def format_input(self, item: tuple[list[dict[str, str]], list[tuple[str, int]], list[str]]):
        domains, tags, hints = item
        return render_messages(self.template, domains=domains, tags=tags, hints=hints, room=self.max_domains)

    def parse_output(self, text: str, item) -> list[dict[str, str]]:
        existing = {d["name"] for d in item[0]}
        # a longer list than asked for keeps its first new domains (room is the cap on domains, not a format rule)
        found = [d for d in parse_induce(text, MAX_PROPOSED, min_domains=1) if d["name"] not in existing]
        if not found:
            raise ParseError("every proposed domain exists already; propose new ones")
        return found[:self.max_domains]


def extension_due(store: Store, cfg: TaxonomySettings, share: dict, round_: int) -> tuple[int, int]:
    """(room for new domains, English tags in 'other') when an extension is due, else (0, that count). Passes of
    the same round are the caller's to count. Across rounds the share must have risen since the last extension of
    an earlier round (after the last induction, whose list it was measured against), by ``SHARE_MARGIN``: a share
    the list cannot lower, flat while the pool grows, costs no further passes. A failed pass counts as one."""
    in_other = count_other_en(store)
    room = cfg.max_domains - (len(domain_repo.domain_ids(store)) - 1)
    now = _share_en(share)
    induced = (domain_repo.last_induction(store) or {"round": -1})["round"]
    last = [e for e in decisions.evidence_of(store, Node.TAXONOMIST, Action.EXTEND_DOMAINS)
            if induced <= e.get("round", -1) < round_]
    risen = not last or now > _share_en(last[-1].get("share_after") or last[-1]["share_before"]) + SHARE_MARGIN
    high = cfg.max_other_share > 0 and now > cfg.max_other_share
    return (room if high and risen and in_other >= MIN_OTHER_TAGS and room > 0 else 0), in_other


def _share_en(share: dict) -> float:
    return float(share.get("share_en", share.get("share", 0.0)))


def extend_domains(store: Store, llm, cfg: TaxonomySettings, round_: int, share: dict, invented: dict[str, int],
                   remap) -> dict | None:
    """Propose domains for the tags in 'other' when due; add them and map the 'other' tags again with ``remap``
    (the mapping step, ``tools.domain_growth.map_tags``). Returns the report, None when not due."""
    room, in_other = extension_due(store, cfg, share, round_)
    if not room:
        return None
    ids = domain_repo.domain_ids(store)
    placed = domain_repo.tag_domain_ids(store, "en")
    tags = [(t.name, t.frequency) for t in canonical_tags(store, "en") if placed.get(t.id) == ids[OTHER]]
    existing = domain_repo.domain_rows(store)
    hints = [f"{name} ({n})" for name, n in invented.items()][:20]
    task = ExtendDomainsTask(cfg.domain_role, min(room, PER_EXTENSION), 600)
    (result,) = llm.run(task, [(existing, tags[:MAX_TAGS_SHOWN], hints)])
    evidence = {"round": round_, "other_en": in_other, "share_before": share, "hints": hints}
    if not result.ok:
        decisions.record_one(store, round_, Node.TAXONOMIST, "domains", Action.EXTEND_DOMAINS,
                             f"no new domains: {result.error}", {**evidence, "reply": result.text[:800]})
        return {"added": 0, "domains": [], "error": result.error, "other_before": share, "other_after": share,
                "remapped": 0}
    added = domain_repo.add_domains(store, result.value, round_)
    sent = domain_repo.clear_domains_of(store, [ids[OTHER]])
    mapping = remap()
    after = domain_repo.other_share(store)
    decisions.record(store, [DecisionRow(round_, Node.TAXONOMIST, "domains", Action.EXTEND_DOMAINS,
                                         f"'other' held {share.get('share_en', share.get('share', 0)):.0%} of the "
                                         f"English tags: {len(result.value)} domains added, {len(sent)} tags mapped "
                                         f"again, 'other' now {after.get('share_en', after['share']):.0%}",
                                         {**evidence, "domains": result.value, "share_after": after,
                                          "other_en": count_other_en(store)})]
                     + [DecisionRow(round_, Node.TAXONOMIST, f"domain:{added[d['name']]}", Action.ADD_DOMAIN,
                                    f'new domain "{d["name"]}" for tags in other', {"name": d["name"]})
                        for d in result.value])
    return {"added": len(result.value), "domains": [d["name"] for d in result.value], "remapped": len(sent),
            "mapping": mapping, "other_before": share, "other_after": after}


def count_other_en(store: Store) -> int:
    """English canonical tags whose domain is 'other'."""
    other_id = domain_repo.domain_ids(store).get(OTHER)
    placed = domain_repo.tag_domain_ids(store, "en")
    return sum(1 for t in canonical_tags(store, "en") if other_id is not None and placed.get(t.id) == other_id)
