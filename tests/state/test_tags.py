"""The tag repository's merge history: what `iloop taxonomy` and the console list as aliases."""
from state.tags import TagMergeRow, TagUpdate, recent_merges, rewrite_tags, status_counts, tag_ids


def test_recent_merges_lists_only_merges_that_hold_now_once_each(store):
    ids = tag_ids(store, ["data processing", "missing data handling", "law", "legal writing", "python"], "en")
    dp, mdh, law, lw, py = (ids[n] for n in ("data processing", "missing data handling", "law", "legal writing",
                                             "python"))
    # pass 1 (round 1): two merges
    rewrite_tags(store, [TagUpdate(dp, mdh, "alias", 0, 1), TagUpdate(law, lw, "alias", 0, 1),
                         TagUpdate(mdh, None, "canonical", 2), TagUpdate(lw, None, "canonical", 2),
                         TagUpdate(py, None, "canonical", 1)],
                 [TagMergeRow(1, dp, mdh, "threshold", 0.81), TagMergeRow(1, law, lw, "threshold", 0.80)])
    assert {(m["alias"], m["canonical"]) for m in recent_merges(store)} == {("data processing", "missing data handling"),
                                                                            ("law", "legal writing")}
    # pass 2 (round 2, a stricter threshold): "data processing" is canonical again; the law merge is made again
    rewrite_tags(store, [TagUpdate(dp, None, "canonical", 1, 2), TagUpdate(mdh, None, "canonical", 1)],
                 [TagMergeRow(2, law, lw, "dbscan", 0.90)])
    merges = recent_merges(store)
    aliases = sum(n for (_, st), n in status_counts(store).items() if st == "alias")
    assert [(m["alias"], m["canonical"], m["method"], m["round"]) for m in merges] == [
        ("law", "legal writing", "dbscan", 2)]
    assert len(merges) == aliases == 1
