"""GGUF -> bf16 Hugging Face folder, built once per model on first need and cached under the assets dir.

Loading a GGUF through transformers dequantises it (20-80 s); the saved bf16 folder reloads in seconds.
"""
from __future__ import annotations

import logging
import json
import os
from pathlib import Path

from tools.assets import ASSETS, AssetError, AssetStore

logger = logging.getLogger(__name__)


def hf_folder(store: AssetStore, name: str) -> Path:
    return store.root / "hf" / name


def ensure_hf_folder(store: AssetStore, name: str) -> Path:
    if name not in ASSETS or ASSETS[name].kind != "gguf":
        raise AssetError(f"{name!r} is not a packaged GGUF model")
    folder = hf_folder(store, name)
    done = folder / "iloop-converted.json"
    if done.exists():
        return folder
    gguf = store.path(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - torch/transformers are core dependencies
        raise AssetError(f"converting {name} needs torch and transformers: {exc}") from exc
    logger.info("converting %s to a bf16 Hugging Face folder (one time)", gguf.name)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    # A GGUF-loaded model keeps its quantizer; save_pretrained refuses until both are cleared.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    (tmp / "iloop-converted.json").write_text(json.dumps({"from": gguf.name, "sha256": ASSETS[name].sha256}))
    if folder.exists():
        import shutil
        shutil.rmtree(folder)
    tmp.replace(folder)
    return folder
