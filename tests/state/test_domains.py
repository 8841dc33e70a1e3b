"""The domain repository: active and retired domains, induction records, the share of tags in 'other'."""
import sqlalchemy as sa

from state import domains
from state.tags import tag_ids


def test_retired_domains_leave_listings_and_come_back_by_name(store):
    ids = domains.add_domains(store, [{"name": "maths", "description": "Numbers."},
                                      {"name": "law", "description": "Courts."}], 1)
    tags = tag_ids(store, ["calculus", "contract law"], "en")
    domains.set_tag_domains(store, {tags["calculus"]: ids["maths"], tags["contract law"]: ids["law"]})
    domains.retire_domains(store, [ids["law"]], 2)
    assert set(domains.domain_ids(store)) == {"maths", "other"}
    assert [n for _, n, _ in domains.all_domains(store, include_retired=True)] == ["maths", "law", "other"]
    assert domains.tag_domain_ids(store) == {tags["calculus"]: ids["maths"]}  # law's tag goes back to the mapper
    again = domains.add_domains(store, [{"name": "law", "description": "Legal practice."}], 3)
    assert again == {"law": ids["law"], "other": ids["other"]} and domains.descriptions(store)["law"] == "Legal practice."
    assert domains.last_induction(store) is None
    domains.record_induction(store, 1, 64, 60, 5, "direct")
    domains.record_induction(store, 4, 130, 60, 7, "cluster")
    assert domains.last_induction(store) == {"round": 4, "tagged": 130, "top_k": 60} and domains.inductions(store) == 2


def test_other_share_counts_canonical_tags_with_a_domain(store):
    ids = domains.add_domains(store, [{"name": "maths", "description": "Numbers."}], 1)
    en = tag_ids(store, ["calculus", "algebra", "greeting", "small talk", "new tag"], "en")
    zh = tag_ids(store, ["微积分", "问候"], "zh")
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tags SET status = 'canonical'"))
    domains.set_tag_domains(store, {en["calculus"]: ids["maths"], en["algebra"]: ids["maths"],
                                    en["greeting"]: ids["other"], en["small talk"]: ids["other"],
                                    zh["微积分"]: ids["maths"], zh["问候"]: ids["other"]})
    got = domains.other_share(store)
    assert got == {"mapped": 6, "other": 3, "unmapped": 1, "share": 0.5, "share_en": 0.5, "share_zh": 0.5}
