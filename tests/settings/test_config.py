import pytest

from settings import ConfigError, describe_fields, load_config


def test_precedence_default_yaml_env_cli(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.yaml").write_text("max_rounds: 5\nseed: 1\nroles:\n  tagger:\n    temperature: 0.5\n"
                                      "    max_tokens: 100\nembedding:\n  batch_size: 8\n")
    env = {"ILOOP_SEED": "2", "ILOOP_ROLES__TAGGER__MAX_TOKENS": "200", "ILOOP_EMBEDDING__BATCH_SIZE": "16"}
    cfg = load_config(home, env=env, overrides=["embedding.batch_size=32"])
    assert cfg.max_rounds == 5  # yaml over default
    assert cfg.seed == 2  # env over yaml
    assert cfg.role("tagger").temperature == 0.5  # yaml, one field of one role
    assert cfg.role("tagger").max_tokens == 200  # env over yaml
    assert cfg.embedding.batch_size == 32  # cli over env
    assert cfg.role("evolver").model == "qwen2.5-coder-1.5b"  # untouched role keeps its default
    assert load_config(home, env={}).seed == 1


def test_defaults_without_any_source(tmp_path):
    cfg = load_config(tmp_path / "nothing", env={})
    assert cfg.max_rounds == 3 and cfg.role("tagger").base_url == "embedded"
    assert cfg.db_url.endswith("nothing/iloop.sqlite")


def test_bad_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("max_rounds: 3\nroles: [unclosed\n")
    with pytest.raises(ConfigError, match=r"c.yaml line \d+"):
        load_config(tmp_path, config_file=bad, env={})


def test_unknown_key_and_bad_value_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="max_roundz"):
        load_config(tmp_path, env={}, overrides=["max_roundz=3"])
    with pytest.raises(ConfigError, match="max_rounds"):
        load_config(tmp_path, env={"ILOOP_MAX_ROUNDS": "zero"})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(tmp_path, env={}, overrides=["max_rounds"])


def test_api_key_is_never_part_of_the_config(tmp_path):
    cfg = load_config(tmp_path, env={"OPENAI_API_KEY": "sk-secret-123"})
    assert "sk-secret-123" not in cfg.model_dump_json()
    assert cfg.role("oracle").api_key_env == "OPENAI_API_KEY"


def test_every_field_is_described():
    rows = describe_fields()
    assert len(rows) > 20
    missing = [name for name, _, desc in rows if not desc]
    assert missing == []


def test_a_bad_set_is_blamed_on_the_set_with_its_full_key_and_the_closest_valid_ones(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env={}, overrides=["taging.max_per_round=3"])
    msg = str(err.value)
    assert "--set taging.max_per_round=3" in msg and "'taging.max_per_round'" in msg
    assert "closest valid keys: tagging.max_per_round" in msg and "config.yaml" not in msg
    with pytest.raises(ConfigError, match=r"--set max_rounds=zero: max_rounds: Input should be a valid integer"):
        load_config(tmp_path, env={"ILOOP_MAX_ROUNDS": "4"}, overrides=["max_rounds=zero"])


