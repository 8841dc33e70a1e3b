"""The tagging task: a conversation in, bilingual fine-grained tags out.

Long conversations are cut by a fixed rule so the prompt stays inside a small model's context: the first user
turn keeps ``first_turn_chars``, every later turn ``turn_chars``, and turns are added in order until ``max_chars``
is spent; every cut is marked with "[...]".
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from settings import TaggingSettings
from tools.llm_parse import ParseError, parse_json_object
from tools.llm_task import LLMTask, Messages
from tools.prompts import render_messages

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LIST_SEP = re.compile(r"\s*[，,;；、]\s*")
_TRIM = " \t\r\n\"'`.,;:!?-*#()[]{}<>。，；：！？、“”‘’（）【】《》"
_COARSE = {"knowledge", "language", "question answering", "helpfulness", "text", "general knowledge", "writing",
           "知识", "语言", "问答", "文本"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " [...]"


def conversation_text(messages: list[dict[str, str]], s: TaggingSettings) -> str:
    lines, used, first = [], 0, True
    for m in messages:
        if m["role"] == "system":
            continue
        limit = s.first_turn_chars if first and m["role"] == "user" else s.turn_chars
        first = False
        line = f"{'User' if m['role'] == 'user' else 'Assistant'}: {_cut(m['content'], limit)}"
        if used + len(line) > s.max_chars:
            room = s.max_chars - used
            if room > 80:
                lines.append(_cut(line, room))
            lines.append("[... later turns omitted]")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


# The prompt shows a spread of tags in the right style instead of worked dialogue -> reply examples: the 0.5B
# tagger copied whole example replies into its answers for a third of real conversations (docs/taxonomy.md).
STYLE = [("python programming", "Python编程"), ("sql query optimization", "SQL查询优化"),
         ("probability calculation", "概率计算"), ("persuasive writing", "说服性写作"),
         ("travel itinerary planning", "旅行行程规划"), ("contract law", "合同法"),
         ("character role-play", "角色扮演"), ("nutrition planning", "营养规划"), ("debugging", "调试"),
         ("poetry composition", "诗歌创作"), ("historical analysis", "历史分析"), ("marketing strategy", "营销策略"),
         ("unit conversion", "单位换算"), ("emotional support", "情感支持"), ("translation", "翻译"),
         ("physics concepts", "物理概念")]
_EXAMPLE_SETS = [frozenset(en for en, _ in STYLE)]


def clean_tag(tag: object, lang: str) -> str:
    if not isinstance(tag, str):
        raise ParseError(f"{lang} tag {tag!r} is not a string")
    t = unicodedata.normalize("NFKC", tag).strip(_TRIM)
    t = re.sub(r"\s+", " ", t)
    return t.lower() if lang == "en" else t


def copied_example(tags: list[str], dialogue: str) -> bool:
    """True when the reply repeats a prompt example's tags that the dialogue gives no reason for."""
    words = set(re.findall(r"[a-z]{4,}", dialogue.lower()))
    for ex in _EXAMPLE_SETS:
        shared = [t for t in tags if t in ex]
        if len(shared) >= 2 and len(shared) * 2 >= len(tags):
            grounded = [t for t in shared if set(re.findall(r"[a-z]{4,}", t)) & words]
            if len(grounded) * 2 < len(shared):
                return True
    return False


