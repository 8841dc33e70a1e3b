"""The real packaged ShareGPT file: truncated upstream, with empty, duplicate and split conversations."""
import pytest

from tools.importer import Importer


@pytest.mark.slow
def test_real_sharegpt_recovers_every_complete_record(store, assets, tmp_path):
    r = Importer(store, tmp_path / "reports").ingest_file(assets.pool_path("sharegpt"), "sharegpt")
    complete = r.records - r.outcomes["error:truncated"]
    assert complete == 17671
    assert r.outcomes["error:truncated"] == 1
    assert r.outcomes["skip:empty"] == 126
    assert sum(r.outcomes.values()) == r.records  # every record has exactly one outcome
    assert r.kept == complete - r.outcomes["duplicate"] - sum(v for k, v in r.outcomes.items() if k.startswith("skip:"))
    assert 600 < r.outcomes["duplicate"] < 900
    assert r.notes["leading_assistant_trimmed"] > 6000
    print(f"\nsharegpt: kept {r.kept}, outcomes {dict(r.outcomes)}, notes {dict(r.notes)}")


def test_alpaca_demo_sets(store, assets, tmp_path):
    imp = Importer(store, tmp_path / "reports")
    en = imp.ingest_file(assets.pool_path("alpaca-en"), "alpaca-en")
    zh = imp.ingest_file(assets.pool_path("alpaca-zh"), "alpaca-zh")
    assert (en.records, zh.records) == (999, 1000)
    # The demo files hold exact repeats (same instruction, input and output): 14 and 8.
    assert (en.outcomes["duplicate"], zh.outcomes["duplicate"]) == (14, 8)
    assert en.kept + zh.kept == 1977
