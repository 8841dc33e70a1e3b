"""Missing skills -> canonical tags with the real default embedder (USE, cached vectors in a real Chroma store)."""
from tools.skill_map import map_skills


def test_close_phrases_map_to_their_tag_and_far_ones_become_candidates(res):
    tags = [(1, "python programming"), (2, "unit conversion"), (3, "poetry writing"), (4, "cooking")]
    threshold = res.config.diagnosis.threshold_for(res.config.embedding.model)
    got = {m.phrase: m for m in map_skills(["python coding", "converting units of measurement",
                                            "quantum field renormalisation"], tags, res.text_space("tags"), threshold)}
    assert got["python coding"].tag_id == 1 and got["python coding"].key == "tag:1"
    assert got["converting units of measurement"].tag_id == 2
    far = got["quantum field renormalisation"]
    assert far.tag_id is None and far.key == "phrase:quantum field renormalisation" and far.similarity < threshold
    assert far.name == "quantum field renormalisation" and far.tag_name  # the nearest tag is kept as evidence


def test_without_tags_every_skill_is_a_candidate(res):
    assert [m.tag_id for m in map_skills(["a b", "c d"], [], res.text_space("tags"), 0.7)] == [None, None]
