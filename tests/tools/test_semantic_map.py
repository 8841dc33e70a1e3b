"""The fixed t-SNE map: fitted once, saved, places later points deterministically, each point placed once."""
import numpy as np
import pytest

from state.vectors import VectorStore
from tools.projection import ProjectionError
from tools.semantic_map import place
from tools.tsne_map import TsneMap


def clusters(n=60, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 6
    return np.concatenate([c + rng.normal(size=(n // 3, d)) for c in centres]).astype(np.float32), centres


def test_fit_save_load_and_place_new_points_near_their_cluster(tmp_path):
    x, centres = clusters()
    m = TsneMap.fit(x, "synthetic", seed=1)
    fitted = np.asarray(m.embedding).copy()  # before any transform: the frame the fitted places are cached in
    assert m.fitted_on == 60 and m.perplexity == pytest.approx(59 / 3) and m.kind == "tsne"
    m.save(tmp_path / "m.pkl")
    again = TsneMap.load(tmp_path / "m.pkl")
    new = (centres + np.random.default_rng(5).normal(size=centres.shape) * 0.5).astype(np.float32)
    a, b = m.transform(new), again.transform(new)
    assert np.allclose(a, b)  # deterministic, and the same after a reload
    assert np.allclose(np.asarray(m.embedding), fitted)  # placing points did not move the fitted ones
    for k in range(3):  # each new point lands among the fitted points of its own cluster
        own = fitted[k * 20:(k + 1) * 20].mean(axis=0)
        others = [fitted[j * 20:(j + 1) * 20].mean(axis=0) for j in range(3) if j != k]
        assert np.linalg.norm(a[k] - own) < min(np.linalg.norm(a[k] - o) for o in others)
    cells = m.cells(a, 200)
    assert ((cells >= 0) & (cells < 200 * 200)).all()
    with pytest.raises(ProjectionError, match="do not fit"):
        m.transform(np.zeros((2, 5)))
    with pytest.raises(ProjectionError, match="at least 5"):
        TsneMap.fit(x[:3], "synthetic")


def test_each_point_is_placed_once_and_cached_in_sql(store, tmp_path, monkeypatch):
    x, _ = clusters()
    vectors = VectorStore(tmp_path / "chroma")
    hashes = [f"h{k}" for k in range(len(x))]
    vectors.upsert("map-test", hashes, x)
    m = TsneMap.fit(x[:45], "synthetic")
    first = place(store, vectors, "map-test", m, hashes[40:] + ["missing"])
    assert np.isnan(first[-1]).all() and not np.isnan(first[:-1]).any()
    monkeypatch.setattr(TsneMap, "transform", lambda self, v: (_ for _ in ()).throw(AssertionError("placed twice")))
    assert np.allclose(place(store, vectors, "map-test", m, hashes[40:]), first[:-1])
