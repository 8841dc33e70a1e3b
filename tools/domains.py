"""Domain induction, fine-tag -> domain mapping and cluster naming: three LLM tasks, and the k-means fallback."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from state.domains import OTHER
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

_NAME = re.compile(r"^[a-z][a-z0-9 &/,'-]{1,58}$")


def target_domains(n_tags: int, max_domains: int, min_domains: int = 4) -> int:
    return int(min(max_domains, max(min_domains, round((n_tags / 2) ** 0.5))))


def _domain(item: object, where: str) -> dict[str, str]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ParseError(f"{where} must be an object with a string 'name'")
    name = re.sub(r"\s+", " ", item["name"].strip().lower())
    # the 1.5B adds an abbreviation ("search engine optimization (seo)"): the name is kept without it, rather than
    # the whole proposal being rejected
    name = re.sub(r"\s*\([^()]*\)$", "", name)
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


_LEAD_NUMBER = re.compile(r"^\s*(?:category|tag|#)?\s*(\d+)\b")


def _number(value: object) -> int | None:
    """2, 2.0, "2", "2. mathematics", "category 2", [2] -> 2; anything else None."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    if isinstance(value, str):
        m = _LEAD_NUMBER.match(value.strip().lower())
        return int(m.group(1)) if m else None
    return None


def _category(value: object, domain_names: list[str]) -> str | None:
    """The listed category a reply value names: by number (0 = other), else by name (exact, or the one listed name
    it contains / is contained in); None when it names none (an invented category)."""
    k = _number(value)
    if k is not None:
        return OTHER if k == 0 else domain_names[k - 1] if 1 <= k <= len(domain_names) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        return None
    v = re.sub(r"\s+", " ", value.strip().lower())
    if v == OTHER:
        return OTHER
    by_name = {n.lower(): n for n in domain_names}
    if v in by_name:
        return by_name[v]
    near = [n for low, n in by_name.items() if low in v or (len(v) >= 4 and v in low)]
    return near[0] if len(near) == 1 else None


# "other" as small models write it, also when they answer a Chinese batch in Chinese
_OTHER_WORDS = {OTHER, "none", "其他", "其它", "无"}


def _bare(text: str) -> str:
    """A key or value without the angle brackets of the prompt's placeholder ("<contract law>": the 1.5B copies
    the shape of {"<tag>": "<domain name>"} into its answer)."""
    text = text.strip()
    return text[1:-1].strip() if len(text) > 2 and text[0] == "<" and text[-1] == ">" else text


class MapResult(dict):
    """tag -> domain name for the tags the reply answered ('other' for 0, "other" or an unlisted category, which are
    counted in ``unknown``); ``left_out``: the tags it did not answer (absent from the dict); ``invented``: the
    unlisted category names the reply used (evidence of a missing domain: "law" for "contract law")."""

    def __init__(self, mapping: dict[str, str], left_out: list[str], unknown: list[str],
                 invented: list[str] | None = None) -> None:
        super().__init__(mapping)
        self.left_out, self.unknown, self.invented = left_out, unknown, invented or []


def parse_map(text: str, tags: list[str], domain_names: list[str]) -> MapResult:
    """tag -> domain name. The prompt asks for names ({"contract law": "business and finance"}): numbering tags and
    categories ({"3": 2}) saved tokens but the packaged 1.5B answered it by counting ({"1": 2, "2": 3, "3": 4, ...})
    or with all zeros, on the demo pool and again when retried (docs/taxonomy.md); numbers, "3. name" keys and
    values are still read. A tag the reply leaves out is not 'other' (it was not judged): it stays unmapped and the
    caller asks again. 0, "other" and an unlisted (invented) category put the tag in 'other'; the invented ones are
    counted apart and their names kept."""
    obj = parse_json_object(text)
    mapping = obj.get("mapping", obj)
    if not isinstance(mapping, dict):
        raise ParseError('expected {"<tag>": "<domain name>"}')
    by_tag = {t.strip().lower(): t for t in tags}
    out: dict[str, str] = {}
    unknown: list[str] = []
    invented: list[str] = []
    numeric = True
    for key, value in mapping.items():
        raw = str(key).strip()
        key_s = raw if raw.lower() in by_tag else _bare(raw)  # a real tag may be "<div>"
        k = _number(key_s)
        tag = tags[k - 1] if k is not None and 1 <= k <= len(tags) and not key_s.lower() in by_tag else None
        tag = tag or by_tag.get(key_s.lower()) or by_tag.get(re.sub(r"^\s*\d+[.):]\s*", "", key_s).lower())
        if tag is None or tag in out:
            continue
        value = _bare(value) if isinstance(value, str) else value
        said_other = isinstance(value, str) and value.lower() in _OTHER_WORDS
        numeric = numeric and _number(value) is not None
        domain = OTHER if said_other else _category(value, domain_names)
        if domain is None:
            unknown.append(tag)
            if isinstance(value, str) and _NAME.match(v := re.sub(r"\s+", " ", value.lower())):
                invented.append(v)
        out[tag] = domain or OTHER
    # No listed domain and only numbers is the numbered prompt's degenerate answer (40 zeros). Names are not:
    # "other" for every tag is fair (the tagger's cut-off fragments, "501(c)(3"; a re-map of tags already in
    # 'other'), and invented names are evidence of a missing domain for the extension. A rejected batch is asked
    # the same prompt next round, which the LLM cache answers the same, so rejecting those would strand the tags.
    if not any(v != OTHER for v in out.values()) and numeric and len(tags) > 1:
        raise ParseError("no tag was given a listed domain; answer with the domain names exactly as listed, not "
                         "numbers")
    return MapResult(out, [t for t in tags if t not in out], unknown, invented)


