"""The tagging task: a conversation in, bilingual fine-grained tags out.

Long conversations are cut by a fixed rule so the prompt stays inside a small model's context: the first user
turn keeps ``first_turn_chars``, every later turn ``turn_chars``, and turns are added in order until ``max_chars``
is spent; every cut is marked with "[...]".
"""
from __future__ import annotations

import re
import unicodedata

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


def parse_tags(text: str, s: TaggingSettings, dialogue: str = "") -> dict[str, list[str]]:
    """Strict shape: an object with 'en' and 'zh' lists of strings. Single bad tags (too long, wrong script) are
    dropped; the reply is rejected when fewer than ``min_tags`` good tags remain in either language, with the
    reasons, so the repair prompt can say what was wrong."""
    obj = parse_json_object(text)
    out: dict[str, list[str]] = {}
    for lang in ("en", "zh"):
        raw = obj.get(lang)
        if not isinstance(raw, list):
            raise ParseError(f'"{lang}" must be a list of tags, got {type(raw).__name__}')
        tags: list[str] = []
        problems: list[str] = []
        # Small models often put a whole list into one string ("回收，环境影响"): split it back into tags.
        raw = [part for item in raw for part in (_LIST_SEP.split(item) if isinstance(item, str) else [item])]
        for item in raw:
            tag = clean_tag(item, lang)
            if not tag or tag in tags or tag in _COARSE:
                continue
            has_cjk = bool(_CJK.search(tag))
            if len(tag) > s.max_tag_chars:
                problems.append(f"{lang} tag too long ({len(tag)} chars): tags are short noun phrases")
            elif lang == "zh" and not has_cjk and tag.lower() not in out.get("en", []):
                problems.append(f'zh tag "{tag}" is not written in Chinese')
            elif lang == "en" and has_cjk:
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
    return out


class TagTask(LLMTask[Messages, dict[str, list[str]]]):
    """Conversation -> {"en": [...], "zh": [...]} (the tagger role, JSON mode)."""

    name, template = "tag", "tagger.j2"

    def __init__(self, settings: TaggingSettings, role: str = "tagger") -> None:
        super().__init__(role)
        self.settings = settings

    def format_input(self, item: Messages) -> Messages:
        s = self.settings
        return render_messages(self.template, dialogue=conversation_text(item, s), min_tags=s.min_tags,
                               max_tags=s.max_tags, style=STYLE)

    def parse_output(self, text: str, item: Messages) -> dict[str, list[str]]:
        return parse_tags(text, self.settings, conversation_text(item, self.settings))
