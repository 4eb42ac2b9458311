"""LSAR (language-subspace removal) and exporting alignments that load without xlalign."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors import safe_open

from xlalign.align import standalone_apply
from xlalign.align.centering import LanguageCentering
from xlalign.align.lsar import LanguageSubspaceRemoval, best_rank, choose_rank, write_linear_model
from xlalign.align.procrustes import OrthogonalProcrustes
from xlalign.align.transform import LanguageAwareTransform, write_language_transform
from xlalign.core.encoder import l2_normalise
from xlalign.store.export import render_model_card

TEXTS = {
    "en": ["Cats purr when content.", "The Nile is a long river.", "Bread is baked in an oven.",
           "Trains run on rails.", "The sun rises in the east.", "Bees make honey."],
    "de": ["Katzen schnurren, wenn sie zufrieden sind.", "Der Nil ist ein langer Fluss.",
           "Brot wird im Ofen gebacken.", "Züge fahren auf Schienen.", "Die Sonne geht im Osten auf.",
           "Bienen machen Honig."],
    "fr": ["Les chats ronronnent.", "Le Nil est un long fleuve.", "Le pain est cuit au four.",
           "Les trains roulent sur des rails.", "Le soleil se lève à l'est.", "Les abeilles font du miel."],
}


def planted(n: int = 40, d: int = 16, langs: tuple[str, ...] = ("en", "de", "fr"), seed: int = 0,
            scale: float = 2.0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """x_{i,l} = s_i + v_l: shared semantic rows plus one random direction per language."""
    rng = np.random.default_rng(seed)
    sem = rng.normal(size=(n, d))
    return {lang: sem + scale * rng.normal(size=d) for lang in langs}, sem


def row_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (l2_normalise(a) * l2_normalise(b)).sum(axis=1)


# ----------------------------------------------------------------------------- LSAR
def test_lsar_removes_a_planted_language_offset_exactly():
    by_lang, _ = planted()
    assert row_cos(by_lang["en"], by_lang["de"]).min() < 0.99
    est = LanguageSubspaceRemoval().fit({("passage", lang): x for lang, x in by_lang.items()})
    assert est.max_rank_ == est.rank_ == 2  # 3 languages → L − 1 = 2 directions
    out = {lang: est.transform(x) for lang, x in by_lang.items()}
    for a, b in (("en", "de"), ("en", "fr"), ("de", "fr")):
        np.testing.assert_allclose(row_cos(out[a], out[b]), 1.0, atol=1e-6)
    assert out["en"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out["en"], axis=1), 1.0, atol=1e-6)


def test_lsar_query_and_passage_means_sharing_directions_keep_rank_at_the_true_subspace():
    passages, _ = planted(seed=1)
    queries = {lang: x[:10] for lang, x in passages.items()}  # other semantic means, same language offsets
    est = LanguageSubspaceRemoval().fit({**{("passage", k): v for k, v in passages.items()},
                                         **{("query", k): v for k, v in queries.items()}})
    assert est.max_rank_ == 2  # Σ (L − 1) = 4 columns of freedom, but the offsets span only 2 directions
    assert est.languages_ == {"passage": ["de", "en", "fr"], "query": ["de", "en", "fr"]}


def test_lsar_projection_is_symmetric_idempotent_and_components_orthonormal():
    by_lang, _ = planted(langs=("en", "de", "fr", "es"))
    est = LanguageSubspaceRemoval(rank=2).fit({("passage", k): v for k, v in by_lang.items()})
    p = est.projection_matrix()
    assert p.shape == (16, 16)
    np.testing.assert_allclose(p, p.T, atol=1e-12)
    np.testing.assert_allclose(p @ p, p, atol=1e-12)
    u = est.components_
    assert u.shape == (16, 3)
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-12)
    assert np.all(np.diff(est.singular_values_) <= 0)
    assert np.trace(p) == pytest.approx(16 - 2)
    x = by_lang["es"]
    np.testing.assert_allclose(est.transform(x), l2_normalise(x @ p), atol=1e-6)


def test_lsar_rank_bounds_and_with_rank():
    data = {("passage", k): v for k, v in planted()[0].items()}
    with pytest.raises(ValueError, match=r"rank=3.*maximum rank 2"):
        LanguageSubspaceRemoval(rank=3).fit(data)
    full = LanguageSubspaceRemoval().fit(data)
    one = full.with_rank(1)
    assert (one.rank_, one.max_rank_, full.rank_) == (1, 2, 2)
    np.testing.assert_array_equal(one.components_, full.components_)
    np.testing.assert_allclose(one.projection_matrix(), np.eye(16) - np.outer(full.components_[:, 0], full.components_[:, 0]))
    np.testing.assert_allclose(LanguageSubspaceRemoval(rank=1).fit(data).projection_matrix(), one.projection_matrix(),
                               atol=1e-12)
    for bad in (0, 3):
        with pytest.raises(ValueError, match=r"1 ≤ rank ≤ max_rank_ = 2"):
            full.with_rank(bad)


@pytest.mark.parametrize("rank", [0, -1, 1.5, True])
def test_lsar_rejects_invalid_rank_hyperparameter(rank):
    with pytest.raises(ValueError, match="rank must be a positive int"):
        LanguageSubspaceRemoval(rank=rank)


def test_lsar_unfitted_is_a_clear_error():
    est = LanguageSubspaceRemoval()
    for call in (lambda: est.transform(np.zeros((1, 4))), est.projection_matrix, lambda: est.with_rank(1)):
        with pytest.raises(RuntimeError, match="not fitted"):
            call()


def test_lsar_passages_only_fit_and_single_language_query_role_is_ignored():
    by_lang, _ = planted()
    data = {("passage", k): v for k, v in by_lang.items()}
    data[("query", "en")] = by_lang["en"][:5]  # one query language: no contrast, skipped
    est = LanguageSubspaceRemoval().fit(data)
    assert est.max_rank_ == 2
    assert est.languages_["query"] == ["en"]


def test_lsar_save_load_round_trip(tmp_path):
    by_lang, _ = planted()
    est = LanguageSubspaceRemoval(rank=1).fit({("passage", k): v for k, v in by_lang.items()})
    est.save(tmp_path / "lsar.safetensors")
    back = LanguageSubspaceRemoval.load(tmp_path / "lsar.safetensors")
    assert (back.rank, back.rank_, back.max_rank_, back.languages_) == (1, 1, 2, est.languages_)
    np.testing.assert_allclose(back.transform(by_lang["de"]), est.transform(by_lang["de"]), atol=1e-6)
    assert back.with_rank(2).rank_ == 2
    LanguageCentering(mode="subtract").fit(by_lang).save(tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="not a saved LanguageSubspaceRemoval"):
        LanguageSubspaceRemoval.load(tmp_path / "c.safetensors")


_X = np.ones((3, 4))
_Y = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize(("data", "msg"), [
    ({}, "no embeddings"),
    ({"en": _X, "de": _Y}, r"\(role, lang\) tuples"),
    ({("doc", "en"): _X, ("doc", "de"): _Y}, "unknown role 'doc'"),
    ({("passage", "en"): np.ones(4), ("passage", "de"): _Y}, r"non-empty \(n, d\) matrix"),
    ({("passage", "en"): np.ones((0, 4)), ("passage", "de"): _Y}, r"non-empty \(n, d\) matrix"),
    ({("passage", "en"): np.full((3, 4), np.nan), ("passage", "de"): _Y}, "NaN or infinite"),
    ({("passage", "en"): np.full((3, 4), np.inf), ("passage", "de"): _Y}, "NaN or infinite"),
    ({("passage", "en"): np.ones((3, 5)), ("passage", "de"): _Y}, "different dimensions"),
    ({("passage", "en"): _X, ("query", "de"): _Y}, "at least 2 languages"),
    ({("passage", "en"): _Y, ("passage", "de"): _Y.copy()}, "identical"),
])
def test_lsar_fit_rejects_invalid_input(data, msg):
    with pytest.raises(ValueError, match=msg):
        LanguageSubspaceRemoval().fit(data)


def test_lsar_transform_rejects_wrong_dimension():
    est = LanguageSubspaceRemoval().fit({("passage", k): v for k, v in planted()[0].items()})
    with pytest.raises(ValueError, match=r"expected \(n, 16\)"):
        est.transform(np.ones((2, 8)))


# ----------------------------------------------------------------------------- the rank chosen on held-out data
def _curve(max_r: list[float]) -> list[dict[str, float]]:
    return [{"rank": r, "multi_max_r": m, "multi_complete@10": 50.0} for r, m in enumerate(max_r)]


@pytest.mark.parametrize(("max_r", "chosen"), [
    ([5.0, 8.95, 2.0], 2),  # the lowest Max@R, not the highest (8.95 at rank 1)
    ([5.0, 2.0, 8.95], 1),
    ([9.0, 4.0, 3.0, 3.0, 6.0], 2),  # a tie goes to the smaller rank
    ([9.0, 4.0, 3.0 + 1e-12, 3.0, 6.0], 2),  # so does float noise below 1e-9
    ([9.0, 4.0, 3.0 + 1e-6, 3.0, 6.0], 3),  # a real difference does not
    ([1.0, 4.0, 3.0], 2),  # rank 0 (no removal) is the reference, never chosen
    ([1.0, 4.0], 1),
])
def test_lsar_rank_is_the_argmin_of_held_out_max_r(max_r, chosen):
    assert best_rank(_curve(max_r)) == chosen


def test_lsar_rank_needs_a_rank_above_zero():
    with pytest.raises(ValueError, match="no rank ≥ 1"):
        best_rank(_curve([3.0]))


def test_lsar_choose_rank_walks_every_rank_and_keeps_the_lowest(monkeypatch):
    """choose_rank on the demo with a fake evaluation whose held-out Max@R per rank is known (5, 8.95, 2 for
    ranks 0, 1, 2): it evaluates r = 0 … max_rank once each, in order, records the curve and picks rank 2."""
    from fakes import BagOfCharsEncoder

    import xlalign.core.evaluate as evaluate
    from xlalign.align.base import TrainingData
    from xlalign.core.loaders import load_demo
    from xlalign.progress import silent
    from xlalign.specs import EvalSpec

    known = {0: (5.0, 40.0), 1: (8.95, 30.0), 2: (2.0, 60.0)}
    calls: list[int] = []

    class FakeResult:
        def __init__(self, rank: int) -> None:
            self.rank = rank

        def value(self, scenario: str, query_lang: str, metric: str) -> float:
            assert scenario == "multi" and query_lang in ("en", "de", "es")
            return known[self.rank][0 if metric == "max_r" else 1]

    def fake_evaluate(corpus, emb, spec):
        calls.append(len(calls))
        return FakeResult(calls[-1])

    monkeypatch.setattr(evaluate, "evaluate_embeddings", fake_evaluate)
    demo = load_demo(["en", "de", "es"])
    data = TrainingData("split", demo, demo, [], {})
    encoder = BagOfCharsEncoder(lang_offset={"en": 2.0, "de": 1.0})
    rank, curve = choose_rank(data, encoder, EvalSpec(langs=("en", "de", "es")), ["en", "de", "es"], "passage", 0,
                              silent)
    assert calls == [0, 1, 2]  # three languages' passage means: max rank 2
    assert curve == [{"rank": r, "multi_max_r": m, "multi_complete@10": c} for r, (m, c) in known.items()]
    assert rank == 2


# ----------------------------------------------------------------------------- linear model export
@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="module")
def tiny_lsar(tiny) -> LanguageSubspaceRemoval:
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(tiny), device="cpu")
    data = {(role, lang): base.encode(ts, prompt_name=role, normalize_embeddings=True)
            for lang, ts in TEXTS.items() for role in ("query", "passage")}
    return LanguageSubspaceRemoval().fit(data)


def _assert_export_matches(base_dir: Path, out: Path, lsar: LanguageSubspaceRemoval) -> None:
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(base_dir), device="cpu")
    exported = SentenceTransformer(str(out), device="cpu")
    assert exported.prompts["query"] == "query: " and exported.prompts["passage"] == "passage: "
    texts = TEXTS["de"] + TEXTS["fr"]
    for role in ("query", "passage"):
        want = lsar.transform(base.encode(texts, prompt_name=role, normalize_embeddings=True))
        got = exported.encode(texts, prompt_name=role)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_linear_model_loads_with_sentence_transformers_alone(tiny, tiny_lsar, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize

    out = tmp_path / "export"
    write_linear_model(tiny, tiny_lsar.projection_matrix(), out)
    modules = list(SentenceTransformer(str(out), device="cpu"))
    assert [type(m) for m in modules[-3:]] == [Normalize, Dense, Normalize]  # base's Normalize reused
    assert len(modules) == 5
    _assert_export_matches(tiny, out, tiny_lsar)


def test_linear_model_inserts_normalize_when_the_base_lacks_it(tiny, tiny_lsar, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize

    full = SentenceTransformer(str(tiny), device="cpu")
    raw = SentenceTransformer(modules=list(full)[:2], prompts=dict(full.prompts), device="cpu")
    raw.save(str(tmp_path / "raw"), create_model_card=False)
    out = tmp_path / "export"
    write_linear_model(tmp_path / "raw", tiny_lsar.projection_matrix(), out)
    modules = list(SentenceTransformer(str(out), device="cpu"))
    assert [type(m) for m in modules[2:]] == [Normalize, Dense, Normalize]
    _assert_export_matches(tmp_path / "raw", out, tiny_lsar)


def test_linear_model_refuses_a_bad_matrix_before_writing(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"must be \(32, 32\)"):
        write_linear_model(tiny, np.eye(16), tmp_path / "bad")
    with pytest.raises(ValueError, match="NaN"):
        write_linear_model(tiny, np.full((32, 32), np.nan), tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []
    write_linear_model(tiny, np.eye(32), tmp_path / "good")
    assert (tmp_path / "good" / "modules.json").is_file()


# ----------------------------------------------------------------------------- language-aware transforms
@pytest.fixture
def unit_langs() -> dict[str, np.ndarray]:
    by_lang, _ = planted(n=30, d=8)
    return {k: l2_normalise(v) for k, v in by_lang.items()}


def test_from_centering_matches_language_centering(unit_langs):
    est = LanguageCentering(pivot="en", mode="shift").fit(unit_langs)
    t = LanguageAwareTransform.from_centering(est)
    assert t.langs == ["de", "en", "fr"] and t.roles == ["passage", "query"]
    assert (t.method, t.pivot, t.dimension) == ("centering", "en", 8)
    for lang, x in unit_langs.items():
        np.testing.assert_allclose(t.apply(x, lang), est.transform(x, lang), atol=1e-6)
        np.testing.assert_array_equal(t.apply(x, lang, "query"), t.apply(x, lang, "passage"))  # queries default
    q_est = LanguageCentering(mode="subtract").fit({k: v[:10] for k, v in unit_langs.items()})
    t2 = LanguageAwareTransform.from_centering(est, q_est)
    np.testing.assert_allclose(t2.apply(unit_langs["de"], "de", "query"), q_est.transform(unit_langs["de"], "de"), atol=1e-6)
    with pytest.raises(KeyError, match=r"unknown language 'xx'.*\['de', 'en', 'fr'\]"):
        t.apply(unit_langs["de"], "xx")


def test_from_centering_rejects_mismatched_query_languages(unit_langs):
    est = LanguageCentering(mode="subtract").fit(unit_langs)
    q_est = LanguageCentering(mode="subtract").fit({"en": unit_langs["en"]})
    with pytest.raises(ValueError, match="different languages"):
        LanguageAwareTransform.from_centering(est, q_est)
    with pytest.raises(RuntimeError, match="not fitted"):
        LanguageAwareTransform.from_centering(LanguageCentering())


def test_from_procrustes_maps_target_and_leaves_pivot(unit_langs):
    est = OrthogonalProcrustes(center=True).fit(unit_langs["de"], unit_langs["en"])
    t = LanguageAwareTransform.from_procrustes(est, target="de", pivot="en")
    assert t.langs == ["de", "en"] and t.pivot == "en"
    for role in ("query", "passage"):
        np.testing.assert_allclose(t.apply(unit_langs["de"], "de", role), est.transform(unit_langs["de"]), atol=1e-6)
        np.testing.assert_allclose(t.apply(unit_langs["en"], "en", role), unit_langs["en"], atol=1e-6)
    with pytest.raises(ValueError, match="same language"):
        LanguageAwareTransform.from_procrustes(est, target="en", pivot="en")
    with pytest.raises(ValueError, match="normalize=False"):
        LanguageAwareTransform.from_procrustes(OrthogonalProcrustes(normalize=False).fit(unit_langs["de"], unit_langs["en"]),
                                               target="de", pivot="en")


def test_apply_validates_role_dimension_and_keeps_single_vectors(unit_langs):
    t = LanguageAwareTransform.from_centering(LanguageCentering(mode="subtract").fit(unit_langs))
    x = unit_langs["fr"]
    np.testing.assert_array_equal(t.apply(x[0], "fr"), t.apply(x[:1], "fr")[0])
    assert t.apply(x[0], "fr").shape == (8,)
    with pytest.raises(ValueError, match="role must be one of"):
        t.apply(x, "fr", role="doc")
    with pytest.raises(ValueError, match=r"expected \(n, 8\)"):
        t.apply(np.ones((2, 5)), "fr")


def test_transform_save_load_format(unit_langs, tmp_path):
    est = OrthogonalProcrustes(center=True).fit(unit_langs["de"], unit_langs["en"])
    t = LanguageAwareTransform.from_procrustes(est, target="de", pivot="en")
    t.save(tmp_path / "t")
    cfg = json.loads((tmp_path / "t" / "transform.json").read_text())
    assert cfg["kind"] == "xlalign.LanguageAwareTransform" and cfg["method"] == "procrustes"
    assert (cfg["langs"], cfg["roles"], cfg["dimension"], cfg["pivot"]) == (["de", "en"], ["passage", "query"], 8, "en")
    assert cfg["created_by"].startswith("xlalign ")
    with safe_open(str(tmp_path / "t" / "transform.safetensors"), framework="np") as f:
        assert sorted(f.keys()) == ["A.passage.de", "A.query.de", "b.passage.de", "b.query.de"]
    back = LanguageAwareTransform.load(tmp_path / "t")
    for lang in ("de", "en"):
        np.testing.assert_array_equal(back.apply(unit_langs[lang], lang, "query"), t.apply(unit_langs[lang], lang, "query"))


def _centering_transform(unit_langs: dict[str, np.ndarray]) -> LanguageAwareTransform:
    passages = LanguageCentering(pivot="en").fit(unit_langs)
    queries = LanguageCentering(pivot="en").fit({k: v[:12] for k, v in unit_langs.items()})
    return LanguageAwareTransform.from_centering(passages, queries)


def test_language_transform_folder_is_self_contained(unit_langs, tmp_path):
    t = _centering_transform(unit_langs)
    out = write_language_transform(t, tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == ["transform.json", "transform.safetensors", "xlalign_apply.py"]
    assert (out / "xlalign_apply.py").read_bytes() == Path(standalone_apply.__file__).read_bytes()
    spec = importlib.util.spec_from_file_location("xlalign_apply_copy", out / "xlalign_apply.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    loaded = mod.load(out)
    assert loaded.langs == t.langs
    for lang, x in unit_langs.items():
        for role in ("query", "passage"):
            np.testing.assert_array_equal(loaded.apply(x, lang, role), t.apply(x, lang, role))
    with pytest.raises(KeyError, match=r"unknown language 'xx'.*\['de', 'en', 'fr'\]"):
        loaded.apply(unit_langs["de"], "xx")


_ISOLATED = """
import sys
class NoXlalign:
    def find_spec(self, name, path=None, target=None):
        if name == "xlalign" or name.startswith("xlalign."):
            raise ImportError("xlalign must not be imported")