@dataclass
class DomainMatch:
    """How a re-induced domain list relates to the existing one, judged on the tags both mappings placed."""

    kept: dict[str, str] = field(default_factory=dict)  # new name -> old name (the old id lives on)
    added: list[str] = field(default_factory=list)  # new domains that match no old one
    retired: list[str] = field(default_factory=list)  # old domains that match no new one
    merges: dict[str, list[str]] = field(default_factory=dict)  # new name -> the old domains it absorbed (>= 2)
    splits: dict[str, list[str]] = field(default_factory=dict)  # old name -> the new domains its tags went to (>= 2)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def match_domains(old: dict[str, set], new: dict[str, set], min_jaccard: float = 0.25, share: float = 0.5
                  ) -> DomainMatch:
    """Pair old and new domains by the overlap of their tags: the same name pairs first, then greedily the pairs of
    highest Jaccard similarity (at least ``min_jaccard``), one to one. A new domain holding at least ``share`` of
    each of two or more old domains' tags is a merge of them; an old domain of which two or more new domains are
    made (each at least ``share`` of its tags from it) is split. Unpaired new ones are added, unpaired old ones
    retired: so a merge retires all but one old domain and a split adds all but one new one."""
    m = DomainMatch()
    for name in new:
        if name in old:
            m.kept[name] = name
    pairs = sorted(((jaccard(o_tags, n_tags), o, n) for o, o_tags in old.items() for n, n_tags in new.items()),
                   key=lambda x: (-x[0], x[1], x[2]))
    for j, o, n in pairs:
        if j >= min_jaccard and n not in m.kept and o not in m.kept.values():
            m.kept[n] = o
    for n, n_tags in new.items():
        absorbed = sorted(o for o, o_tags in old.items() if o_tags and len(o_tags & n_tags) / len(o_tags) >= share)
        if len(absorbed) >= 2:
            m.merges[n] = absorbed
    for o, o_tags in old.items():
        parts = sorted(n for n, n_tags in new.items() if n_tags and len(o_tags & n_tags) / len(n_tags) >= share
                       and len(o_tags & n_tags) >= 2)
        if len(parts) >= 2:
            m.splits[o] = parts
    m.added = [n for n in new if n not in m.kept]
    m.retired = [o for o in old if o not in m.kept.values()]
    return m


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
                               target=target_domains(len(item), self.max_domains, self.min_domains))

    def parse_output(self, text: str, item: list[tuple[str, int]]) -> list[dict[str, str]]:
        return parse_induce(text, self.max_domains)


class MapTagsTask(LLMTask[list[str], dict[str, str]]):
    """A batch of fine tags -> tag -> domain name, for the tags the reply answered (``MapResult``)."""

    name, template = "map_tags", "domain_map.j2"

    def __init__(self, role: str, domains: list[dict[str, str]], max_tokens: int | None = None) -> None:
        super().__init__(role, max_tokens)
        self.domains = domains

    def format_input(self, item: list[str]) -> Messages:
        # a Chinese batch was answered with Chinese domain names ("软件开发"), which match no listed name
        foreign = any(not ch.isascii() and ch.isalpha() for tag in item for ch in tag)
        return render_messages(self.template, tags=item, domains=self.domains, foreign=foreign)

    def parse_output(self, text: str, item: list[str]) -> dict[str, str]:
        return parse_map(text, item, [d["name"] for d in self.domains])


class NameClusterTask(LLMTask[list[str], dict[str, str]]):
    """The tags of one embedding cluster -> a domain name and description (the fallback's naming step)."""

    name, template = "name_cluster", "domain_name.j2"

    def format_input(self, item: list[str]) -> Messages:
        return render_messages(self.template, tags=item)

    def parse_output(self, text: str, item: list[str]) -> dict[str, str]:
        return _domain(parse_json_object(text), "the reply")
