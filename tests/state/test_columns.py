"""Column-wise reads (state/columns.py) on a real SQLite store: aliases resolved, noise left out, a Chinese-only
conversation, domain votes with a tie, a NULL loss; and the selector's frame built from them."""
import numpy as np
import sqlalchemy as sa

from state import columns, domains
from state.conversations import NewConversation, add_conversations
from state.losses import LossResult, save_losses
from state.tags import link_tags, tag_ids
from tools.seed_frame import build_frame, skill_tagged_ids, skill_tags


def make_store(store):
    ids = add_conversations(store, [NewConversation([{"role": "user", "content": f"q{k}"}], f"h{k}", "t", "en")
                                    for k in range(5)])
    c = [ids[f"h{k}"] for k in range(5)]
    en = tag_ids(store, ["calculus", "algebra", "greeting", "poetry", "junk"], "en")
    zh = tag_ids(store, ["微积分", "诗歌"], "zh")
    dom = domains.add_domains(store, [{"name": "maths", "description": ""}, {"name": "arts", "description": ""}], 1)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE tags SET status = 'canonical'"))
        conn.execute(sa.text("UPDATE tags SET status = 'noise' WHERE name = 'junk'"))
        # 微积分 is an alias of calculus; 诗歌 stays canonical on its own
        conn.execute(sa.text("UPDATE tags SET status = 'alias', canonical_id = :c WHERE id = :z"),
                     {"c": en["calculus"], "z": zh["微积分"]})
    domains.set_tag_domains(store, {en["calculus"]: dom["maths"], en["algebra"]: dom["maths"],
                                    en["poetry"]: dom["arts"], zh["诗歌"]: dom["arts"]})
    link_tags(store, [(c[0], en["calculus"]), (c[0], zh["微积分"]), (c[0], en["algebra"]),  # alias = calculus
                      (c[1], en["poetry"]), (c[1], en["calculus"]),  # one vote each: the tie goes to 'arts'
                      (c[2], zh["诗歌"]),  # Chinese only: its Chinese tag is its skill
                      (c[3], en["junk"]),  # noise only: not a candidate
                      (c[4], en["greeting"])])  # a tag in no domain
    save_losses(store, "k", "cond", {"h0": LossResult(1.5, 10, False), "h1": LossResult(None, 0, False)})
    return c, en, zh


def test_links_resolve_aliases_drop_noise_and_domains_break_ties_by_name(store):
    c, en, zh = make_store(store)
    tags = columns.tag_columns(store)
    cid, row = columns.canonical_links(store, tags)
    got = sorted(zip(cid.tolist(), tags.ids[row].tolist()))
    assert got == sorted([(c[0], en["calculus"]), (c[0], en["algebra"]), (c[1], en["poetry"]),
                          (c[1], en["calculus"]), (c[2], zh["诗歌"]), (c[4], en["greeting"])])
    assert domains.primary_domains(store) == {c[0]: "maths", c[1]: "arts", c[2]: "arts"}
    assert domains.primary_domains(store, [c[1], c[4]]) == {c[1]: "arts"}
    assert skill_tags(store)[0] == {c[0]: sorted([en["calculus"], en["algebra"]]), c[1]: sorted(
        [en["poetry"], en["calculus"]]), c[2]: [zh["诗歌"]], c[4]: [en["greeting"]]}
    assert skill_tagged_ids(store) == [c[0], c[1], c[2], c[4]]
    # a tag and its link written after the tags were read (a running tagger): the link waits for the next read
    late = tag_ids(store, ["late tag"], "en")["late tag"]
    link_tags(store, [(c[0], late)])
    cid2, row2 = columns.canonical_links(store, tags)
    assert np.array_equal(cid2, cid) and np.array_equal(row2, row)
    lid, loss = columns.losses_of(store, "k", "cond")
    assert dict(zip(lid.tolist(), loss.tolist()))[c[0]] == 1.5 and np.isnan(dict(zip(lid.tolist(), loss))[c[1]])


def test_the_frame_holds_the_same_rows_as_the_reads(store):
    c, en, _ = make_store(store)
    f = build_frame(store, "k")
    assert f.ids.tolist() == [c[0], c[1], c[2], c[4]]
    assert f.n_tags.tolist() == [2, 2, 1, 1]
    assert f.domain_names == ["arts", "maths"] and [f.domain_names[d] if d >= 0 else None for d in f.domain] == [
        "maths", "arts", "arts", None]
    assert f.base_loss[0] == 1.5 and np.isnan(f.base_loss[1:]).all()
    names = [f.tag_names[i] for i in f.tag_idx[f.tag_ptr[0]:f.tag_ptr[1]]]
    assert sorted(names) == ["algebra", "calculus"]
    assert dict(zip(f.tag_names, f.tag_freq.tolist()))["calculus"] == 2
    assert not f.exclude.any()
