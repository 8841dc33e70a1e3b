"""The taxonomist's graph step: the saved graph keeps every language apart, the fit reads English degrees only."""
from state.cograph import cooccurrence_from_store, load_cooccurrence
from tests.cli.test_taxonomy_json import seed_bilingual_tags
from tools.taxonomy import graph_report


def test_graph_report_saves_both_languages_and_fits_one(store, config):
    seed_bilingual_tags(store)
    rep = graph_report(store, config, round_=3)
    saved = load_cooccurrence(config.home / "graphs", 3)
    assert all(saved.nodes[a]["lang"] == saved.nodes[b]["lang"] for a, b in saved.edges)
    en = cooccurrence_from_store(store, "en")
    assert rep["lang"] == "en" and rep["nodes"] == saved.number_of_nodes() == 2 * en.number_of_nodes()
    assert rep["lang_nodes"] == en.number_of_nodes() and rep["lang_edges"] == en.number_of_edges()
    assert rep["edges"] == 2 * en.number_of_edges()  # the Chinese side mirrors it, and nothing joins the two
    assert rep["power_law"]["n_nodes"] == sum(1 for _, d in en.degree() if d > 0)