sys.meta_path.insert(0, NoXlalign())
sys.path.insert(0, ".")
import numpy as np
import xlalign_apply
t = xlalign_apply.load(".")
x = np.load("x.npy")
np.save("q.npy", t.apply(x, "de", "query"))
np.save("p.npy", t.apply(x, "fr"))
assert not any(m.split(".")[0] == "xlalign" for m in sys.modules)
"""


def test_standalone_apply_runs_isolated_without_xlalign(unit_langs, tmp_path):
    t = _centering_transform(unit_langs)
    out = write_language_transform(t, tmp_path / "export")
    x = unit_langs["de"][:7]
    np.save(out / "x.npy", x)
    res = subprocess.run([sys.executable, "-I", "-c", _ISOLATED], cwd=out, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.load(out / "q.npy"), t.apply(x, "de", "query"))
    np.testing.assert_array_equal(np.load(out / "p.npy"), t.apply(x, "fr", "passage"))


def test_standalone_load_rejects_other_folders(tmp_path):
    (tmp_path / "transform.json").write_text(json.dumps({"kind": "something"}))
    with pytest.raises(ValueError, match="not an xlalign language-aware transform"):
        standalone_apply.load(tmp_path)


# ----------------------------------------------------------------------------- model card
@pytest.fixture
def card_args() -> dict[str, object]:
    return {
        "title": "e5-small + LSAR (xlalign)",
        "base_model": "intfloat/multilingual-e5-small",
        "method": "LSAR",
        "method_details": {"rank": 2, "roles": "query+passage"},
        "data": "XQuAD (en, de, zh)",
        "split": "70/30 by article, seed 0",
        "langs": ["en", "de", "zh"],
        "headline": [
            {"scenario": "de→en", "query_lang": "de", "metric": "nDCG@10", "before": 0.4123, "after": 0.5,
             "delta": 0.0877, "95% CI": (0.051, 0.124), "q-value": 0.0004},
            {"scenario": "zh→en", "query_lang": "zh", "metric": "nDCG@10", "before": 0.3, "after": 0.29,
             "delta": -0.01, "95% CI": [-0.03, 0.011], "q-value": 0.4, "n": 120},
        ],
        "licence": "mit",
        "language_agnostic": True,
        "usage": 'from sentence_transformers import SentenceTransformer\nm = SentenceTransformer("out")',
    }


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_model_card_for_a_model_dir(card_args):
    card = render_model_card(**card_args)
    meta = _front_matter(card)
    assert meta["library_name"] == "sentence-transformers" and meta["license"] == "mit"
    assert meta["language"] == ["en", "de", "zh"] and meta["base_model"] == "intfloat/multilingual-e5-small"
    assert {"sentence-transformers", "xlalign", "lsar"} <= set(meta["tags"])
    headings = [line for line in card.splitlines() if line.startswith("#")]
    assert headings == ["# e5-small + LSAR (xlalign)", "## What it is", "## How it was made",
                        "## Results: before and after", "## Usage", "## When to prefer a language-agnostic method"]
    assert "`intfloat/multilingual-e5-small`" in card and "XQuAD (en, de, zh)" in card
    assert "70/30 by article, seed 0 (group-disjoint" in card and "  - rank: 2" in card
    assert "| scenario | query_lang | metric | before | after | delta | 95% CI | q-value | n |" in card
    assert "| de→en | de | nDCG@10 | 0.41 | 0.50 | 0.09 | [0.05, 0.12] | <0.01 | – |" in card
    assert "| zh→en | zh | nDCG@10 | 0.30 | 0.29 | -0.01 | [-0.03, 0.01] | 0.40 | 120 |" in card
    assert '```python\nfrom sentence_transformers import SentenceTransformer\nm = SentenceTransformer("out")\n```' in card
    assert "no language tag needed at inference, one matrix for all languages" in card
    assert "need the language of every text" in card


def test_model_card_for_a_language_aware_transform(card_args):
    card = render_model_card(**{**card_args, "method": "Procrustes", "language_agnostic": False, "headline": []})
    meta = _front_matter(card)
    assert "library_name" not in meta and "sentence-transformers" not in meta["tags"]
    assert "procrustes" in meta["tags"]
    assert "xlalign_apply.py" in card and "The language of every text must be known" in card
    assert "_No headline results recorded._" in card
