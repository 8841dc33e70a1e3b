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
