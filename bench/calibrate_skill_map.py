"""Calibrate ``diagnosis.map_presets`` (missing skill -> nearest canonical tag) per embedding model on the labelled
skill phrases of bench/skill_map_labelled.json.

    python bench/calibrate_skill_map.py [--models use-multilingual-v3 minilm-l6-v2] [--json]

Each phrase was labelled by hand before any threshold was measured: the vocabulary tag that names the same skill
(``tag``), broader tags a mapping may land on without being wrong (``also``), or none (``tag`` null: the phrase
should become a candidate tag). At threshold t a phrase maps to its nearest tag when the cosine is >= t, as
tools/skill_map.py does. Per t it counts right outcomes, wrong maps (to a tag the label does not accept: the
synthesizer would then write for the wrong skill) and missed maps (a phrase with a same-skill tag left a candidate:
a duplicate skill in the ledger), and picks the t with the fewest errors, a wrong map counting twice as much as a
missed one (ties: the higher t). docs/diagnosis.md reports the run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from settings import EmbeddingSettings  # noqa: E402
from tools.assets import AssetStore  # noqa: E402
from tools.embedder import Embedder  # noqa: E402

HERE = Path(__file__).resolve().parent
THRESHOLDS = [round(0.40 + 0.025 * k, 3) for k in range(21)]  # 0.40 .. 0.90


def outcomes(pairs: list[dict], tags: list[str], sims: np.ndarray, t: float) -> dict:
    """Right / wrong-map / missed counts at threshold t, with the wrong and missed phrases."""
    out = {"t": t, "right": 0, "wrong_map": [], "missed": []}
    for p, row in zip(pairs, sims):
        k = int(np.argmax(row))
        nearest, mapped = tags[k], bool(row[k] >= t)
        accepted = ({p["tag"]} if p["tag"] else set()) | set(p["also"])
        if mapped and nearest not in accepted:
            out["wrong_map"].append(f"{p['skill']} -> {nearest} ({row[k]:.3f})")
        elif not mapped and p["tag"]:
            out["missed"].append(f"{p['skill']} (nearest {nearest} {row[k]:.3f}, label {p['tag']})")
        else:
            out["right"] += 1
    return out


def cost(o: dict) -> int:
    return 2 * len(o["wrong_map"]) + len(o["missed"])


def report(model: str, data: dict, assets: AssetStore) -> dict:
    emb = Embedder(EmbeddingSettings(model=model), assets)
    pairs, tags = data["pairs"], data["tags"]
    sims = emb.encode([p["skill"] for p in pairs]) @ emb.encode(tags).T
    table = [outcomes(pairs, tags, sims, t) for t in THRESHOLDS]
    best = min(table, key=lambda o: (cost(o), -o["t"]))
    nearest_right = sum(tags[int(np.argmax(r))] in ({p["tag"]} | set(p["also"])) for p, r in zip(pairs, sims)
                        if p["tag"])
    return {"model": model, "phrases": len(pairs), "with_tag": sum(bool(p["tag"]) for p in pairs),
            "nearest_is_accepted": nearest_right, "best": best,
            "table": [{"t": o["t"], "right": o["right"], "wrong_map": len(o["wrong_map"]), "missed": len(o["missed"])}
                      for o in table]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["use-multilingual-v3", "minilm-l6-v2"])
    ap.add_argument("--assets", default=str(Path(__file__).resolve().parents[1] / ".iloop-assets"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = json.loads((HERE / "skill_map_labelled.json").read_text(encoding="utf-8"))
    results = [report(m, data, AssetStore(Path(args.assets))) for m in args.models]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for r in results:
        print(f"\n== {r['model']}: {r['phrases']} phrases, {r['with_tag']} with a same-skill tag; the nearest tag is "
              f"an accepted one for {r['nearest_is_accepted']} of them")
        print(f"{'t':>6} {'right':>5} {'wrong map':>9} {'missed':>6}")
        for row in r["table"]:
            print(f"{row['t']:6.3f} {row['right']:5d} {row['wrong_map']:9d} {row['missed']:6d}")
        b = r["best"]
        print(f"best t {b['t']}: {b['right']} right, {len(b['wrong_map'])} wrong maps, {len(b['missed'])} missed")
        for w in b["wrong_map"]:
            print(f"  wrong map: {w}")
        for m in b["missed"]:
            print(f"  missed: {m}")


if __name__ == "__main__":
    main()
