"""One label, one number (issue 24, §2): every leaderboard column holds the metric it names, the same as the
Diagnose tables; every comparison CSV says how it was made and ``compare`` prints it; small q values stay
readable (q = 0.0026 is never shown as 0). Fake encoders, no model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fakes import BagOfCharsEncoder, LatentEncoder

from xlalign.align.base import AlignSpec
from xlalign.app.formatting import compare_full, compare_headline, side_by_side_view
from xlalign.cli import main
from xlalign.core.loaders import load_demo
from xlalign.report.provenance import STAMP_COLUMNS
from xlalign.report.tables import format_compare, format_side_by_side, q_text
from xlalign.services.lab import Lab
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.runs import compare_runs

PROVENANCE = {"model_fingerprint", "precision", "xlalign_version"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("labels") / "runs", public=False)
    corpus = load_demo()
    lab._encoders.put(ModelSpec(model="latent"), LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5),
                                                                query_pull=0.0, pull_by_lang={"de": 1.6}))
    lab._encoders.put(ModelSpec(model="bag"), BagOfCharsEncoder(lang_offset={"en": 0.5}))
    yield lab
    lab.jobs.shutdown()


def test_every_leaderboard_column_holds_the_metric_it_names(lab):
    """``multi max_r_norm`` is the per-query Max@R_norm Diagnose shows, ``multi max_r_norm_of_mean`` the paper's
    formula on the mean Max@R: each board column equals the Diagnose summary's row of the same name."""
    board = lab.leaderboard(["bag"], "demo", ("en", "de"), "dedup")
    summary = lab.diagnose(ModelSpec(model="bag"), EvalSpec(data="demo", langs=("en", "de"))).result.summary_frame()
    named = [c for c in board.columns if c.split(" ", 1)[0] in ("multi", "multi-1", "mono-same", "mono-cross")
             and " " in c and "%" not in c]
    assert {"multi max_r_norm", "multi max_r_norm_of_mean", "multi complete@10", "multi max_r"} <= set(named)
    for column in named:
        scenario, metric = column.split(" ", 1)
        for q in ("en", "de"):
            rows = summary[(summary.scenario == scenario) & (summary.metric == metric) & (summary.query_lang == q)]
            expected = float(rows.value.mean())
            assert board.set_index("query_lang").at[q, column] == pytest.approx(expected), (column, q)
    de = board.set_index("query_lang").loc["de"]
    assert abs(de["multi max_r_norm"] - de["multi max_r_norm_of_mean"]) > 0.5  # two numbers, two names
    assert "paper max_r_norm_of_mean" in board.columns and "paper max_r_norm" not in board.columns


def _run(root, name: str, method: str):
    run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method=method), root / name,
                  encoder=BagOfCharsEncoder(lang_offset={"en": 2.0}))
    return root / name


def test_compare_says_how_it_was_made_in_its_output_and_both_csvs(tmp_path, capsys):
    runs = [_run(tmp_path, "c", "centering"), _run(tmp_path, "p", "procrustes")]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    made = [line for line in out.splitlines() if line.startswith("made with:")]
    assert made == ["made with: model fake (fingerprint :bag-of-chars…) · precision unknown (auto) on unknown · "
                    "dedup pools · xlalign " + __import__("xlalign").__version__]
    for name in ("compare.csv", "side_by_side.csv"):
        table = pd.read_csv(tmp_path / "cmp" / name)
        assert set(table.columns) >= PROVENANCE, name
        assert set(table.model_fingerprint) == {"bag-of-chars-v1"} and set(table.precision) == {"unknown"}
    assert set(pd.read_csv(runs[0] / "compare.csv").columns) >= PROVENANCE  # the run's own compare.csv too


def test_runs_made_differently_are_each_named_in_the_made_with_lines(tmp_path):
    a = _run(tmp_path, "a", "centering")
    run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method="centering"), tmp_path / "b",
                  encoder=BagOfCharsEncoder(lang_offset={"en": 2.0}, fingerprint="other-v2"))
    found = compare_runs([a, tmp_path / "b"])
    assert [line.split(":", 1)[0] for line in found.made_with_lines()] == ["made with (a)", "made with (b)"]
    assert set(found.wide().model_fingerprint) == {"a: bag-of-chars-v1; b: other-v2"}


def test_small_q_values_are_written_in_scientific_notation_everywhere():
    assert [q_text(q) for q in (0.0026, 0.00003, 0.0, 0.049, 1.0, float("nan"))] == [
        "2.6e-03", "3.0e-05", "0.00", "0.05", "1.00", "n/a"]
    keys = {"scenario": ["multi"] * 2, "pool": ["dedup"] * 2, "query_lang": ["de"] * 2, "doc_lang": ["en+de"] * 2,
            "metric": ["complete@10", "max_r"]}
    table = pd.DataFrame({**keys, "before": [10.0, 50.0], "after": [40.0, 20.0], "delta": [30.0, -30.0],
                          "ci_low": [20.0, -40.0], "ci_high": [40.0, -20.0], "p_value": [0.0001, 0.0002],
                          "q_value": [0.0026, 0.00003], "n_queries": [84, 84]})
    assert list(compare_headline(table, "en").q_value) == ["2.6e-03", "3.0e-05"]
    assert list(compare_full(table).q_value) == ["2.6e-03", "3.0e-05"]
    assert "2.6e-03" in format_compare(table, "title", "en") and " 0.00\n" not in format_compare(table, "t", "en")
    run = "20251204-101010-centering-de-abc123"
    wide = pd.DataFrame({**keys, "baseline": [10.0, 50.0], run: [40.0, 20.0], f"{run} delta": [30.0, -30.0],
                         f"{run} lo": [20.0, -40.0], f"{run} hi": [40.0, -20.0], f"{run} q": [0.0026, 0.00003],
                         "model_fingerprint": ["fp"] * 2})
    view, legend = side_by_side_view(wide, {run: "centering · subtract"})
    assert list(view["R1 q"]) == ["2.6e-03", "3.0e-05"]
    assert view["R1 change (95% CI)"].iloc[0] == "+30.00 (+20.00…+40.00)"
    assert not any(run in str(c) for c in view.columns) and legend.startswith(f"**R1** = `{run}` · centering")
    assert "2.6e-03" in format_side_by_side(wide.set_index(list(keys))) and "fp" not in format_side_by_side(
        wide.set_index(list(keys)))


def test_side_by_side_csv_keeps_q_values_unrounded(tmp_path):
    found = compare_runs([_run(tmp_path, "c", "centering")])
    wide = found.wide()
    stacked = found.stacked
    np.testing.assert_array_equal(wide["c q"].to_numpy(), stacked.set_index(
        ["scenario", "pool", "query_lang", "doc_lang", "metric"]).loc[wide.index, "q_value"].to_numpy())
    assert set(STAMP_COLUMNS) <= set(stacked.columns)
