"""Domain induction, fine-tag -> domain mapping and cluster naming: three LLM tasks, and the k-means fallback."""
from __future__ import annotations

import re

from state.domains import OTHER
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

_NAME = re.compile(r"^[a-z][a-z0-9 &/,'-]{1,58}$")


def target_domains(n_tags: int, max_domains: int) -> int:
    return int(min(max_domains, max(4, round((n_tags / 2) ** 0.5))))


def _domain(item: object, where: str) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ParseError(f"{where} must be an object with a string 'name'")
    name = re.sub(r"\s+", " ", item["name"].strip().lower())
    desc = item.get("description", "")
    if not isinstance(desc, str) or not desc.strip():
        raise ParseError(f'domain "{name}" needs a one-sentence description')
    if not _NAME.match(name):
        raise ParseError(f'domain name "{name}" must be 2-60 lower-case letters/words')
    return {"name": name, "description": desc.strip()[:400]}


def parse_induce(text: str, max_domains: int, min_domains: int = 2) -> list[dict[str, str]]:
    obj = parse_json_object(text)
    items = obj.get("domains")
    if not isinstance(items, list):
        raise ParseError('expected {"domains": [{"name": ..., "description": ...}]}')
    out, seen = [], set()
    for k, item in enumerate(items):
        domain = _domain(item, f"domains[{k}]")
        if domain["name"] == OTHER or domain["name"] in seen:
            continue
        seen.add(domain["name"])
        out.append(domain)
    if not min_domains <= len(out) <= max_domains:
        raise ParseError(f"need {min_domains} to {max_domains} distinct domains, got {len(out)}")
    return out


def parse_map(text: str, tags: list[str], domain_names: list[str]) -> dict[str, str]:
    """tag -> domain name. The reply numbers tags and categories ({"3": 2}), which costs a small model a quarter of
    the tokens of repeating names; names are accepted too. Tags left out or given an unknown category map to
    'other' (the caller counts them)."""
    obj = parse_json_object(text)
    mapping = obj.get("mapping", obj)
    if not isinstance(mapping, dict):
        raise ParseError('expected {"<tag number>": <category number>}')
    by_name = {n.lower(): n for n in domain_names}
    by_tag = {t.strip().lower(): t for t in tags}
    out = {tag: OTHER for tag in tags}
    for key, value in mapping.items():
        key_s = str(key).strip()
        tag = tags[int(key_s) - 1] if key_s.isdigit() and 1 <= int(key_s) <= len(tags) else by_tag.get(key_s.lower())
        if tag is None:
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            k = int(value)
            out[tag] = domain_names[k - 1] if 1 <= k <= len(domain_names) else OTHER
        elif isinstance(value, str):
            out[tag] = by_name.get(value.strip().lower(), OTHER)
    if all(v == OTHER for v in out.values()) and len(tags) > 1:
        raise ParseError("no tag was given a listed category; answer with the numbers of the categories")
    return out


def scaled_top_k(tagged: int, paper_pool: int, override: int = 0) -> int:
    if override:
        return override
    return int(min(1000, max(60, round(1000 * tagged / paper_pool))))


def cluster_tags(vectors, n_clusters: int, seed: int = 0) -> list[int]:
    """k-means on unit vectors (spherical k-means in effect) cluster labels: the fallback when one LLM call cannot
    induce a sensible list of domains; the LLM then only names each cluster. (Average-linkage clustering was tried
    first and gave one giant cluster plus singletons on real tags.)"""
    from sklearn.cluster import KMeans

    n_clusters = max(1, min(n_clusters, len(vectors)))
    if n_clusters == 1:
        return [0] * len(vectors)
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(vectors).labels_.tolist()


class InduceDomainsTask(LLMTask[list[tuple[str, int]], list[dict[str, str]]]):
    """The top-K canonical tags with frequencies -> a list of broad domains (name, description)."""

    name, template = "induce_domains", "domain_induce.j2"

    def __init__(self, role: str, max_domains: int, max_tokens: int | None = None, min_domains: int = 4) -> None:
        super().__init__(role, max_tokens)
        self.max_domains, self.min_domains = max_domains, min_domains

    def format_input(self, item: list[tuple[str, int]]) -> Messages:
        return render_messages(self.template, tags=item, max_domains=self.max_domains, min_domains=self.min_domains,
                               target=target_domains(len(item), self.max_domains))

    def parse_output(self, text: str, item: list[tuple[str, int]]) -> list[dict[str, str]]:
        return parse_induce(text, self.max_domains)


class MapTagsTask(LLMTask[list[str], dict[str, str]]):
    """A batch of fine tags -> tag -> domain name ('other' for tags left out)."""

    name, template = "map_tags", "domain_map.j2"

    def __init__(self, role: str, domains: list[dict[str, str]], max_tokens: int | None = None) -> None:
        super().__init__(role, max_tokens)
        self.domains = domains

    def format_input(self, item: list[str]) -> Messages:
        return render_messages(self.template, tags=item, domains=self.domains)

    def parse_output(self, text: str, item: list[str]) -> dict[str, str]:
        return parse_map(text, item, [d["name"] for d in self.domains])


class NameClusterTask(LLMTask[list[str], dict[str, str]]):
    """The tags of one embedding cluster -> a domain name and description (the fallback's naming step)."""

    name, template = "name_cluster", "domain_name.j2"

    def format_input(self, item: list[str]) -> Messages:
        return render_messages(self.template, tags=item)

    def parse_output(self, text: str, item: list[str]) -> dict[str, str]:
        return _domain(parse_json_object(text), "the reply")
