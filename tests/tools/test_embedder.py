"""The packaged MiniLM through sentence-transformers, with vectors cached in a real Chroma store."""
import numpy as np
import pytest

from state.vectors import VectorStore, collection_name
from tools.embedder import Embedder, text_id


@pytest.fixture(scope="module")
def embedder(assets):
    from settings import EmbeddingSettings
    return Embedder(EmbeddingSettings(), assets)


def test_similar_texts_are_closer_than_unrelated(embedder):
    v = embedder.encode(["How do I sort a list in Python?", "Sorting a Python list", "Recipe for banana bread"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]


def test_cache_embeds_only_new_texts_and_survives_reopen(embedder, tmp_path):
    vs = VectorStore(tmp_path / "chroma")
    name = collection_name("tags", "minilm-l6-v2")
    texts = ["python", "cooking", "calculus"]
    assert embedder.encode_cached(vs, name, [text_id(t) for t in texts], texts) == 3
    texts2 = texts + ["poetry"]
    assert embedder.encode_cached(vs, name, [text_id(t) for t in texts2], texts2) == 1
    reopened = VectorStore(tmp_path / "chroma")
    assert reopened.count(name) == 4
    (hits,) = reopened.query(name, embedder.encode(["differential equations"]), k=1)
    assert hits[0][0] == text_id("calculus") and 0 < hits[0][1] <= 1


def test_unknown_model_setting_is_a_clear_error(assets):
    from settings import EmbeddingSettings
    with pytest.raises(FileNotFoundError, match="neither a packaged asset"):
        Embedder(EmbeddingSettings(model="/nowhere/bge"), assets)


def test_a_second_embedder_of_the_process_shares_the_model_and_the_vectors(embedder, assets):
    from settings import EmbeddingSettings
    texts = ["a text only this test encodes: quokka census", "and another: wombat tax law"]
    first = embedder.encode(texts + texts[:1])
    other = Embedder(EmbeddingSettings(), assets)
    assert other.model is embedder.model
    again = other.encode(texts)
    assert other.encoded == 0 and np.array_equal(again, first[:2]) and np.array_equal(first[0], first[2])
