"""The sentence-transformers encoder and the CLI, on a tiny model built here (no hub)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from xlalign.cli import main
from xlalign.core.loaders import load_squad_folder
from xlalign.errors import ConfigError, ModelLoadError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder, directory_fingerprint
from xlalign.specs import ModelSpec


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir) -> Path:
    return tiny_model_dir


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_st_encoder_uses_model_prompts_and_normalises(tiny_model, tmp_path):
    enc = SentenceTransformerEncoder(ModelSpec(str(tiny_model), device="cpu", precision="fp32"),
                                     cache=EmbeddingCache(tmp_path / "c.sqlite"))
    assert enc.prompt_for("query") == "query: " and enc.prompt_for("passage") == "passage: "
    x = enc.encode(["Cats purr.", "Cats purr.", "Nile"], lang="en", role="query")
    assert x.shape == (3, 32) and enc.n_texts_encoded == 2
    assert abs(float((x**2).sum(axis=1).max()) - 1.0) < 1e-5
    direct = enc.model.encode(["query: Nile"], normalize_embeddings=True)
    assert float(direct[0] @ x[2]) > 0.9999


def test_fingerprint_follows_directory_content(tiny_model, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert directory_fingerprint(copy) == directory_fingerprint(tiny_model)
    (copy / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "q: "}}))
    assert directory_fingerprint(copy) != directory_fingerprint(tiny_model)


def test_cli_evaluate_writes_outputs_and_second_run_hits_cache(tiny_model, squad_folder, tmp_path, capsys):
    args = ["evaluate", "--data", str(squad_folder), "--langs", "en,de", "--model", str(tiny_model),
            "--out", str(tmp_path / "run1"), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    code, out, _ = _run(args, capsys)
    assert code == 0, out
    summary = pd.read_csv(tmp_path / "run1" / "summary.csv")
    made = ["model", "model_fingerprint", "precision", "xlalign_version"]  # how the results were made
    assert list(summary.columns) == ["scenario", "pool", "query_lang", "doc_lang", "metric", "value", "n_queries",
                                     "pool_size", *made]
    assert set(summary.scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    assert {"max_r", "max_r_norm", "max_r_norm_of_mean", "complete@10", "ndcg@1", "mrr", "recall@10", "map",
            "pivot_intrusion@1", "english_intrusion@1"} <= set(summary.metric)
    matrix = pd.read_csv(tmp_path / "run1" / "matrix.csv")
    assert list(matrix.columns) == ["query_lang", "doc_lang", "metric", "value", "n_queries", "pool_size", *made]
    per_query = pd.read_csv(tmp_path / "run1" / "per_query.csv")
    assert {"rank_en", "rank_de", "query_id"} <= set(per_query.columns) and len(per_query) == 8 * 5
    run = json.loads((tmp_path / "run1" / "run.json").read_text())
    assert run["encoder_calls"]["texts_encoded"] == 16 and run["eval"]["pool"] == "dedup"
    assert run["model"]["fingerprint"].startswith("dir:") and "torch" in run["versions"]
    assert "multi" in out and "complete@10" in out and "German queries:" in out
    args[args.index(str(tmp_path / "run1"))] = str(tmp_path / "run2")
    code, _, _ = _run(args, capsys)
    run2 = json.loads((tmp_path / "run2" / "run.json").read_text())
    assert code == 0 and run2["encoder_calls"] == {"model_calls": 0, "texts_encoded": 0}
    assert (tmp_path / "run1" / "summary.csv").read_text() == (tmp_path / "run2" / "summary.csv").read_text()


def test_cli_bad_data_is_one_line_error(tmp_path, capsys):
    code, _, err = _run(["evaluate", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "nope.jsonl: no such file or folder" in err


def test_cli_mismatched_files_name_ids(squad_folder, tmp_path, capsys):
    path = squad_folder / "xq.de.json"
    doc = json.loads(path.read_text())
    doc["data"][0]["paragraphs"][0]["qas"][0]["id"] = "renamed"
    path.write_text(json.dumps(doc))
    code, _, err = _run(["evaluate", "--data", str(squad_folder), "--langs", "en,de", "--out", str(tmp_path / "o")],
                        capsys)
    assert code == 2 and "missing ids 'q1'" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "summary.csv").exists()


def test_cli_rejects_bad_langs(tmp_path, capsys):
    code, _, err = _run(["evaluate", "--langs", "en", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "at least 2 language(s)" in err and err.count("\n") == 1


def test_cli_rejects_bad_scenario(tmp_path, capsys):
    code, _, err = _run(["evaluate", "--scenarios", "multi,mono", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "scenario must be one of" in err


def test_unknown_model_offline_names_the_bundled_default(monkeypatch, squad_folder, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = SentenceTransformerEncoder(ModelSpec("no-such-org/no-such-model", device="cpu"))
    with pytest.raises(ModelLoadError, match="bundled:multilingual-e5-small"):
        _ = enc.model
    code, _, err = _run(["evaluate", "--data", str(squad_folder), "--langs", "en,de", "--model",
                         "no-such-org/no-such-model", "--out", str(tmp_path / "o"),
                         "--cache-dir", str(tmp_path / "c")], capsys)
    assert code == 2 and "bundled:multilingual-e5-small" in err and err.count("\n") == 1


def test_encoder_refuses_a_remote_code_model_without_opt_in():
    enc = SentenceTransformerEncoder(ModelSpec("Alibaba-NLP/gte-multilingual-base", device="cpu"))
    with pytest.raises(ModelLoadError, match="trust-remote-code"):
        _ = enc.model


def test_encoder_rejects_bad_role(tiny_model):
    enc = SentenceTransformerEncoder(ModelSpec(str(tiny_model), device="cpu"))
    with pytest.raises(ValueError, match="role"):
        enc.encode(["x"], lang="en", role="document")  # type: ignore[arg-type]


def test_model_spec_rejects_bad_batch_size(tiny_model):
    with pytest.raises(ConfigError, match="batch size"):
        ModelSpec(str(tiny_model), batch_size=0)


def test_corpus_folder_fixture_loads(squad_folder):
    assert len(load_squad_folder(squad_folder)) == 5


def _cli_stderr(args: list[str]) -> str:
    """The CLI in its own process, so that its logging set-up is the one a user gets (not pytest's)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "xlalign", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_cli_verbose_shows_phase_timings_on_stderr(tiny_model, squad_folder, tmp_path):
    args = ["evaluate", "--data", str(squad_folder), "--langs", "en,de", "--model", str(tiny_model),
            "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    err = _cli_stderr([*args, "--out", str(tmp_path / "verbose"), "-v"])
    lines = {phase: [line for line in err.splitlines() if f"timing: {phase} " in line]
             for phase in ("encode", "rank", "metrics")}
    assert all(len(found) == 1 for found in lines.values()), err
    assert lines["encode"][0].startswith("DEBUG xlalign.core.evaluate: timing: encode ")
    assert "languages=2" in lines["encode"][0] and "texts=16" in lines["encode"][0]  # 3 passages + 5 questions, ×2
    assert re.search(r"timing: rank \d+\.\d{3} s \(calls=\d+, pools=\d+, queries=5\)", lines["rank"][0])
    assert "DEBUG xlalign.models.encoders: " in err and ": 16 distinct texts, 0 from the embedding cache, 16 to encode" in err
    quiet = _cli_stderr([*args, "--out", str(tmp_path / "quiet")])
    assert "timing:" not in quiet and "DEBUG" not in quiet
