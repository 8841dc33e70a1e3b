"""One typed configuration object for the whole loop.

Precedence, lowest to highest: field defaults < YAML file < environment (``ILOOP_...``) < CLI ``--set``.
Nested fields use ``__`` in env names and ``.`` on the CLI, e.g. ``ILOOP_ROLES__EVOLVER__BASE_URL`` and
``--set roles.evolver.base_url=http://gpu:8000/v1``. API keys are never configuration values: a role names the
environment variable that holds its key, so keys cannot leak into the store, logs or exports.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from settings.evolution import EvolutionSettings, LeakageSettings
from settings.sections import (EmbeddedServerSettings, EmbeddingSettings, IngestSettings, NormalizationThresholds,
                               RoleSettings, TaggingSettings, TaxonomySettings, default_roles)
from settings.seeds import FinetuneSettings, ScoringSettings, SelectionSettings


class ConfigError(ValueError):
    """A configuration source is malformed; the message names the source and the key."""


class IloopConfig(BaseModel):
    """Everything a run needs. Every field has a default that works offline on a 2-core CPU machine."""

    model_config = ConfigDict(extra="forbid")
    home: Path = Field(Path("iloop-home"), description="Store root: SQLite file, Chroma dir, graphs, "
                       "checkpoints, reports, assets cache.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = sqlite file <home>/iloop.sqlite. "
                              "Postgres works (postgresql+psycopg://...).")
    assets_dir: Path | None = Field(None, description="Offline assets cache; default <home>/assets, or "
                                    "ILOOP_ASSETS shared between homes.")
    roles: dict[str, RoleSettings] = Field(default_factory=default_roles,
                                           description="LLM role settings: tagger, evolver, judge, oracle, "
                                           "synthesizer.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedder settings.")
    server: EmbeddedServerSettings = Field(default_factory=EmbeddedServerSettings,
                                           description="Embedded llama.cpp server settings.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Importer settings.")
    tagging: TaggingSettings = Field(default_factory=TaggingSettings, description="Tagger settings.")
    taxonomy: TaxonomySettings = Field(default_factory=TaxonomySettings, description="Taxonomy settings.")
    scoring: ScoringSettings = Field(default_factory=ScoringSettings, description="Loss scorer settings.")
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings, description="Quick LoRA fine-tune.")
    selection: SelectionSettings = Field(default_factory=SelectionSettings, description="Seed selector settings.")
    evolution: EvolutionSettings = Field(default_factory=EvolutionSettings, description="Evolver, judge and "
                                         "dialogue settings.")
    leakage: LeakageSettings = Field(default_factory=LeakageSettings, description="Benchmark-leakage guard.")
    max_rounds: int = Field(3, ge=1, description="Upper bound on loop rounds per `iloop run`.")
    plateau_min_growth: float = Field(0.01, ge=0, description="The loop stops when a round grows the dataset "
                                      "by less than this fraction.")
    seed: int = Field(0, description="Random seed for every sampling decision.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Torch device for loss scoring.")

    @property
    def sqlite_path(self) -> Path:
        return self.home / "iloop.sqlite"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def assets_path(self) -> Path:
        if self.assets_dir is not None:
            return Path(self.assets_dir)
        return self.home / "assets"

    def thresholds(self) -> NormalizationThresholds:
        name = self.embedding.model.rstrip("/").split("/")[-1].lower()
        table = self.taxonomy.thresholds
        if name in table:
            return table[name]
        for key, value in table.items():
            if key.lower() in name:
                return value
        return NormalizationThresholds()

    def role(self, name: str) -> RoleSettings:
        if name not in self.roles:
            raise ConfigError(f"unknown LLM role {name!r}; configured roles: {sorted(self.roles)}")
        return self.roles[name]


def _deep_merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _parse_scalar(text: str) -> Any:
    # YAML scalars give ints, floats, bools and lists (e.g. [a, b]) the way a person types them.
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {'.'.join(path)}: {key} is not a section")
    node[path[-1]] = value


def env_overrides(env: Mapping[str, str]) -> dict:
    tree: dict = {}
    for name, raw in env.items():
        if not name.startswith("ILOOP_") or name in ("ILOOP_CONFIG",):
            continue
        path = [p.lower() for p in name[len("ILOOP_"):].split("__")]
        if path == ["assets"]:
            path = ["assets_dir"]
        _set_path(tree, path, _parse_scalar(raw))
    return tree


def cli_overrides(pairs: list[str]) -> dict:
    tree: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. roles.tagger.temperature=0")
        key, raw = pair.split("=", 1)
        _set_path(tree, key.strip().split("."), _parse_scalar(raw))
    return tree


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path}{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(home: Path | str | None = None, config_file: Path | str | None = None,
                env: Mapping[str, str] | None = None, overrides: list[str] | None = None) -> IloopConfig:
    """Build the configuration from every source in precedence order.

    ``home`` given explicitly (the CLI's --home) beats ILOOP_HOME; the YAML file defaults to
    ``<home>/config.yaml`` when it exists.
    """
    env = os.environ if env is None else env
    tree: dict = {}
    env_tree = env_overrides(env)
    home_path = Path(home) if home is not None else Path(env_tree.get("home") or "iloop-home")
    yaml_path = Path(config_file) if config_file else (Path(env["ILOOP_CONFIG"]) if env.get("ILOOP_CONFIG")
                                                       else home_path / "config.yaml")
    if config_file or env.get("ILOOP_CONFIG") or yaml_path.exists():
        tree = _deep_merge(tree, read_yaml(yaml_path))
    tree = _deep_merge(tree, env_tree)
    tree = _deep_merge(tree, cli_overrides(overrides or []))
    if home is not None:
        tree["home"] = str(home)
    # Role blocks are merged over the defaults so a YAML file may change one field of one role.
    if "roles" in tree:
        defaults = {k: v.model_dump() for k, v in default_roles().items()}
        tree["roles"] = _deep_merge(defaults, tree["roles"])
    try:
        return IloopConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration (yaml={yaml_path}): {exc}") from exc


def describe_fields(model: type[BaseModel] = IloopConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) for every field, for `iloop config --describe` and the docs."""
    rows = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(describe_fields(ann, f"{prefix}{name}."))
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, dict) and default and all(isinstance(v, BaseModel) for v in default.values()):
            for key, sub in default.items():
                rows.extend((f"{prefix}{name}.{key}.{n}", json.dumps(getattr(sub, n), default=str), d)
                            for n, _, d in ((n, None, f.description or "") for n, f in type(sub).model_fields.items()))
            continue
        rows.append((prefix + name, json.dumps(default, default=str), field.description or ""))
    return rows
