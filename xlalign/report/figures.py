"""Plotly figures. Inputs are result tables and embeddings; no metric is computed here.

Rules every figure follows: rates are drawn on a fixed 0–100 axis, ranks on a log axis that starts
at 1, "not applicable" is written as such and never drawn as 0, and axis titles say what is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from xlalign.core.verdict import THRESHOLD
from xlalign.report.tables import METRIC_LABELS
from xlalign.report.verdict_text import lang_name

LANG_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
               "#7f7f7f"]
RATE_METRICS = ("complete@10", "same_lang_preference", "displaced_by_own@10", "displaced_by_pivot@10")


def _color(lang: str, langs: Sequence[str]) -> str:
    return LANG_COLORS[list(langs).index(lang) % len(LANG_COLORS)] if lang in langs else "#7f7f7f"


def empty(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#555"), x=0.5, y=0.5, xref="paper",
                       yref="paper")
    fig.update_layout(height=220, xaxis=dict(visible=False), yaxis=dict(visible=False), margin=dict(t=20, b=20))
    return fig


def multi_overview(summary: pd.DataFrame, pivot: str) -> go.Figure:
    """Grouped bars of the Multi-scenario rates per query language on 0–100; n/a (pivot queries have no pivot
    inclination) is labelled, not drawn as 0."""
    df = summary[(summary.scenario == "multi") & summary.metric.isin(RATE_METRICS)]
    langs = list(dict.fromkeys(df.query_lang))
    labels = {"complete@10": "Complete@10", "same_lang_preference": "best gold<br>in own language",
              "displaced_by_own@10": "clustering<br>(≥10 own-language<br>docs above)",
              "displaced_by_pivot@10": f"inclination<br>(≥10 {lang_name(pivot)}<br>docs above)"}
    fig = go.Figure()
    for lang in langs:
        sub = df[df.query_lang == lang].set_index("metric").reindex(list(RATE_METRICS))
        values = sub["value"].to_numpy(dtype=float)
        fig.add_bar(name=f"{lang} queries", x=[labels[m] for m in RATE_METRICS], y=np.nan_to_num(values, nan=0.0),
                    marker_color=_color(lang, langs), text=["n/a" if np.isnan(v) else f"{v:.0f}%" for v in values],
                    textposition="outside", marker_opacity=[0.0 if np.isnan(v) else 1.0 for v in values],
                    hovertemplate="%{x}: %{text}<extra>" + lang + " queries</extra>")
    fig.add_hline(y=THRESHOLD, line_dash="dot", line_color="#999",
                  annotation_text=f"verdict threshold {THRESHOLD:.0f}%", annotation_position="top right")
    fig.update_layout(barmode="group", title="Multi pool: every language version of every passage",
                      xaxis=dict(tickangle=0), yaxis=dict(title="% of queries", range=[0, 110], fixedrange=True),
                      height=440, margin=dict(t=60, b=90), legend=dict(orientation="h", y=1.08, x=0))
    return fig


def rank_cdf(per_query: pd.DataFrame, scenario: str = "multi") -> go.Figure:
    """Share of queries whose gold in language g ranks ≤ r, one line per (query language, gold language),
    on a log rank axis from 1 to the pool size."""
    df = per_query[per_query.scenario == scenario]
    if df.empty:
        return empty(f"no {scenario} results")
    rank_cols = [c for c in df.columns if c.startswith("rank_")]
    langs = [c.removeprefix("rank_") for c in rank_cols]
    fig = go.Figure()
    for qlang in dict.fromkeys(df.query_lang):
        sub = df[df.query_lang == qlang]
        for col in rank_cols:
            ranks = np.sort(pd.to_numeric(sub[col], errors="coerce").dropna().to_numpy())
            if len(ranks) == 0:
                continue
            gold = col.removeprefix("rank_")
            x = np.concatenate([[1], ranks])
            y = np.concatenate([[0.0], 100.0 * np.arange(1, len(ranks) + 1) / len(ranks)])
            fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", name=f"{qlang} query → {gold} gold",
                            line=dict(color=_color(gold, langs), dash="solid" if qlang == gold else "dash"))
    size = int(df.pool_size.max())
    fig.update_layout(title=f"Where the golds rank ({scenario}); solid: gold in the query's language",
                      xaxis=dict(title=f"rank (log scale; pool of {size})", type="log", range=[0, np.log10(size)]),
                      yaxis=dict(title="% of queries with the gold at or above this rank", range=[0, 100]),
                      height=420, margin=dict(t=60, b=40))
    return fig


def bias_matrix(matrix: pd.DataFrame, metric: str = "best_gold_share") -> go.Figure:
    """Heatmap query language × document language of one matrix metric, fixed scale, values written in."""
    sel = matrix[matrix.metric == metric]
    langs = list(dict.fromkeys(matrix.query_lang))
    grid = sel.pivot_table(index="query_lang", columns="doc_lang", values="value").reindex(index=langs, columns=langs)
    ranks = metric in ("mean_rank", "median_rank")
    z = np.log10(grid.to_numpy(dtype=float)) if ranks else grid.to_numpy(dtype=float)
    size = int(sel.pool_size.max()) if len(sel) else 1
    text = [[f"{v:.0f}" if ranks else f"{v:.0f}%" for v in row] for row in grid.to_numpy(dtype=float)]
    fig = go.Figure(go.Heatmap(
        z=z, x=langs, y=langs, text=text, texttemplate="%{text}", colorscale="Reds" if not ranks else "Blues_r",
        zmin=0, zmax=np.log10(size) if ranks else 100, hovertemplate="query %{y} → %{x} documents: %{text}<extra></extra>",
        colorbar=dict(title="rank (log)" if ranks else "%", tickvals=[0, 1, 2, 3] if ranks else None,
                      ticktext=["1", "10", "100", "1000"] if ranks else None)))
    fig.update_layout(title=METRIC_MATRIX_TITLES.get(metric, metric), xaxis=dict(title="document language"),
                      yaxis=dict(title="query language", autorange="reversed"), height=120 + 45 * len(langs),
                      margin=dict(t=60, b=40))
    return fig


METRIC_MATRIX_TITLES = {
    "best_gold_share": "Share of queries whose best-ranked gold is in each language (%)",
    "distractor_over_own_gold": "Share of queries where an irrelevant document of that language beats the "
                                "query-language gold (%)",
    "median_rank": "Median rank of the gold in each language",
    "mean_rank": "Mean rank of the gold in each language",
}


def inclination_view(rows: pd.DataFrame, pivot: str) -> go.Figure:
    """Both biases per target language on a fixed 0–100 axis with their 95% CIs, worst first."""
    df = rows.iloc[::-1]
    fig = go.Figure()
    for col, ci, name, color in (("clustering %", "clustering CI", "same-language clustering", "#9467bd"),
                                 ("inclination %", "inclination CI", f"{lang_name(pivot)} inclination", "#d62728")):
        lo = [c[0] if isinstance(c, (tuple, list)) else np.nan for c in df[ci]]
        hi = [c[1] if isinstance(c, (tuple, list)) else np.nan for c in df[ci]]
        fig.add_scatter(x=df[col], y=df["target"], mode="markers", name=name, marker=dict(size=13, color=color),
                        error_x=dict(type="data", symmetric=False, array=np.array(hi) - df[col].to_numpy(dtype=float),
                                     arrayminus=df[col].to_numpy(dtype=float) - np.array(lo)),
                        hovertemplate="%{y}: %{x:.1f}%<extra>" + name + "</extra>")
    fig.add_vline(x=THRESHOLD, line_dash="dot", line_color="#999", annotation_text=f"verdict threshold {THRESHOLD:.0f}%")
    fig.update_layout(title=f"Language bias per target language ({lang_name(pivot)} + target, Multi pool; 95% CI)",
                      xaxis=dict(title="% of queries where ≥10 irrelevant documents push the gold down", range=[-2, 102]),
                      yaxis=dict(title="target language", type="category"), height=160 + 45 * len(df),
                      margin=dict(t=60, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def umap_pairs(points: dict[str, np.ndarray], labels: Sequence[str], *, title: str, seed: int = 42,
               queries: dict[str, np.ndarray] | None = None) -> go.Figure:
    """UMAP (cosine) of parallel passages (and, optionally, their questions) coloured by language; the
    versions of one passage are joined by grey lines. ``points[lang]`` rows are parallel across languages."""
    import umap

    langs = list(points)
    n = len(next(iter(points.values())))
    if any(len(x) != n for x in points.values()):
        raise ValueError("parallel embeddings differ in length")
    if n < 4:
        raise ValueError("UMAP needs at least 4 parallel passages")
    blocks = [points[x] for x in langs] + ([queries[x] for x in langs] if queries else [])
    reducer = umap.UMAP(n_neighbors=min(15, len(langs) * n - 1), metric="cosine", random_state=seed, init="random",
                        n_jobs=1)
    xy = reducer.fit_transform(np.vstack(blocks))
    fig = go.Figure()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for i in range(n):
        for k in range(len(langs)):
            xs.append(float(xy[k * n + i, 0]))
            ys.append(float(xy[k * n + i, 1]))
        xs.append(None)
        ys.append(None)
    fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(120,120,120,0.3)", width=1),
                    name="translations joined", hoverinfo="skip")
    for k, lang in enumerate(langs):
        part = xy[k * n:(k + 1) * n]
        fig.add_scatter(x=part[:, 0], y=part[:, 1], mode="markers", name=f"{lang} passages", text=list(labels),
                        marker=dict(size=7, color=_color(lang, langs), line=dict(width=0.5, color="white")),
                        hovertemplate="%{text}<extra>" + lang + "</extra>")
        if queries:
            q = xy[(len(langs) + k) * n:(len(langs) + k + 1) * n]
            fig.add_scatter(x=q[:, 0], y=q[:, 1], mode="markers", name=f"{lang} questions", text=list(labels),
                            marker=dict(size=6, symbol="x", color=_color(lang, langs)),
                            hovertemplate="question · %{text}<extra>" + lang + "</extra>")
    fig.update_layout(title=title, height=520, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      margin=dict(t=60, b=20))
    return fig


def warm_up() -> None:
    """Compile UMAP's numba kernels once at start-up (≈ 20 s on a cold 2-core machine) so that the first
    map a user draws comes back in seconds."""
    import umap

    rng = np.random.default_rng(0)
    umap.UMAP(n_neighbors=5, metric="cosine", random_state=0, init="random", n_jobs=1, n_epochs=20).fit_transform(
        rng.normal(size=(40, 8)).astype(np.float32))


def compare_change(table: pd.DataFrame, metric: str) -> go.Figure:
    """The change of one metric per scenario × query language, as its own bar with its 95% CI; a
    star marks a Benjamini–Hochberg q < 0.05."""
    df = table[table.metric == metric]
    if df.empty:
        return empty(f"{metric}: not in this comparison")
    x = [f"{s} · {q}" + (f" → {d}" if s == "mono-cross" else "") for s, q, d in
         zip(df.scenario, df.query_lang, df.doc_lang, strict=True)]
    colors = ["#2ca02c" if d > 0 else "#d62728" if d < 0 else "#999" for d in df["delta"]]
    fig = go.Figure(go.Bar(
        x=x, y=df["delta"], marker_color=colors,
        error_y=dict(type="data", symmetric=False, array=df["ci_high"] - df["delta"], arrayminus=df["delta"] - df["ci_low"]),
        text=[f"{d:+.2f}{' *' if q < 0.05 else ''}" for d, q in zip(df["delta"], df["q_value"], strict=True)],
        textposition="outside", customdata=np.stack([df["before"], df["after"], df["q_value"]], axis=1),
        hovertemplate="%{x}<br>before %{customdata[0]:.2f} → after %{customdata[1]:.2f}<br>change %{y:+.2f}"
                      "<br>q = %{customdata[2]:.3g}<extra></extra>"))
    fig.add_hline(y=0, line_color="#444")
    fig.update_layout(title=f"Change in {METRIC_LABELS.get(metric, metric)} (after − before; bars: 95% CI; "
                            "* q < 0.05)", yaxis_title="change", height=420, margin=dict(t=60, b=80))
    return fig


def leaderboard_chart(board: pd.DataFrame, metric: str = "multi complete@10") -> go.Figure:
    """One bar per model × query language for a leaderboard column; rates on 0–100."""
    if board.empty:
        return empty("no models diagnosed yet")
    fig = go.Figure()
    for qlang in dict.fromkeys(board.query_lang):
        sub = board[board.query_lang == qlang]
        fig.add_bar(name=f"{qlang} queries", x=[f"{m} ({p})" for m, p in zip(sub.model, sub.pair, strict=True)],
                    y=sub[metric])
    is_rate = "max_r" not in metric or "norm" in metric
    fig.update_layout(barmode="group", title=f"{metric} by model", height=420, margin=dict(t=60, b=120),
                      yaxis=dict(title=metric, range=[0, 100] if is_rate else None,
                                 type="linear" if is_rate else "log"))
    return fig


__all__ = ["LANG_COLORS", "bias_matrix", "compare_change", "empty", "inclination_view", "leaderboard_chart",
           "multi_overview", "rank_cdf", "umap_pairs"]
