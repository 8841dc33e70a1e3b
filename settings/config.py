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
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from settings.diagnosis import DiagnosisSettings, SynthesisSettings
from settings.evolution import EvolutionSettings, LeakageSettings
from settings.executor import ExecutorSettings
from settings.measure import MeasureSettings
from settings.sections import (EmbeddedServerSettings, EmbeddingSettings, IngestSettings, NormalizationThresholds,
                               RoleSettings, TaggingSettings, TaxonomySettings, default_roles, preset_for)
from settings.seeds import FinetuneSettings, ScoringSettings, SelectionSettings
from settings.sources import (ConfigError, cli_overrides, deep_merge, env_overrides, explain, read_yaml,
                              yaml_origins)


class IloopConfig(BaseModel):
    """Everything a run needs. Every field has a default that works offline on a 2-core CPU machine."""

    model_config = ConfigDict(extra="forbid")
    home: Path = Field(Path("iloop-home"), description="Store root: SQLite file, Chroma dir, graphs, "
                       "checkpoints, reports, assets cache.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = sqlite file <home>/iloop.sqlite. "
                              "Postgres works (postgresql+psycopg://...).")
    assets_dir: Path | None = Field(None, description="Offline assets cache (env ILOOP_ASSETS); default: the "
                                    "folder recorded in <home>/assets-dir by `iloop init` or `assets fetch`, else "
                                    "<home>/assets.")
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
    diagnosis: DiagnosisSettings = Field(default_factory=DiagnosisSettings, description="Oracle diagnoser: "
                                         "held-out split, M_FT's answers, findings.")
    synthesis: SynthesisSettings = Field(default_factory=SynthesisSettings, description="Targeted synthesizer.")
    measure: MeasureSettings = Field(default_factory=MeasureSettings, description="Per-round figures and the "
                                     "plateau rule.")
    executor: Literal["local", "ray"] = Field("local", description="Where tagging's LLM calls, embedding and loss "
                                              "scoring run: 'local' (this process; async LLM calls, in-process torch "
                                              "batches) or 'ray' (Ray Data actor pools; pip install "
                                              "'instruct-loop[ray]').")
    executors: ExecutorSettings = Field(default_factory=ExecutorSettings, description="Shards and the Ray "
                                        "executor's settings.")
    max_rounds: int = Field(3, ge=1, description="Upper bound on loop rounds per `iloop run`.")
    max_tokens: int = Field(0, ge=0, description="Token budget of one thread of `iloop run`, resumes included "
                            "(prompt + completion tokens of every LLM call it makes; cache hits are free): the loop "
                            "stops at the end of the round that reaches it, with a decision; 0 = no budget.")
    seed: int = Field(0, description="Random seed for every sampling decision.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Torch device for loss scoring.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        """``plateau_min_growth`` (before the measure section) still loads, as ``measure.min_growth``."""
        if isinstance(data, dict) and "plateau_min_growth" in data:
            data = dict(data)
            old = data.pop("plateau_min_growth")
            measure = dict(data.get("measure") or {})
            measure.setdefault("min_growth", old)
            data["measure"] = measure
        return data

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
        return preset_for(self.taxonomy.thresholds, self.embedding.model, NormalizationThresholds())

    def leakage_settings(self, model: str | None = None) -> LeakageSettings:
        """The leakage settings with the cosine cuts (leakage.bands) of ``model``, by default embedding.model; the
        guard resolves one per entry of leakage.models."""
        return self.leakage.for_model(model or self.embedding.model)

    def evolution_settings(self) -> EvolutionSettings:
        """The evolution settings with max_similarity resolved for embedding.model (evolution.similarity_presets)."""
        return self.evolution.for_model(self.embedding.model)

    def synthesis_settings(self) -> SynthesisSettings:
        """The synthesis settings with max_similarity (evolution's preset for embedding.model) and
        answer_max_tokens (evolution's) resolved."""
        s = self.synthesis
        return s.model_copy(update={
            "max_similarity": s.max_similarity if s.max_similarity is not None
            else self.evolution_settings().max_similarity,
            "answer_max_tokens": s.answer_max_tokens or self.evolution.answer_max_tokens})

    def role(self, name: str) -> RoleSettings:
        if name not in self.roles:
            raise ConfigError(f"unknown LLM role {name!r}; configured roles: {sorted(self.roles)}")
        return self.roles[name]


ASSETS_RECORD = "assets-dir"  # file in a home naming the assets folder it was set up with


def _keyed_defaults(field) -> dict | None:
    """The default entries of a field that is a dict of sections (roles, taxonomy.thresholds), else None."""
    default = field.get_default(call_default_factory=True)
    if isinstance(default, dict) and default and all(isinstance(v, BaseModel) for v in default.values()):
        return {k: v.model_dump() for k, v in default.items()}
    return None


def _complete(tree: dict, model: type[BaseModel]) -> dict:
    """A section written empty (a bare `tagging:` line, i.e. null) means its defaults; an entry of a keyed
    section (one role, one embedder's thresholds) is merged over its default entry, so a file may change one
    field of one role without repeating the rest, and the other default entries stay."""
    out = dict(tree)
    for name, field in model.model_fields.items():
        value, ann = out.get(name), field.annotation
        keyed = _keyed_defaults(field)
        is_section = keyed is not None or (isinstance(ann, type) and issubclass(ann, BaseModel))
        if value is None and name in out and is_section:
            del out[name]
        elif isinstance(value, dict) and keyed is not None:
            entries = {k: v for k, v in value.items() if v is not None}
            out[name] = deep_merge(keyed, entries)
        elif isinstance(value, dict) and is_section:
            out[name] = _complete(value, ann)
    return out


def recorded_assets_dir(home: Path) -> Path | None:
    """The assets folder this home was set up with (written by `iloop init` / `assets fetch`), if any."""
    record = Path(home) / ASSETS_RECORD
    text = record.read_text(encoding="utf-8").strip() if record.is_file() else ""
    return Path(text) if text else None


def remember_assets_dir(config: IloopConfig) -> Path:
    """Write the absolute assets folder into the home, so commands typed later without ILOOP_ASSETS find it."""
    record = config.home / ASSETS_RECORD
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(f"{config.assets_path.resolve()}\n", encoding="utf-8")
    return record


def load_config(home: Path | str | None = None, config_file: Path | str | None = None,
                env: Mapping[str, str] | None = None, overrides: list[str] | None = None) -> IloopConfig:
    """Build the configuration from every source in precedence order.

    ``home`` given explicitly (the CLI's --home) beats ILOOP_HOME; the YAML file defaults to
    ``<home>/config.yaml`` when it exists. When no source names the assets folder, the one recorded in the
    home is used (below the file: any source that names one wins).
    """
    env = os.environ if env is None else env
    tree: dict = {}
    env_tree, env_origins = env_overrides(env)
    cli_tree, cli_origins = cli_overrides(overrides or [])
    yaml_read: Path | None = None
    home_path = Path(home) if home is not None else Path(env_tree.get("home") or "iloop-home")
    yaml_path = Path(config_file) if config_file else (Path(env["ILOOP_CONFIG"]) if env.get("ILOOP_CONFIG")
                                                       else home_path / "config.yaml")
    if config_file or env.get("ILOOP_CONFIG") or yaml_path.exists():
        tree, yaml_read = deep_merge(tree, read_yaml(yaml_path)), yaml_path
    tree = deep_merge(tree, env_tree)
    tree = deep_merge(tree, cli_tree)
    top = {("home",): "--home"} if home is not None else {}
    if home is not None:
        tree["home"] = str(home)
    if tree.get("assets_dir") is None:
        recorded = recorded_assets_dir(Path(tree.get("home") or home_path))
        if recorded is not None:
            tree["assets_dir"] = str(recorded)
            top[("assets_dir",)] = f"{Path(tree.get('home') or home_path) / ASSETS_RECORD}"
    tree = _complete(tree, IloopConfig)
    try:
        return IloopConfig.model_validate(tree)
    except ValidationError as exc:
        valid = [name for name, _, _ in describe_fields()]
        raise ConfigError(explain(exc, [top, cli_origins, env_origins, yaml_origins(yaml_read)], valid)) from exc


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
