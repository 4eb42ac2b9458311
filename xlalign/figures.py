"""Plotly figures. Inputs are result tables and embeddings; no metric is computed here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

LANG_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _color(lang: str, langs: Sequence[str]) -> str:
    return LANG_COLORS[list(langs).index(lang) % len(LANG_COLORS)] if lang in langs else "#7f7f7f"


def inclination_ranking(rows: pd.DataFrame, metric: str = "english_over_gold") -> go.Figure:
    """Bars of ``metric`` per target language (rows: query_lang, value), worst first."""
    df = rows.sort_values("value", ascending=True)
    fig = go.Figure(go.Bar(x=df["value"], y=df["query_lang"], orientation="h", marker_color="#d62728",
                           text=[f"{v:.1f}%" for v in df["value"]], textposition="auto"))
    label = {"english_over_gold": "queries where an irrelevant English doc outranks the same-language gold (%)",
             "english_intrusion@1": "queries whose top-1 is an irrelevant English doc (%)"}.get(metric, metric)
    fig.update_layout(title="English inclination by target language (Multi scenario, target-language queries)",
                      xaxis_title=label, yaxis_title="target language", height=120 + 40 * len(df),
                      margin=dict(l=60, r=20, t=60, b=50))
    return fig


def multi_overview(summary: pd.DataFrame) -> go.Figure:
    """Grouped bars of the Multi-scenario headline rates for each query language."""
    metrics = ["complete@10", "same_lang_preference", "english_over_gold", "english_intrusion@1"]
    df = summary[(summary.scenario == "multi") & summary.metric.isin(metrics)]
    fig = go.Figure()
    langs = list(dict.fromkeys(df.query_lang))
    for lang in langs:
        sub = df[df.query_lang == lang].set_index("metric").reindex(metrics)
        fig.add_bar(name=f"{lang} queries", x=metrics, y=sub["value"], marker_color=_color(lang, langs))
    fig.update_layout(barmode="group", title="Multi scenario: both language versions of every passage in the pool",
                      yaxis_title="%", yaxis_range=[0, 100], height=380, margin=dict(t=60, b=40))
    return fig


def rank_distribution(per_query: pd.DataFrame, scenario: str = "multi") -> go.Figure:
    """Histogram (log-spaced bins) of gold-document ranks, one trace per (query language, gold language)."""
    df = per_query[per_query.scenario == scenario]
    rank_cols = [c for c in df.columns if c.startswith("rank_")]
    fig = go.Figure()
    max_rank = max(int(df[c].max()) for c in rank_cols if df[c].notna().any()) if len(df) else 1
    edges = np.unique(np.round(np.logspace(0, np.log10(max(max_rank, 2)) + 1e-9, 25)).astype(int))
    langs = [c.removeprefix("rank_") for c in rank_cols]
    for qlang in dict.fromkeys(df.query_lang):
        sub = df[df.query_lang == qlang]
        for col in rank_cols:
            ranks = sub[col].dropna().astype(int).to_numpy()
            if len(ranks) == 0:
                continue
            counts, _ = np.histogram(ranks, bins=np.append(edges, edges[-1] + 1))
            gold = col.removeprefix("rank_")
            fig.add_bar(x=[f"{a}" if b - a <= 1 else f"{a}–{b - 1}" for a, b in zip(edges, np.append(edges[1:], edges[-1] + 1),
                                                                                  strict=True)],
                        y=100 * counts / len(ranks), name=f"{qlang} query → {gold} gold",
                        marker_color=_color(gold, langs), opacity=0.9 if qlang == gold else 0.55)
    fig.update_layout(barmode="group", title=f"Where the gold documents rank ({scenario})", xaxis_title="rank",
                      yaxis_title="% of queries", height=400, margin=dict(t=60, b=40))
    return fig


def umap_pairs(pivot: np.ndarray, target: np.ndarray, langs: tuple[str, str], labels: Sequence[str] | None = None,
               link: bool = True, seed: int = 42) -> go.Figure:
    """UMAP (cosine) of parallel passages coloured by language, each pair joined by a grey line.

    ``pivot`` and ``target`` are (n, d) with row i of each the same passage.
    """
    import umap

    if pivot.shape != target.shape:
        raise ValueError(f"parallel embeddings differ in shape: {pivot.shape} vs {target.shape}")
    n = len(pivot)
    if n < 4:
        raise ValueError("UMAP needs at least 4 parallel passages")
    reducer = umap.UMAP(n_neighbors=min(15, 2 * n - 1), metric="cosine", random_state=seed, init="random", n_jobs=1)
    xy = reducer.fit_transform(np.vstack([pivot, target]))
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    fig = go.Figure()
    if link:
        xs, ys = [], []
        for i in range(n):
            xs += [xy[i, 0], xy[n + i, 0], None]
            ys += [xy[i, 1], xy[n + i, 1], None]
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(120,120,120,0.35)", width=1),
                        name="parallel pair", hoverinfo="skip")
    for k, lang in enumerate(langs):
        part = xy[k * n:(k + 1) * n]
        fig.add_scatter(x=part[:, 0], y=part[:, 1], mode="markers", name=lang, text=labels,
                        marker=dict(size=7, color=_color(lang, langs), line=dict(width=0.5, color="white")),
                        hovertemplate="%{text}<extra>" + lang + "</extra>")
    fig.update_layout(title="Passages in embedding space (UMAP); lines join translations",
                      height=520, xaxis=dict(visible=False), yaxis=dict(visible=False), margin=dict(t=60, b=20))
    return fig


def compare_bars(table: pd.DataFrame, metric: str = "complete@10") -> go.Figure:
    """Before/after bars with bootstrap 95% CI on the delta, per scenario × query language."""
    df = table[table.metric == metric]
    x = [f"{s} · {q}" for s, q in zip(df.scenario, df.query_lang, strict=True)]
    fig = go.Figure()
    fig.add_bar(name="before", x=x, y=df["before"], marker_color="#9e9e9e")
    fig.add_bar(name="after", x=x, y=df["after"], marker_color="#2ca02c",
                error_y=dict(type="data", symmetric=False, array=df["ci_high"] - df["delta"],
                             arrayminus=df["delta"] - df["ci_low"]))
    fig.update_layout(barmode="group", title=f"{metric}: before vs after (error bars: 95% CI of the change)",
                      height=380, margin=dict(t=60, b=40))
    return fig