# Named entities. A tag names a skill or a knowledge area; "stephen hawking" or "world war ii history" name one
# person or event, so they do not generalise (the report's diagnosis step asks the same of deficiencies). No NER
# model is loaded: three signals that hold in English and Chinese, each for a multi-word proper name.
# 1. Casing in the model's raw English output: a run of two or more Capitalised words after a lower-case word of
#    the same tag ("biography of Stephen Hawking"). A tag that is Title Case throughout says nothing (small models
#    write "Data Analysis"), and one capitalised word is allowed: "Python", "SQL", "Excel" are skills' names here.
# 2. The dialogue: the tag repeats two consecutive words of a Capitalised run the dialogue writes mid-sentence
#    ("... the life of Stephen Hawking") or, at a sentence start, one made only of uncommon words ("Stephen
#    Hawking was ..."). Headings ("Step 1: Data Collection") are neither.
# 3. Chinese: a transliteration dot (斯蒂芬·霍金), title marks (《红楼梦》) in the raw tag, a title the dialogue
#    puts in 《》, a Capitalised Latin run; and the Chinese tag at the position of an English entity tag.
# Runs made only of common skill words ("Machine Learning", "Human Resources") are never names.
_COMMON = frozenset("""a an the of and or for to in on with by at from as is are be how what why when which who
write writing written creative story poem essay letter email report summary summarize translate translation data
science scientific machine learning deep neural network networks computer computing software hardware web website
development developer design designer analysis analytics analyst management manager marketing business finance
financial economics accounting human resources history historical language languages english chinese french
spanish math mathematics mathematical statistics statistical physics chemistry biology medicine medical health
care public social media engineering engineer research project product customer service services security safety
artificial intelligence natural processing information technology system systems database cloud digital content
strategy planning education teaching law legal policy support user experience interface quality assurance supply
chain real estate step introduction chapter part section conclusion overview example examples question answer task
note final key points title table figure best practices general basic advanced guide tips new old great big small
high low first second third next last part studies study theory practice skills skill programming code coding
algorithm algorithms structure structures operating application applications mobile game games video music art arts
film literature culture religion philosophy psychology sociology political science geography environmental energy
climate food cooking travel sports fitness nutrition relationship relationships personal professional career job
resume interview school university college student students class course online office excel word
please help me my your our tell give make explain describe list create generate market sales budget team
company brand price home house family life world plan plans trip city country""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|[^\sA-Za-z]")
_ROMAN = re.compile(r"^(?:II|III|IV|VI|VII|VIII|IX|XI|XII|XX)$")
_CONNECT = {"of", "the", "de", "da", "von", "van", "der", "du", "la", "&"}
_STARTS = {"", ".", "!", "?", ":", "-", "*", '"', "“", "(", "#"}  # "User: Stephen Hawking was ...", bullets
_TITLE_MARK = re.compile(r"《([^《》]{2,30})》")


def _is_title(tok: str) -> bool:
    return bool(_ROMAN.match(tok) or re.match(r"^[A-Z][a-z'’]+(?:-[A-Z]?[a-z]+)*$", tok))


def _runs(text: str) -> list[tuple[list[str], str]]:
    """Capitalised runs (2+ capitalised words, connectors inside) with what precedes them: 'lower' (a lower-case
    word), 'start' (line or sentence start) or 'other' (a number, a colon, a heading mark)."""
    out = []
    for line in text.splitlines():
        toks = _WORD.findall(line)
        k = 0
        while k < len(toks):
            if not _is_title(toks[k]):
                k += 1
                continue
            j, run = k, []
            while j < len(toks) and (_is_title(toks[j]) or (toks[j].lower() in _CONNECT and run and j + 1 < len(toks)
                                                               and _is_title(toks[j + 1]))):
                run.append(toks[j])
                j += 1
            if sum(_is_title(t) for t in run) >= 2:
                prev = toks[k - 1] if k else ""
                where = "lower" if re.match(r"^[a-z]", prev) else "start" if prev in _STARTS else "other"
                out.append((run, where))
            k = max(j, k + 1)
    return out


def _name_like(run: list[str], strict: bool) -> bool:
    words = [t.lower() for t in run if _is_title(t)]
    uncommon = [w for w in words if w not in _COMMON]
    return len(uncommon) == len(words) if strict else bool(uncommon)


def dialogue_names(dialogue: str) -> set[tuple[str, str]]:
    """Consecutive word pairs of the proper names a dialogue writes (lower-cased), for ``entity_reason``."""
    pairs: set[tuple[str, str]] = set()
    for run, where in _runs(dialogue):
        if (where == "lower" and _name_like(run, False)) or (where == "start" and _name_like(run, True)):
            low = [t.lower() for t in run]
            pairs |= {(a, b) for a, b in zip(low, low[1:]) if a not in _COMMON or b not in _COMMON}
    return pairs


def entity_reason(raw: str, lang: str, names: set[tuple[str, str]], titles: set[str]) -> str:
    """Why a raw tag (before cleaning) names an entity, or ''."""
    latin = " ".join(re.findall(r"[A-Za-z][A-Za-z'’ -]*", raw)) if lang == "zh" else raw
    for run, where in _runs(latin):
        if (lang == "zh" or where == "lower") and _name_like(run, False):
            return f'"{" ".join(run)}" is a proper name'
    if lang == "zh" and (re.search(r"[\u3400-\u9fff][·•・][\u3400-\u9fff]", raw) or re.search(r"[《「『]", raw)):
        return "a transliterated name or a title"
    if lang == "zh" and any(t in raw for t in titles):
        return "a title from the dialogue"
    words = re.findall(r"[a-z0-9'’-]+", raw.lower())
    hit = [f"{a} {b}" for a, b in zip(words, words[1:]) if (a, b) in names]
    return f'"{hit[0]}" is a name from the dialogue' if hit else ""


def parse_tags(text: str, s: TaggingSettings, dialogue: str = "") -> dict:
    """Strict shape: an object with 'en' and 'zh' lists of strings. Single bad tags (too long, wrong script, a named
    entity, too coarse) are dropped and counted under ``dropped`` (reason -> count); the reply is rejected when
    fewer than ``min_tags`` good tags remain in either language, with the reasons, so the repair prompt can say
    what was wrong."""
    obj = parse_json_object(text)
    out: dict = {}
    dropped: Counter = Counter()
    names, titles = dialogue_names(dialogue), set(_TITLE_MARK.findall(dialogue))
    raws: dict[str, list] = {}
    for lang in ("en", "zh"):
        raw = obj.get(lang)
        if not isinstance(raw, list):
            raise ParseError(f'"{lang}" must be a list of tags, got {type(raw).__name__}')
        # Small models often put a whole list into one string ("回收，环境影响"): split it back into tags.
        raws[lang] = [part for item in raw for part in (_LIST_SEP.split(item) if isinstance(item, str) else [item])]
    en_entities = [isinstance(r, str) and bool(entity_reason(r, "en", names, titles)) for r in raws["en"]]
    for lang in ("en", "zh"):
        tags: list[str] = []
        problems: list[str] = []
        paired = len(raws["en"]) == len(raws["zh"])  # same order in both languages: a translation per position
        for pos, item in enumerate(raws[lang]):
            tag = clean_tag(item, lang)
            if not tag or tag in tags:
                continue
            if tag in _COARSE:
                dropped["coarse"] += 1
                continue
            has_cjk = bool(_CJK.search(tag))
            entity = entity_reason(item, lang, names, titles) or (
                "the translation of an English entity tag" if lang == "zh" and paired and en_entities[pos] else "")
            if len(tag) > s.max_tag_chars:
                dropped["too_long"] += 1
                problems.append(f"{lang} tag too long ({len(tag)} chars): tags are short noun phrases")
            elif entity:
                dropped["named_entity"] += 1
                problems.append(f'{lang} tag "{tag}" names an entity ({entity}): tag the skill, not the name')
            elif lang == "zh" and not has_cjk and tag.lower() not in out.get("en", []):
                dropped["wrong_script"] += 1
                problems.append(f'zh tag "{tag}" is not written in Chinese')
            elif lang == "en" and has_cjk:
                dropped["wrong_script"] += 1
                problems.append(f'en tag "{tag}" contains Chinese characters')
            else:
                tags.append(tag)
        if len(tags) < s.min_tags:
            detail = "; ".join(problems[:3]) or f"got {len(tags)}"
            raise ParseError(f'"{lang}" needs {s.min_tags} to {s.max_tags} good tags: {detail}')
        if lang == "zh" and not any(_CJK.search(t) for t in tags):
            raise ParseError("zh tags must be written in Chinese (an untranslatable term may stay as in English)")
        out[lang] = tags[: s.max_tags]
    if dialogue and copied_example(out["en"], dialogue):
        raise ParseError("these tags are copied from the style list in the instructions; tag the dialogue you "
                         "were given")
    out["dropped"] = dict(dropped)
    return out


class TagTask(LLMTask[Messages, dict]):
    """Conversation -> {"en": [...], "zh": [...], "dropped": {reason: n}} (the tagger role, JSON mode)."""

    name, template = "tag", "tagger.j2"

    def __init__(self, settings: TaggingSettings, role: str = "tagger") -> None:
        super().__init__(role)
        self.settings = settings

    def format_input(self, item: Messages) -> Messages:
        s = self.settings
        return render_messages(self.template, dialogue=conversation_text(item, s), min_tags=s.min_tags,
                               max_tags=s.max_tags, style=STYLE)

    def parse_output(self, text: str, item: Messages) -> dict:
        return parse_tags(text, self.settings, conversation_text(item, self.settings))
