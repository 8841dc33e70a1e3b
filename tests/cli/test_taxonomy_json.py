"""`iloop taxonomy --json` reports the power-law fit with its verdict, over one language's tags."""
import json
import random

from typer.testing import CliRunner

from cli.main import app
from cli.stages import power_law_line
from state.db import Store
from state.models import Conversation, ConversationTag, Tag

runner = CliRunner()


def seed_bilingual_tags(store: Store, n_conv: int = 150, n_tags: int = 60) -> set[str]:
    """Conversations with 2-4 English tags drawn with Zipf-like popularity, each tag also given in Chinese."""
    rnd = random.Random(0)
    weights = [1 / (k + 1) for k in range(n_tags)]
    used: set[str] = set()
    with store.session() as s:
        en = [Tag(name=f"skill {k}", lang="en", status="canonical") for k in range(n_tags)]
        zh = [Tag(name=f"技能{k}", lang="zh", status="canonical") for k in range(n_tags)]
        s.add_all(en + zh)
        s.flush()
        for c in range(n_conv):
            conv = Conversation(content_hash=f"tj{c}", messages="[]", source="t", lang="en")
            s.add(conv)
            s.flush()
            for k in set(rnd.choices(range(n_tags), weights, k=rnd.randint(2, 4))):
                used.add(f"skill {k}")
                s.add_all([ConversationTag(conversation_id=conv.id, tag_id=en[k].id),
                           ConversationTag(conversation_id=conv.id, tag_id=zh[k].id)])
        s.commit()
    return used


def test_taxonomy_json_has_the_fit_its_verdict_and_one_language(tmp_path, store, assets, monkeypatch):
    from state.cograph import cooccurrence_from_store

    monkeypatch.setenv("ILOOP_ASSETS", str(assets.root))
    home = tmp_path / "home"  # the ``store`` fixture's file
    seed_bilingual_tags(store)
    r = runner.invoke(app, ["--home", str(home), "taxonomy", "--json"])
    assert r.exit_code == 0, r.output
    fit = json.loads(r.stdout)["power_law"]
    assert {"gamma", "x_min", "ks_distance", "favoured", "p_value"} <= set(fit)
    assert set(fit["comparisons"]) == {"lognormal", "exponential"}
    assert fit["favoured"] in ("power_law", "power_law_or_lognormal", "lognormal", "exponential", "undecided")
    # fitted over the English tags alone: the same degrees as the English graph, not the mixed one's
    en = cooccurrence_from_store(store, "en")
    assert fit["n_nodes"] == sum(1 for _, d in en.degree() if d > 0) <= 60
    assert "favour" in power_law_line(fit) and "no fit" in power_law_line(None)


def test_the_console_line_names_the_verdict():
    fit = {"gamma": 2.4, "sigma": 0.1, "x_min": 3, "n_tail": 50, "n_nodes": 80, "ks_distance": 0.05,
           "favoured": "exponential", "p_value": 0.001,
           "comparisons": {"lognormal": {"ratio": -1.0, "p_value": 0.3, "favoured": "undecided"},
                           "exponential": {"ratio": -3.2, "p_value": 0.001, "favoured": "exponential"}}}
    line = power_law_line(fit)
    assert "favour exponential" in line and "vs exponential R -3.20" in line