def test_env_and_file_errors_name_the_variable_or_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"environment variable ILOOP_TAGGING__MAX_PER_RUND: unknown setting "
                                          r"'tagging.max_per_rund'; closest valid keys: tagging.max_per_round"):
        load_config(tmp_path, env={"ILOOP_TAGGING__MAX_PER_RUND": "3"})
    (tmp_path / "config.yaml").write_text("seed: 1\ntagging:\n  max_per_round: -1\nroles:\n  tagger:\n"
                                          "    temprature: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env={})
    msg = str(err.value)
    assert f"config file {tmp_path / 'config.yaml'} line 3: tagging.max_per_round: Input should be greater" in msg
    assert "line 6: unknown setting 'roles.tagger.temprature'; closest valid keys: roles.tagger.temperature" in msg


def test_an_empty_section_keeps_its_defaults_and_one_entry_of_a_keyed_section_keeps_the_others(tmp_path):
    (tmp_path / "config.yaml").write_text("tagging:\nroles:\n  judge:\ntaxonomy:\n  thresholds:\n"
                                          "    minilm-l6-v2:\n      dbscan_eps: 0.3\n")
    cfg, default = load_config(tmp_path, env={}), load_config(tmp_path / "none", env={})
    assert cfg.tagging == default.tagging and cfg.roles == default.roles
    mini, mini_default = cfg.taxonomy.thresholds["minilm-l6-v2"], default.taxonomy.thresholds["minilm-l6-v2"]
    assert mini.dbscan_eps == 0.3 and mini.languages == mini_default.languages
    assert set(cfg.taxonomy.thresholds) == set(default.taxonomy.thresholds)


def test_the_assets_folder_recorded_in_the_home_is_used_below_every_source(tmp_path):
    from settings.config import remember_assets_dir

    home = tmp_path / "h"
    remember_assets_dir(load_config(home, env={"ILOOP_ASSETS": str(tmp_path / "shared")}))
    assert load_config(home, env={}).assets_path == tmp_path / "shared"
    assert load_config(home, env={}, overrides=[f"assets_dir={tmp_path / 'x'}"]).assets_path == tmp_path / "x"
    assert load_config(tmp_path / "fresh", env={}).assets_path == tmp_path / "fresh" / "assets"


def test_thresholds_and_leakage_cuts_are_presets_of_the_embedding_model(tmp_path):
    cfg = load_config(tmp_path, env={})
    assert cfg.embedding.model == "use-multilingual-v3"
    use = cfg.thresholds()
    assert use == cfg.taxonomy.thresholds["use-multilingual-v3"] and use.languages == ["en", "zh"]
    band = cfg.leakage.bands["use-multilingual-v3"]
    assert (cfg.leakage_settings().remove_threshold, cfg.leakage_settings().band_low) == (band.remove_threshold,
                                                                                          band.band_low)
    mini = load_config(tmp_path, env={}, overrides=["embedding.model=minilm-l6-v2"])
    assert mini.thresholds().languages == ["en"] and mini.thresholds() != use
    assert mini.leakage_settings().remove_threshold == mini.leakage.bands["minilm-l6-v2"].remove_threshold
    # a folder on disk matches by its last part, or by a key contained in it; an unknown model gets the defaults
    bge = load_config(tmp_path, env={}, overrides=["embedding.model=/models/bge-large-en-v1.5/"])
    assert bge.thresholds() == bge.taxonomy.thresholds["bge"]
    assert load_config(tmp_path, env={}, overrides=["embedding.model=/m/e5"]).leakage_settings().band_low == 0.75


def test_an_explicit_leakage_cut_overrides_the_model_preset(tmp_path):
    cfg = load_config(tmp_path, env={}, overrides=["leakage.remove_threshold=0.97"])
    s = cfg.leakage_settings()
    assert s.remove_threshold == 0.97 and s.band_low == cfg.leakage.bands["use-multilingual-v3"].band_low
    assert s.for_model("use-multilingual-v3") == s  # resolving twice changes nothing


def test_the_test_suites_own_variables_are_not_settings(tmp_path):
    cfg = load_config(tmp_path / "h", env={"ILOOP_TEST_ASSETS": "/x", "ILOOP_TEST_TAGGER_MODEL": "m",
                                           "ILOOP_SEED": "7"})
    assert cfg.seed == 7


def test_domain_bounds_must_be_ordered(tmp_path):
    with pytest.raises(ConfigError, match=r"min_domains \(9\) is above max_domains \(6\)"):
        load_config(tmp_path, env={}, overrides=["taxonomy.min_domains=9", "taxonomy.max_domains=6"])
    assert load_config(tmp_path, env={}, overrides=["taxonomy.min_domains=6"]).taxonomy.min_domains == 6


def test_a_config_with_the_old_plateau_setting_still_loads_as_measure_min_growth(tmp_path):
    (tmp_path / "config.yaml").write_text("plateau_min_growth: 0.05\n")
    assert load_config(tmp_path, env={}).measure.min_growth == 0.05
    both = load_config(tmp_path, env={}, overrides=["measure.min_growth=0.2"])
    assert both.measure.min_growth == 0.2  # the new name wins
