"""The bottom layer: typed settings every other package may import (and which imports none of them).

``IloopConfig`` holds every section; ``load_config`` merges defaults < YAML < environment < ``--set``.
"""
from settings.config import ConfigError, IloopConfig, describe_fields, load_config
from settings.diagnosis import DiagnosisSettings, SynthesisSettings
from settings.evolution import OPERATIONS, EvolutionSettings, LeakageSettings
from settings.measure import MeasureSettings
from settings.sections import (EMBEDDED, ROLES, EmbeddedServerSettings, EmbeddingSettings, IngestSettings,
                               NormalizationThresholds, RoleSettings, TaggingSettings, TaxonomySettings)
from settings.seeds import ALL_CRITERIA, CRITERIA, FinetuneSettings, ScoringSettings, SelectionSettings

__all__ = ["ALL_CRITERIA", "CRITERIA", "EMBEDDED", "OPERATIONS", "ROLES", "ConfigError", "DiagnosisSettings", "EmbeddedServerSettings",
           "EmbeddingSettings", "EvolutionSettings", "FinetuneSettings", "IloopConfig", "IngestSettings",
           "LeakageSettings", "MeasureSettings", "NormalizationThresholds", "RoleSettings", "ScoringSettings", "SelectionSettings", "SynthesisSettings",
           "TaggingSettings", "TaxonomySettings", "describe_fields", "load_config"]
