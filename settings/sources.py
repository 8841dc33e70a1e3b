"""The configuration sources (YAML file, ILOOP_* environment, --set) as trees, each remembering where every
value came from, so an invalid value is blamed on the source that gave it (`--set`, the env var, the file line)
and under the full dotted key the user typed.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

# libyaml's safe loader when PyYAML was built with it: the same YAML, read about ten times faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Key = tuple[str, ...]
Origins = dict[Key, str]  # dotted path of a value (a leaf or a whole section) -> "where it was written"


class ConfigError(ValueError):
    """A configuration source is malformed; the message names the source and the key."""


def deep_merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def parse_scalar(text: str) -> Any:
    # YAML scalars give ints, floats, bools and lists (e.g. [a, b]) the way a person types them.
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(tree: dict, path: list[str], value: Any, where: str) -> None:
    node = tree
    for depth, key in enumerate(path[:-1]):
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: cannot set {'.'.join(path)}: {'.'.join(path[:depth + 1])} is a value, "
                              "not a section")
    node[path[-1]] = value


def env_overrides(env: Mapping[str, str]) -> tuple[dict, Origins]:
    tree: dict = {}
    origins: Origins = {}
    for name, raw in env.items():
        # ILOOP_TEST_* steer the test suite (tests/conftest.py), not the configuration
        if not name.startswith("ILOOP_") or name in ("ILOOP_CONFIG",) or name.startswith("ILOOP_TEST_"):
            continue
        path = [p.lower() for p in name[len("ILOOP_"):].split("__")]
        if path == ["assets"]:
            path = ["assets_dir"]
        where = f"environment variable {name}"
        _set_path(tree, path, parse_scalar(raw), where)
        origins[tuple(path)] = where
    return tree, origins


def cli_overrides(pairs: list[str]) -> tuple[dict, Origins]:
    tree: dict = {}
    origins: Origins = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. roles.tagger.temperature=0")
        key, raw = pair.split("=", 1)
        path = key.strip().split(".")
        _set_path(tree, path, parse_scalar(raw), f"--set {pair}")
        origins[tuple(path)] = f"--set {pair}"
    return tree, origins


def _key_lines(node: yaml.Node, prefix: Key = ()) -> dict[Key, int]:
    lines: dict[Key, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (str(key_node.value),)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path))
    return lines


def yaml_origins(path: Path | None) -> Origins:
    """Where each key of a config file is written (only built when a value is refused: composing costs a parse)."""
    if path is None:
        return {}
    node = yaml.compose(path.read_text(encoding="utf-8"))
    return {key: f"config file {path} line {line}" for key, line in _key_lines(node).items()}


def read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_SAFE_LOADER) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path}{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {type(data).__name__}")
    return data


def closest_keys(key: str, valid: list[str], n: int = 4) -> list[str]:
    """Valid dotted keys that look like ``key``: the whole key, or its last part under another section."""
    found = difflib.get_close_matches(key, valid, n=n, cutoff=0.6)
    last = key.rsplit(".", 1)[-1]
    found += [k for k in valid if k not in found and difflib.get_close_matches(last, [k.rsplit(".", 1)[-1]],
                                                                               cutoff=0.85)]
    return found[:n]


def _blame(loc: Key, sources: list[Origins]) -> list[tuple[str, Key]]:
    """(where, full key) for each key that the highest-precedence source writing ``loc`` wrote there."""
    for origins in sources:
        hits = [k for k in origins if k[:len(loc)] == loc or loc[:len(k)] == k]
        if hits:
            # The deepest keys are the ones the user typed (a file's `a:` line holds `a.b`, which is the mistake).
            return [(origins[k], k) for k in hits if not any(o != k and o[:len(k)] == k for o in hits)]
    return [("defaults", loc)]


def explain(exc: ValidationError, sources: list[Origins], valid: list[str]) -> str:
    """One line per problem: where it was written, the full dotted key, what is wrong, and for an unknown key
    the closest valid keys. ``sources`` are in precedence order, highest first."""
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        blamed = _blame(loc, sources)
        if err["type"] == "extra_forbidden":
            for where, key in blamed:
                dotted = ".".join(key)
                near = closest_keys(dotted, valid)
                hint = f"; closest valid keys: {', '.join(near)}" if near else "; `iloop config --describe` lists them"
                lines.append(f"{where}: unknown setting {dotted!r}{hint}")
        else:
            key = ".".join(loc) or "configuration"
            lines.append(f"{blamed[0][0]}: {key}: {err['msg']} (got {err.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(dict.fromkeys(lines))
