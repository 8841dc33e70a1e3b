"""The embedder interface on the real models: the default USE (cross-lingual) and the packaged MiniLM, with vectors
cached in a real Chroma store."""
import numpy as np
import pytest

from settings import EmbeddingSettings
from state.vectors import VectorStore, collection_name
from tools.embedder import PRESETS, Embedder, text_id
from tools.projection import Projection, ProjectionError


@pytest.fixture(scope="module")
def embedder(assets):
    return Embedder(EmbeddingSettings(), assets)


@pytest.fixture(scope="module")
def minilm(assets):
    return Embedder(EmbeddingSettings(model="minilm-l6-v2"), assets)


def test_the_default_is_the_multilingual_use_with_512_unit_vectors(embedder):
    assert embedder.name == "use-multilingual-v3" == EmbeddingSettings().model
    v = embedder.encode(["How do I sort a list in Python?", "Sorting a Python list", "Recipe for banana bread"])
    assert v.shape == (3, 512) == (3, embedder.dim) == (3, PRESETS["use-multilingual-v3"].dim)
    assert v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]


def test_a_translation_scores_higher_than_an_unrelated_pair_with_use_and_not_with_minilm(embedder, minilm):
    en, zh, other = "write a quicksort function in python", "用Python写一个快速排序函数", "给我推荐一部科幻电影"
    u = embedder.encode([en, zh, other])
    assert u[0] @ u[1] > 0.6 and u[0] @ u[1] > u[0] @ u[2] + 0.3
    # Unrelated Chinese tags: USE tells them apart, MiniLM (English only) reads them alike.
    tags = ["交通", "气候", "笑话"]
    assert (embedder.encode(tags) @ embedder.encode(tags).T)[np.triu_indices(3, 1)].max() < 0.8
    assert (minilm.encode(tags) @ minilm.encode(tags).T)[np.triu_indices(3, 1)].min() > 0.95


def test_minilm_and_sentence_transformers_folders_stay_selectable(minilm, assets):
    assert minilm.name == "minilm-l6-v2" and minilm.dim == 384 and minilm.encode(["python"]).shape == (1, 384)
    folder = Embedder(EmbeddingSettings(model=str(assets.path("minilm-l6-v2"))), assets)  # a folder on disk
    assert folder.name == "minilm-l6-v2" and folder.model is minilm.model


def test_cache_embeds_only_new_texts_and_survives_reopen(embedder, tmp_path):
    vs = VectorStore(tmp_path / "chroma")
    name = collection_name("tags", embedder.name)
    texts = ["python", "cooking", "calculus"]
    assert embedder.encode_cached(vs, name, [text_id(t) for t in texts], texts) == 3
    texts2 = texts + ["poetry"]
    assert embedder.encode_cached(vs, name, [text_id(t) for t in texts2], texts2) == 1
    reopened = VectorStore(tmp_path / "chroma")
    assert reopened.count(name) == 4
    (hits,) = reopened.query(name, embedder.encode(["微积分"]), k=1)  # Chinese query, English neighbour
    assert hits[0][0] == text_id("calculus") and 0 < hits[0][1] <= 1


def test_vectors_of_two_models_never_mix(embedder, minilm, tmp_path):
    # Each model has its own collections, Chroma refuses another model's dimension in a collection, and the stored
    # projection refuses vectors of another model.
    assert collection_name("conversations", embedder.name) != collection_name("conversations", minilm.name)
    vs = VectorStore(tmp_path / "chroma")
    name = collection_name("tags", embedder.name)
    vs.upsert(name, ["a"], embedder.encode(["python"]))
    with pytest.raises(Exception, match="dimension"):
        vs.upsert(name, ["b"], minilm.encode(["python"]))
    proj = Projection.fit(embedder.encode(["python", "cooking", "calculus", "poetry"]), embedder.name)
    with pytest.raises(ProjectionError, match="use-multilingual-v3"):
        proj.transform(minilm.encode(["python"]))


def test_unknown_model_setting_is_a_clear_error(assets):
    with pytest.raises(FileNotFoundError, match="neither a preset .*use-multilingual-v3"):
        Embedder(EmbeddingSettings(model="/nowhere/bge"), assets)


def test_a_second_embedder_of_the_process_shares_the_model_and_the_vectors(embedder, assets):
    texts = ["a text only this test encodes: quokka census", "and another: wombat tax law"]
    first = embedder.encode(texts + texts[:1])
    other = Embedder(EmbeddingSettings(), assets)
    assert other.model is embedder.model
    again = other.encode(texts)
    assert other.encoded == 0 and np.array_equal(again, first[:2]) and np.array_equal(first[0], first[2])
