"""Display tables built from long-format summary rows (no metric is computed here)."""

from __future__ import annotations

import pandas as pd

from xlalign.evaluate import metric_order
from xlalign.scenarios import SCENARIOS

#: Headline metrics per scenario (Hong et al. report Complete@10/Max@R for Multi, NDCG@1/MRR otherwise).
HEADLINE: dict[str, tuple[str, ...]] = {
    "multi": ("complete@10", "max_r", "max_r_norm", "max_r_norm_of_mean", "same_lang_preference",
              "english_intrusion@1", "english_over_gold"),
    "multi-1": ("ndcg@1", "mrr", "recall@10", "max_r"),
    "mono-same": ("ndcg@1", "mrr", "recall@10", "max_r"),
    "mono-cross": ("ndcg@1", "mrr", "recall@10", "max_r"),
}


def summary_pivot(summary: pd.DataFrame, headline_only: bool = True) -> pd.DataFrame:
    """Rows (scenario, metric), one column per query language; values rounded for display."""
    df = summary
    if headline_only:
        keep = [m in HEADLINE.get(s, ()) or ((m.endswith("_intrusion@1") or m.endswith("_over_gold"))
                and s == "multi") for s, m in zip(df["scenario"], df["metric"], strict=True)]
        df = df[keep]
    table = df.pivot_table(index=["scenario", "metric"], columns="query_lang", values="value", sort=False)
    order = sorted(table.index, key=lambda sm: (SCENARIOS.index(sm[0]) if sm[0] in SCENARIOS else 99,
                                                metric_order(sm[1])))
    table = table.loc[order]
    langs = list(dict.fromkeys(summary["query_lang"]))
    table = table[[c for c in langs if c in table.columns]]
    table.columns.name = "query →"
    return table.round(2)


def format_summary(summary: pd.DataFrame, title: str = "") -> str:
    """A plain-text table for the terminal."""
    sizes = summary.groupby("scenario", sort=False)["pool_size"].max()
    head = [title] if title else []
    head.append("pool sizes: " + ", ".join(f"{s}={n}" for s, n in sizes.items()))
    return "\n".join(head) + "\n" + summary_pivot(summary).to_string(na_rep="–")
