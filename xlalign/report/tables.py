"""Display tables and terminal reports built from long-format rows (no metric is computed here)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xlalign.core.evaluate import PIVOT_ALIASES, EvalResult, metric_base, metric_order, scenario_order
from xlalign.core.verdict import Verdict, verdicts
from xlalign.report.provenance import STAMP_COLUMNS
from xlalign.report.verdict_text import compare_finding, headline, lang_name, sentence

#: Headline metrics per scenario (Hong et al. report Complete@10/Max@R for Multi, NDCG@1/MRR otherwise).
HEADLINE: dict[str, tuple[str, ...]] = {
    "multi": ("complete@10", "max_r", "max_r_norm", "max_r_norm_of_mean", "map", "own_preference", "same_lang_preference",
              "displaced_by_own@10", "displaced_by_pivot@10", "pivot_over_gold", "pivot_intrusion@1"),
    "multi-1": ("ndcg@1", "mrr", "recall@10", "max_r"),
    "mono-same": ("ndcg@1", "ndcg@10", "mrr", "recall@10"),
    "mono-cross": ("ndcg@1", "ndcg@10", "mrr", "recall@10"),
}
#: What each metric holds, for column headers and tooltips.
METRIC_LABELS: dict[str, str] = {
    "complete@10": "Complete@10 (%): every gold in the top 10",
    "max_r": "Max@R: rank of the worst-placed gold (lower is better)",
    "max_r_norm": "Max@R_norm (0–100, per query, averaged)",
    "max_r_norm_of_mean": "Max@R_norm of the mean Max@R (the paper's tables)",
    "map": "mAP over the golds (0–1)",
    "own_preference": "translation preference: an irrelevant own-language doc beats its translation (% of comparisons; "
                      "50 = none)",
    "same_lang_preference": "best gold is in the query's language (%)",
    "same_over_other_gold": "≥1 irrelevant same-language doc above the other-language gold (%)",
    "displaced_by_own@10": "clustering: ≥10 irrelevant same-language docs above the pivot-language gold (%)",
    "displaced_by_pivot@10": "inclination: ≥10 irrelevant pivot-language docs above the same-language gold (%)",
    "pivot_over_gold": "≥1 irrelevant pivot-language doc above the same-language gold (%)",
    "pivot_intrusion@1": "top-1 is an irrelevant pivot-language doc (%)",
    "ndcg@1": "NDCG@1 (%)", "ndcg@10": "NDCG@10 (%)", "mrr": "MRR (0–1)", "recall@10": "Recall@10 (%)",
}


#: What the pool holds, relative to the query's language (Mono-Cross rows name their document language).
DOCS_LABEL = {"multi": "all languages", "multi-1": "all but own", "mono-same": "own language"}


def metric_label(metric: str) -> str:
    """What a metric holds; a per-target variant names its gold (``displaced_by_own@10:zh``)."""
    base, _, gold = metric.partition(":")
    if base == "displaced_by_own@10" and gold:
        return f"clustering: ≥10 irrelevant pivot-language docs above the {lang_name(gold)} gold (%)"
    if base == "own_preference" and gold:
        return f"translation preference: an irrelevant pivot-language doc beats its {lang_name(gold)} translation (%)"
    return METRIC_LABELS.get(base, metric)


def _headline_rows(summary: pd.DataFrame) -> pd.Series:
    return pd.Series([metric_base(m) in HEADLINE.get(s, ()) for s, m in zip(summary["scenario"], summary["metric"],
                                                                            strict=True)], index=summary.index)


def summary_pivot(summary: pd.DataFrame, headline_only: bool = True, decimals: int = 2) -> pd.DataFrame:
    """Rows (scenario, doc languages, metric), one column per query language; values rounded for display."""
    df = summary[~summary.metric.isin(list(PIVOT_ALIASES))]
    if headline_only:
        df = df[_headline_rows(df)]
    df = df.assign(docs=[DOCS_LABEL.get(s, d) for s, d in zip(df.scenario, df.doc_lang, strict=True)])
    table = df.pivot_table(index=["scenario", "docs", "metric"], columns="query_lang", values="value", sort=False)
    order = sorted(table.index, key=lambda k: (scenario_order(k[0]), k[1], metric_order(k[2])))
    table = table.loc[order]
    langs = list(dict.fromkeys(summary["query_lang"]))
    table = table[[c for c in langs if c in table.columns]]
    table.columns.name = "query →"
    return table.round(decimals)


def matrix_pivot(matrix: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Query languages × document languages for one matrix metric."""
    sel = matrix[matrix.metric == metric]
    table = sel.pivot_table(index="query_lang", columns="doc_lang", values="value", sort=False)
    langs = list(dict.fromkeys(matrix["query_lang"]))
    return table.reindex(index=langs, columns=[c for c in langs if c in table.columns])


