"""How well the oracle's named-entity check (tools/named_entities.py) separates findings that name an entity from
those that do not, on the hand-labelled findings in bench/findings_labelled.jsonl (written before the check was
tuned; English and Chinese, people, products, places, organisations and titles). Prints precision and recall per
language and every miss, so a change to the rules shows what it costs.

    python bench/calibrate_entities.py [--file bench/findings_labelled.jsonl] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.named_entities import finding_entities  # noqa: E402


def check(text: str) -> list[str]:
    """As the oracle checks a finding: a row ending in a full stop is a description, any other row one skill phrase
    beside a lower-case sibling (the style the prompt asks for)."""
    if text.rstrip().endswith((".", "。")):
        return finding_entities([], text)
    return finding_entities([text, "general reasoning"], "")


def measure(rows: list[dict]) -> dict:
    out: dict = {"by_lang": {}, "misses": [], "false_alarms": []}
    for lang in sorted({r["lang"] for r in rows}) + ["all"]:
        part = [r for r in rows if lang in ("all", r["lang"])]
        flags = [(bool(check(r["text"])), r["entity"]) for r in part]
        tp = sum(f and e for f, e in flags)
        fp = sum(f and not e for f, e in flags)
        fn = sum(e and not f for f, e in flags)
        out["by_lang"][lang] = {"n": len(part), "with_entity": sum(e for _, e in flags), "tp": tp, "fp": fp, "fn": fn,
                                "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                                "recall": round(tp / (tp + fn), 3) if tp + fn else None}
    for r in rows:
        hits = check(r["text"])
        if r["entity"] and not hits:
            out["misses"].append({"text": r["text"], "kind": r["kind"]})
        if hits and not r["entity"]:
            out["false_alarms"].append({"text": r["text"], "found": hits})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(Path(__file__).with_name("findings_labelled.jsonl")))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    result = measure(rows)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return
    for lang, f in result["by_lang"].items():
        print(f"{lang}: {f['n']} findings, {f['with_entity']} with an entity: precision {f['precision']}, "
              f"recall {f['recall']} (tp {f['tp']}, fp {f['fp']}, fn {f['fn']})")
    for m in result["misses"]:
        print(f"  missed ({m['kind']}): {m['text']}")
    for m in result["false_alarms"]:
        print(f"  false alarm {m['found']}: {m['text']}")


if __name__ == "__main__":
    main()
