import pytest
import sqlalchemy as sa

from state.steering import Priority, replace_analyst_priorities, set_user_priority, weights


def test_priorities_never_overwrite_the_users(store):
    set_user_priority(store, "domain", "writing", 0.2, "we do not want more poems")
    gaps = [Priority("domain", "writing", 4.0, "thin"), Priority("tag", "origami", 3.0, "long-tail")]
    assert replace_analyst_priorities(store, gaps, 3) == 1
    assert replace_analyst_priorities(store, gaps, 4) == 1  # the analyst's own rows are replaced each round
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, key, weight, set_by, round FROM steering ORDER BY kind")).all()
    assert [tuple(r) for r in rows] == [("domain", "writing", 0.2, "user", 0), ("tag", "origami", 3.0,
                                                                                 "coverage_analyst", 4)]
    assert weights(store)["domain"] == {"writing": 0.2} and weights(store)["tag"] == {"origami": 3.0}


def test_a_user_weight_is_updated_in_place(store):
    set_user_priority(store, "criterion", "hard", 2.0)
    set_user_priority(store, "criterion", "hard", 0.5, "less")
    assert weights(store)["criterion"] == {"hard": 0.5}


@pytest.mark.parametrize("kind,key,match", [("color", "red", "unknown steering kind"),
                                            ("criterion", "hardest", "unknown criterion"),
                                            ("operation", "shorten", "unknown operation")])
def test_misspelt_steering_is_refused(store, kind, key, match):
    with pytest.raises(ValueError, match=match):
        set_user_priority(store, kind, key, 2.0)
    with pytest.raises(ValueError, match=match):
        replace_analyst_priorities(store, [Priority(kind, key, 2.0)], 1)