def format_summary(summary: pd.DataFrame, title: str = "") -> str:
    """A plain-text table for the terminal."""
    sizes = summary.groupby("scenario", sort=False)["pool_size"].max()
    head = [title] if title else []
    head.append("pool sizes: " + ", ".join(f"{s}={n}" for s, n in sizes.items()))
    return "\n".join(head) + "\n" + summary_pivot(summary).to_string(na_rep="–")


def format_report(result: EvalResult, title: str) -> str:
    """The finding first (one sentence per query language), then the summary and the language-bias matrix."""
    summary, matrix = result.summary_frame(), result.matrix_frame()
    found = verdicts(summary, matrix, result.spec.pivot, result.spec.langs)
    lines = [title, headline(found, result.spec.pivot), *[f"  · {sentence(v)}" for v in found], "",
             format_summary(summary)]
    if not matrix.empty:
        lines += ["", "language-bias matrix, Multi pool — median rank of the gold in each document language:",
                  matrix_pivot(matrix, "median_rank").to_string(float_format=lambda v: f"{v:.0f}"),
                  "", "…and % of queries whose best-ranked gold is in that language:",
                  matrix_pivot(matrix, "best_gold_share").to_string(float_format=lambda v: f"{v:.1f}")]
    return "\n".join(lines)


def headline_compare(table: pd.DataFrame, pivot: str | None = None) -> pd.DataFrame:
    """The headline rows of a before/after table, target-language queries first, 2 decimals."""
    keep = table[_headline_rows(table)]
    keep = keep.assign(_pivot=keep.query_lang == pivot) if pivot else keep.assign(_pivot=False)
    keep = keep.assign(_s=keep.scenario.map(scenario_order), _m=keep.metric.map(lambda m: metric_order(m)[0]))
    keep = keep.sort_values(["_pivot", "_s", "query_lang", "doc_lang", "_m"]).drop(columns=["_pivot", "_s", "_m"])
    return keep.reset_index(drop=True)


def q_text(q: float) -> str:
    """A q- or p-value as written in tables: two decimals from 0.01 up, scientific notation below (q = 0.0026
    is ``2.6e-03``, never ``0.00``); ``n/a`` where there is none."""
    try:
        value = float(q)
    except (TypeError, ValueError):
        return "n/a"
    if value != value:
        return "n/a"
    return f"{value:.2f}" if value >= 0.01 or value == 0 else f"{value:.1e}"


def format_compare(table: pd.DataFrame, title: str, pivot: str | None = None, before: Sequence[Verdict] = (),
                   after: Sequence[Verdict] = ()) -> str:
    """The before/after finding (with both sides' verdicts when given), then the headline rows."""
    shown = headline_compare(table, pivot)[["scenario", "query_lang", "doc_lang", "metric", "before", "after", "delta",
                                            "ci_low", "ci_high", "q_value"]]
    finding = compare_finding(table, pivot, markdown=False, before=before, after=after) if pivot else ""
    text = shown.to_string(index=False, float_format=lambda v: f"{v:.2f}", formatters={"q_value": q_text})
    return "\n".join(filter(None, [title, finding, text]))


def format_side_by_side(wide: pd.DataFrame) -> str:
    """:meth:`Comparison.wide <xlalign.store.runs.Comparison.wide>` for the terminal: numbers to 2 decimals, q-values
    by :func:`q_text`, without the provenance columns (the ``made with:`` line says it)."""
    shown = wide.drop(columns=[c for c in STAMP_COLUMNS if c in wide])
    return shown.to_string(na_rep="–", float_format=lambda v: f"{v:.2f}",
                           formatters={c: q_text for c in shown.columns if str(c).endswith(" q")})


def language_label(code: str) -> str:
    """``zh (Chinese)`` for menus."""
    name = lang_name(code)
    return code if name == code else f"{code} ({name})"


__all__ = ["HEADLINE", "METRIC_LABELS", "format_compare", "format_report", "format_side_by_side", "format_summary",
           "headline_compare", "language_label", "matrix_pivot", "metric_label", "q_text", "summary_pivot"]
