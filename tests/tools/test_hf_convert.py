"""GGUF -> cached bf16 Hugging Face folder with torch + transformers (SmolLM2-135M)."""
import pytest

from tools.hf_convert import ensure_hf_folder


@pytest.mark.llm
def test_convert_once_then_reload_fast(assets):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = ensure_hf_folder(assets, "smollm2-135m")
    marker = (folder / "iloop-converted.json").stat().st_mtime_ns
    assert ensure_hf_folder(assets, "smollm2-135m") == folder
    assert (folder / "iloop-converted.json").stat().st_mtime_ns == marker  # second call reused the folder
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    ids = tok("The capital of France is Paris.", return_tensors="pt").input_ids
    with torch.no_grad():
        loss = model(ids, labels=ids).loss.item()
    # A working 135M model finds this sentence easy; random weights would give ~ln(49152) = 10.8.
    assert 0.5 < loss < 6.0


def test_non_gguf_asset_is_refused(assets):
    from tools.assets import AssetError
    with pytest.raises(AssetError, match="not a packaged GGUF"):
        ensure_hf_folder(assets, "sharegpt")
