"""Plotly figures. Inputs are result tables and embeddings; no metric is computed here.

Rules every figure follows: rates are drawn on a fixed 0–100 axis, ranks on a log axis that starts at 1
with ticks written out (1, 2, 5, 10, 20, 50, 100, …), "not applicable" is written "n/a" and never drawn
as 0, axis titles say what is shown and in which unit, value labels never sit under a whisker, and a
language has **one colour in every figure** (:func:`lang_color`: the same code, the same colour).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from xlalign.core.verdict import PREFERENCE_MIN
from xlalign.report.provenance import MadeWith
from xlalign.report.tables import METRIC_LABELS
from xlalign.report.verdict_text import lang_name

#: One colour per language, the same in every figure (Tableau 10 first, then more distinct hues).
LANG_PALETTE: dict[str, str] = {
    "en": "#1f77b4", "zh": "#d62728", "es": "#ff7f0e", "ar": "#2ca02c", "de": "#9467bd", "hi": "#8c564b",
    "ur": "#e377c2", "fr": "#17becf", "th": "#bcbd22", "vi": "#7f7f7f", "el": "#393b79", "ro": "#637939",
    "tr": "#8c6d31", "ru": "#843c39", "ja": "#7b4173", "ko": "#3182bd", "pt": "#e6550d", "it": "#31a354",
}
_SPARE = ("#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b", "#ce6dbd", "#9c9ede", "#cedb9c", "#e7969c", "#de9ed6",
          "#5254a3", "#8ca252", "#bd9e39", "#ad494a", "#a55194")
RATE_METRICS = ("complete@10", "same_lang_preference", "displaced_by_own@10", "displaced_by_pivot@10")
#: Matrix metrics the page offers, with the title each heatmap carries.
MATRIX_CHOICES = {
    "best_gold_share": "Share of queries whose best-ranked gold is in each language (%)",
    "own_preference": "Translation preference: an irrelevant query-language document beats its translation into "
                      "that language (% of comparisons; 50 = none; the verdict's pairs)",
    "mono_ndcg@10": "Quality without competition: NDCG@10 with one language in the pool (diagonal: Mono-Same)",
    "median_rank": "Median rank of the gold in each language",
    "clustering@10": "Clustering: ≥10 irrelevant query-language documents above that language's gold (%)",
    "inclination@10": "Inclination: ≥10 irrelevant documents of that language above the query-language gold (%)",
    "distractor_over_own_gold": "An irrelevant document of that language beats the query-language gold (%)",
    "mean_rank": "Mean rank of the gold in each language",
}
METRIC_MATRIX_TITLES = MATRIX_CHOICES
#: Metrics measured in percent (a change of one is in percentage points).
PERCENT_METRICS = ("complete@", "ndcg@", "recall@", "max_r_norm", "same_lang_preference", "own_preference", "displaced_by_",
                   "pivot_over_gold", "pivot_intrusion@", "same_over_other_gold", "english_")


def lang_color(lang: str) -> str:
    """The colour of ``lang`` in every figure (unknown codes get a stable colour from their name)."""
    if lang in LANG_PALETTE:
        return LANG_PALETTE[lang]
    return _SPARE[int.from_bytes(hashlib.md5(lang.encode()).digest()[:2], "little") % len(_SPARE)]


def rank_ticks(size: int) -> tuple[list[int], list[str]]:
    """Log-axis ticks 1, 2, 5, 10, 20, 50, … up to ``size``, written out in full."""
    ticks = [m * 10**e for e in range(0, 8) for m in (1, 2, 5) if m * 10**e <= max(size, 1)]
    return ticks, [f"{t:,}" for t in ticks]


def _footer(fig: go.Figure, made: MadeWith | None) -> None:
    if made is not None:
        fig.add_annotation(text=made.brief(), showarrow=False, xref="paper", yref="paper", x=0, y=-0.01,
                           xanchor="left", yanchor="top", yshift=-46, font=dict(size=10, color="#777"))


def empty(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15, color="#555"), x=0.5, y=0.5, xref="paper",
                       yref="paper")
    fig.update_layout(height=220, xaxis=dict(visible=False), yaxis=dict(visible=False), margin=dict(t=20, b=20))
    return fig


def _overview_values(df: pd.DataFrame, lang: str) -> np.ndarray:
    """The four rates of one query language; a pivot with one target shows its clustering against it."""
    sub = df[df.query_lang == lang].set_index("metric")["value"]
    per_target = [m for m in sub.index if m.startswith("displaced_by_own@10:")]
    if "displaced_by_own@10" not in sub and len(per_target) == 1:
        sub = pd.concat([sub, pd.Series({"displaced_by_own@10": sub[per_target[0]]})])
    return sub.reindex(list(RATE_METRICS)).to_numpy(dtype=float)


def _rate_labels(pivot: str, lang: str, targets: Sequence[str]) -> dict[str, str]:
    """What each of the four Multi rates holds for ``lang``'s queries, in words (the hover text of its bar)."""
    p = lang_name(pivot)
    if lang == pivot:
        other = lang_name(targets[0]) if len(targets) == 1 else "each target's"
        clustering = (f"≥10 irrelevant {p} documents above the {other} gold" if len(targets) == 1 else
                      "n/a: one rate per target (the matrix's clustering@10)")
        inclination = f"n/a: {p} queries have no {p} inclination"
    else:
        clustering = f"≥10 irrelevant {lang_name(lang)} documents above the {p} gold"
        inclination = f"≥10 irrelevant {p} documents above the {lang_name(lang)} gold"
    return {"complete@10": "every gold in the top 10", "same_lang_preference": "the best-ranked gold is in the "
            "query's own language", "displaced_by_own@10": clustering, "displaced_by_pivot@10": inclination}


def multi_overview(summary: pd.DataFrame, pivot: str) -> go.Figure:
    """Bars of the Multi-scenario rates per query language on 0–100. n/a (pivot queries have no pivot inclination,
    and in a pool of several targets their clustering is one rate per target: the matrix) is written, not drawn
    as 0. Each bar's hover says exactly what its rate counts for that language (the pivot's clustering is against
    the target's gold, a target's against the pivot's). Up to three languages: grouped upright bars; beyond, one
    small panel per rate with one lying bar per language (:func:`_overview_panels`), so that every label stays
    horizontal and legible."""
    df = summary[(summary.scenario == "multi") & (summary.metric.isin(RATE_METRICS)
                                                  | summary.metric.str.startswith("displaced_by_own@10:"))]
    langs = list(dict.fromkeys(df.query_lang))
    targets = [x for x in langs if x != pivot]
    values = {lang: _overview_values(df, lang) for lang in langs}
    said = {lang: _rate_labels(pivot, lang, targets) for lang in langs}
    if len(langs) > 3:
        return _overview_panels(langs, pivot, values, said)
    labels = {"complete@10": "Complete@10", "same_lang_preference": "best gold in<br>own language",
              "displaced_by_own@10": "clustering:<br>≥10 own-language<br>docs above the<br>other language's gold",
              "displaced_by_pivot@10": f"inclination:<br>≥10 {lang_name(pivot)}<br>docs above the<br>own gold"}
    fig = go.Figure()
    for lang in langs:
        v = values[lang]
        fig.add_bar(name=f"{lang} queries", x=[labels[m] for m in RATE_METRICS], y=np.nan_to_num(v, nan=0.0),
                    marker_color=lang_color(lang), text=["n/a" if np.isnan(x) else f"{x:.0f}%" for x in v],
                    textposition="outside", textfont=dict(size=12), cliponaxis=False,
                    marker_opacity=[0.0 if np.isnan(x) else 1.0 for x in v], customdata=[said[lang][m] for m in RATE_METRICS],
                    hovertemplate=f"{lang_name(lang)} queries: %{{text}} — %{{customdata}}<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.25, title="Multi pool: every language version of every passage",
                      xaxis=dict(tickangle=0), yaxis=dict(title="% of queries", range=[0, 118], fixedrange=True,
                                                          tickvals=[0, 20, 40, 60, 80, 100]),
                      height=470, margin=dict(t=60, b=120),
                      legend=dict(orientation="h", y=-0.3, x=0, title_text="query language:"))
    return fig


def _overview_panels(langs: Sequence[str], pivot: str, values: Mapping[str, np.ndarray],
                     said: Mapping[str, Mapping[str, str]]) -> go.Figure:
    """Many languages: a 2 × 2 grid, one panel per rate, one horizontal bar per query language (the language's
    colour; its name on the axis), value labels horizontal at a legible size."""
    from plotly.subplots import make_subplots

    titles = ["Complete@10:<br>every gold in the top 10", "best gold in the<br>query's own language",
              "clustering: ≥10 own-language docs<br>above the other language's gold",
              f"inclination: ≥10 {lang_name(pivot)} docs<br>above the own gold"]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, horizontal_spacing=0.16, vertical_spacing=0.16)
    names = [f"{lang_name(x)} ({x})" if lang_name(x) != x else x for x in langs]
    for n, metric in enumerate(RATE_METRICS):
        v = np.array([values[x][n] for x in langs], dtype=float)
        row, col = n // 2 + 1, n % 2 + 1
        fig.add_bar(y=names, x=np.nan_to_num(v, nan=0.0), orientation="h", showlegend=False, row=row, col=col,
                    marker_color=[lang_color(x) for x in langs], marker_opacity=[0.0 if np.isnan(x) else 1.0 for x in v],
                    text=["n/a" if np.isnan(x) else f"{x:.0f}%" for x in v], textposition="outside",
                    textfont=dict(size=12), cliponaxis=False, customdata=[said[x][metric] for x in langs],
                    hovertemplate="%{y} queries: %{text} — %{customdata}<extra></extra>")
        fig.update_xaxes(range=[0, 125], tickvals=[0, 20, 50, 100], fixedrange=True, row=row, col=col)
        fig.update_yaxes(autorange="reversed", fixedrange=True, tickfont=dict(size=11), row=row, col=col)
    fig.update_annotations(font_size=12)
    fig.update_layout(title="Multi pool: every language version of every passage<br><sup>% of queries</sup>",
                      height=240 + 2 * 22 * len(langs),
                      margin=dict(t=110, b=30, l=10, r=10), bargap=0.25)
    return fig


def curve_choices(per_query: pd.DataFrame, scenario: str) -> list[tuple[str, str]]:
    """(label, "q>g") of every (query language, gold language) curve ``scenario`` has."""
    df = per_query[per_query.scenario == scenario]
    out = []
    for q in dict.fromkeys(df.query_lang):
        sub = df[df.query_lang == q]
        for col in [c for c in df.columns if c.startswith("rank_")]:
            if sub[col].notna().any():
                g = col.removeprefix("rank_")
                out.append((f"{q} queries → {g} gold", f"{q}>{g}"))
    return list(dict.fromkeys(out))


def default_curves(per_query: pd.DataFrame, pivot: str, scenario: str = "multi") -> list[str]:
    """The curves drawn first: each language's queries → the pivot gold (pivot queries → their own gold);
    where the pivot holds no gold (Mono-Same, Mono-Cross of the pivot), each query language's first curve."""
    choices = [v for _, v in curve_choices(per_query, scenario)]
    chosen = [c for c in choices if c.endswith(f">{pivot}")]
    firsts = {c.split(">")[0]: c for c in reversed(choices)}
    have = {c.split(">")[0] for c in chosen}
    return chosen + [c for q, c in firsts.items() if q not in have]


def rank_cdf(per_query: pd.DataFrame, scenario: str = "multi", curves: Sequence[str] | None = None, *,
             made: MadeWith | None = None) -> go.Figure:
    """Share of queries whose gold in language g ranks ≤ r, one line per chosen ``"q>g"`` curve (default: each
    language's queries → the pivot gold, the first language being the pivot), on a log rank axis from 1 to the
    pool size. Colour: the query language; solid: its own gold, dashed: another language's gold."""
    df = per_query[per_query.scenario == scenario]
    if df.empty:
        return empty(f"no {scenario} results")
    if curves is None:
        curves = default_curves(per_query, str(df.query_lang.iloc[0]), scenario)
    fig = go.Figure()
    for curve in curves:
        qlang, _, gold = curve.partition(">")
        sub = df[df.query_lang == qlang]
        if f"rank_{gold}" not in sub:
            continue
        ranks = np.sort(pd.to_numeric(sub[f"rank_{gold}"], errors="coerce").dropna().to_numpy())
        if len(ranks) == 0:
            continue
        x = np.concatenate([[1], ranks])
        y = np.concatenate([[0.0], 100.0 * np.arange(1, len(ranks) + 1) / len(ranks)])
        fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", name=f"{qlang} queries → {gold} gold",
                        line=dict(color=lang_color(qlang), dash="solid" if qlang == gold else "dash", width=2))
    size = int(df.pool_size.max())
    ticks, text = rank_ticks(size)
    fig.update_layout(title=f"Where the golds rank ({scenario})",
                      xaxis=dict(title=f"rank (log scale; pool of {size:,})", type="log", range=[0, np.log10(size)],
                                 tickvals=ticks, ticktext=text),
                      yaxis=dict(title="% of queries with the gold at or above this rank", range=[0, 100]),
                      height=440, margin=dict(t=60, b=90 if made else 40), legend=dict(font=dict(size=11)))
    _footer(fig, made)
    return fig


def _cell_text(v: float, ranks: bool) -> str:
    if np.isnan(v):
        return "n/a"
    if ranks:
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
    return f"{v:.1f}%"


def bias_matrix(matrix: pd.DataFrame, metric: str = "best_gold_share") -> go.Figure:
    """Heatmap query language × document language of one matrix metric, fixed scale, values written in (rates
    to one decimal, so 26.5% is never shown as 26; n/a where a cell does not apply, e.g. a pair rate's diagonal)."""
    sel = matrix[matrix.metric == metric]
    langs = list(dict.fromkeys(matrix.query_lang))
    grid = sel.pivot_table(index="query_lang", columns="doc_lang", values="value").reindex(index=langs, columns=langs)
    ranks = metric in ("mean_rank", "median_rank")
    values = grid.to_numpy(dtype=float)
    z = np.log10(values) if ranks else values
    size = int(sel.pool_size.max()) if len(sel) else 1
    text = [[_cell_text(v, ranks) for v in row] for row in values]
    ticks, tick_text = rank_ticks(size)
    # a preference is good at 50 and bad either way: a diverging scale centred there
    scale = "Blues_r" if ranks else "RdBu_r" if metric == "own_preference" else "Reds"
    fig = go.Figure(go.Heatmap(
        z=z, x=langs, y=langs, text=text, texttemplate="%{text}", colorscale=scale,
        zmin=0, zmax=np.log10(size) if ranks else 100, hoverongaps=False,
        hovertemplate="%{y} queries → %{x}: %{text}<extra>click to drill down</extra>",
        colorbar=dict(title="rank" if ranks else "%", tickvals=np.log10(ticks).tolist() if ranks else None,
                      ticktext=tick_text if ranks else None)))
    fig.update_layout(title=MATRIX_CHOICES.get(metric, metric), xaxis=dict(title="document (gold) language", side="bottom"),
                      yaxis=dict(title="query language", autorange="reversed"), height=140 + 45 * len(langs),
                      margin=dict(t=60, b=40), plot_bgcolor="#f4f4f4")
    return fig


def inclination_view(rows: pd.DataFrame, pivot: str) -> go.Figure:
    """The verdict's language preference per target language on a fixed 0–100 axis with 95% CIs, worst verdict
    first: the target's queries (own language over the pivot) and the pivot's queries against that target
    (pivot over the target). 50% is no preference; the band 50 ± 5 is where a preference does not count."""
    df = rows.iloc[::-1]
    fig = go.Figure()
    fig.add_vrect(x0=50 - PREFERENCE_MIN, x1=50 + PREFERENCE_MIN, fillcolor="#ddd", opacity=0.5, line_width=0,
                  annotation_text="no preference", annotation_position="top")
    fig.add_vline(x=50, line_dash="dot", line_color="#999")
    series = [("preference %", "preference CI", "target-language queries: own language over the pivot", "circle", "#333"),
              (f"{pivot} queries: preference %", f"{pivot} queries: preference CI",
               f"{lang_name(pivot)} queries: {lang_name(pivot)} over the target language", "x-thin", "#888")]
    for col, ci, name, symbol, color in series:
        if col not in df:
            continue
        x = df[col].to_numpy(dtype=float)
        lo = np.array([c[0] if isinstance(c, (tuple, list)) else np.nan for c in df[ci]])
        hi = np.array([c[1] if isinstance(c, (tuple, list)) else np.nan for c in df[ci]])
        fig.add_scatter(x=x, y=df["target"], mode="markers", name=name,
                        marker=dict(size=12, symbol=symbol, color=color, line=dict(width=2, color=color)),
                        error_x=dict(type="data", symmetric=False, array=hi - x, arrayminus=x - lo, color=color,
                                     thickness=1.2),
                        customdata=np.stack([lo, hi], axis=1),
                        hovertemplate="%{y}: %{x:.1f}% (95% CI %{customdata[0]:.1f}–%{customdata[1]:.1f})<extra>"
                                      + name + "</extra>")
    fig.update_layout(title=f"Language preference per target ({lang_name(pivot)} + target pool; 95% CI)",
                      xaxis=dict(title="% of comparisons in which an irrelevant document in the queries' own language "
                                       "outranks its translation (50 = none)", range=[-2, 102], fixedrange=True),
                      yaxis=dict(title="target language", type="category", tickvals=list(df["target"]),
                                 ticktext=[f"<span style='color:{lang_color(t)}'>{t}</span>" for t in df["target"]]),
                      height=190 + 45 * len(df), margin=dict(t=70, b=50), legend=dict(orientation="h", y=-0.35))
    return fig


#: Layers of the embedding map: each language's points are split over this many traces, drawn in an order that
#: interleaves the languages, so that no language always lies underneath; a legend click hides all of one
#: language's traces (its legend group).
MAP_LAYERS = 4


def hover_text(text: str, width: int = 60, limit: int = 240) -> str:
    """``text`` as a hover label: escaped, at most ``limit`` characters, in lines of at most ``width`` (broken at
    spaces; a run without spaces, such as Chinese, every ``width // 2`` characters, as each is about two wide),
    so that a long text is never clipped at the figure's edge."""
    import html

    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    half = max(1, width // 2)
    lines: list[str] = []
    for word in text.split(" "):
        pieces = [word[j:j + half] for j in range(0, len(word), half)] if len(word) > half else [word]
        for piece in pieces:
            if lines and len(pieces) == 1 and len(lines[-1]) + 1 + len(piece) <= width:
                lines[-1] += " " + piece
            else:
                lines.append(piece)
    return "<br>".join(html.escape(x) for x in lines)


def _map_lines(fig: go.Figure, xy: np.ndarray, langs: Sequence[str], n: int) -> None:
    """Each passage's translation joined to its first-language version, in the translation's legend group (hidden
    with its points), and one legend key for them."""
    for k, lang in enumerate(langs[1:], 1):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for i in range(n):
            xs += [float(xy[i, 0]), float(xy[k * n + i, 0]), None]
            ys += [float(xy[i, 1]), float(xy[k * n + i, 1]), None]
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(120,120,120,0.3)", width=1),
                        legendgroup=lang, showlegend=False, hoverinfo="skip", name=f"{lang} translations")
    fig.add_scatter(x=[None], y=[None], mode="lines", line=dict(color="rgba(120,120,120,0.6)", width=1),
                    name=f"translation of the {langs[0]} passage", legendrank=2000, hoverinfo="skip")


def _map_points(fig: go.Figure, xy: np.ndarray, langs: Sequence[str], n: int, roles: int,
                hover: Mapping[str, list[list[str]]], item_ids: Sequence[str], seed: int) -> None:
    """The points, ``MAP_LAYERS`` traces per language (its legend group), the languages' traces interleaved in a
    seeded random order; ``hover[lang][role][i]`` is a point's own text (role 0: passage, 1: question)."""
    rng = np.random.default_rng(seed)
    keys = [(b, k, i) for b in range(roles) for k in range(len(langs)) for i in range(n)]
    layer_of = {key: int(j) % MAP_LAYERS for j, key in zip(rng.permutation(len(keys)), keys, strict=True)}
    shown: set[str] = set()
    for layer in range(MAP_LAYERS):
        for k in (int(x) for x in rng.permutation(len(langs))):
            lang = langs[k]
            pts = [(b, i) for b in range(roles) for i in range(n) if layer_of[(b, k, i)] == layer]
            if not pts:
                continue
            fig.add_scatter(
                x=[float(xy[(b * len(langs) + k) * n + i, 0]) for b, i in pts],
                y=[float(xy[(b * len(langs) + k) * n + i, 1]) for b, i in pts], mode="markers",
                name=f"{lang} ({lang_name(lang)})", legendgroup=lang, showlegend=lang not in shown, legendrank=1000 + k,
                marker=dict(size=[7 if b == 0 else 8 for b, _ in pts], color=lang_color(lang),
                            symbol=["circle" if b == 0 else "x" for b, _ in pts], line=dict(width=0.5, color="white")),
                text=[("question · " if b else "passage · ") + hover_text(hover[lang][b][i]) for b, i in pts],
                customdata=[[lang, item_ids[i]] for _, i in pts],
                hovertemplate="%{text}<extra>%{customdata[0]} · click to drill down</extra>")
            shown.add(lang)


def umap_pairs(points: dict[str, np.ndarray], labels: Mapping[str, Sequence[str]], *, title: str, seed: int = 42,
               queries: dict[str, np.ndarray] | None = None, query_labels: Mapping[str, Sequence[str]] | None = None,
               ids: Sequence[str] | None = None, made: MadeWith | None = None) -> go.Figure:
    """UMAP (cosine) of parallel passages (and, optionally, their questions) coloured by language; the
    versions of one passage are joined by grey lines. ``points[lang]`` rows are parallel across languages;
    ``labels[lang][i]`` (and ``query_labels[lang][i]``) is the hover text of that language's point: its own text.

    Each language is one legend group of :data:`MAP_LAYERS` traces drawn interleaved with the other languages'
    (no language is always underneath); a click on a language in the legend hides its points. Each point
    carries ``[lang, item id]`` (``ids``) so that a click can open its drill-down.
    """
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
    _map_lines(fig, xy, langs, n)
    item_ids = list(ids) if ids is not None else [str(i) for i in range(n)]
    hover = {lang: [list(labels[lang]), list((query_labels or {}).get(lang, labels[lang]))] for lang in langs}
    _map_points(fig, xy, langs, n, 2 if queries else 1, hover, item_ids, seed)
    if queries:
        fig.add_scatter(x=[None], y=[None], mode="markers", name="● passage  ✕ question", legendrank=2001,
                        marker=dict(size=1, color="rgba(0,0,0,0)"))
    fig.update_layout(title=title, height=540, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      margin=dict(t=60, b=60 if made else 20), hoverlabel=dict(align="left", font_size=12),
                      legend=dict(itemclick="toggle", itemdoubleclick="toggleothers", traceorder="grouped"))
    _footer(fig, made)
    return fig


def warm_up() -> None:
    """Compile UMAP's numba kernels once at start-up (≈ 20 s on a cold 2-core machine) so that the first
    map a user draws comes back in seconds."""
    import umap

    rng = np.random.default_rng(0)
    umap.UMAP(n_neighbors=5, metric="cosine", random_state=0, init="random", n_jobs=1, n_epochs=20).fit_transform(
        rng.normal(size=(40, 8)).astype(np.float32))


def change_unit(metric: str) -> str:
    """The unit of a change in ``metric``: percentage points for rates, ranks for Max@R, else the metric's own."""
    base = metric.split(":", 1)[0]
    if base.startswith(PERCENT_METRICS):
        return "percentage points"
    if base in ("max_r",):
        return "ranks"
    return "on the metric's 0–1 scale" if base in ("mrr", "map") else "metric units"


def compare_change(table: pd.DataFrame, metric: str) -> go.Figure:
    """The change of one metric per scenario × query language, as its own bar with its 95% CI; a star marks a
    Benjamini–Hochberg q < 0.05. Each label sits beyond its whisker, never across it."""
    df = table[table.metric == metric]
    if df.empty:
        return empty(f"{metric}: not in this comparison")
    x = [f"{s} · {q}" + (f" → {d}" if s == "mono-cross" else "") for s, q, d in
         zip(df.scenario, df.query_lang, df.doc_lang, strict=True)]
    colors = ["#2ca02c" if d > 0 else "#d62728" if d < 0 else "#999" for d in df["delta"]]
    delta, lo, hi = (df[c].to_numpy(dtype=float) for c in ("delta", "ci_low", "ci_high"))
    fig = go.Figure(go.Bar(
        x=x, y=delta, marker_color=colors, name="change",
        error_y=dict(type="data", symmetric=False, array=hi - delta, arrayminus=delta - lo, color="#333"),
        customdata=np.stack([df["before"], df["after"], df["q_value"], lo, hi], axis=1),
        hovertemplate="%{x}<br>before %{customdata[0]:.2f} → after %{customdata[1]:.2f}<br>change %{y:+.2f} "
                      "(95% CI %{customdata[3]:+.2f}…%{customdata[4]:+.2f})<br>q = %{customdata[2]:.3g}<extra></extra>"))
    span = max(float(np.nanmax(np.abs(np.concatenate([lo, hi, [0.0]])))), 1e-9)
    label_y = np.where(delta >= 0, hi + 0.04 * span, lo - 0.04 * span)
    fig.add_scatter(x=x, y=label_y, mode="text", showlegend=False, hoverinfo="skip",
                    text=[f"{d:+.2f}{' *' if q < 0.05 else ''}" for d, q in zip(delta, df["q_value"], strict=True)],
                    textposition=["top center" if d >= 0 else "bottom center" for d in delta])
    fig.add_hline(y=0, line_color="#444")
    fig.update_layout(title=f"Change in {METRIC_LABELS.get(metric.split(':', 1)[0], metric)} (after − before; bars: "
                            "95% CI; * q < 0.05)", yaxis=dict(title=f"change ({change_unit(metric)})",
                                                             range=[min(0.0, float(np.nanmin(lo))) - 0.15 * span,
                                                                    max(0.0, float(np.nanmax(hi))) + 0.15 * span]),
                      height=440, margin=dict(t=60, b=80), showlegend=False)
    return fig


def leaderboard_chart(board: pd.DataFrame, metric: str = "multi complete@10") -> go.Figure:
    """One bar per model × query language for a leaderboard column, coloured by query language; rates on 0–100,
    Max@R on a log axis."""
    if board.empty or metric not in board:
        return empty("no model could be evaluated" if not board.empty else "no models diagnosed yet")
    fig = go.Figure()
    for qlang in dict.fromkeys(board.query_lang):
        sub = board[board.query_lang == qlang]
        fig.add_bar(name=f"{qlang} queries", x=[f"{m}<br>({p})" for m, p in zip(sub.model, sub.pair, strict=True)],
                    y=sub[metric], marker_color=lang_color(str(qlang)))
    is_rate = "max_r" not in metric or "norm" in metric
    ticks, text = rank_ticks(int(np.nanmax(board[metric])) * 2 if not is_rate else 1)
    fig.update_layout(barmode="group", title=f"{metric} by model and language pair", height=440,
                      margin=dict(t=60, b=140), legend=dict(orientation="h", y=-0.35, title_text="query language:"),
                      yaxis=dict(title=f"{metric} (%)" if is_rate else f"{metric} (rank, log)",
                                 range=[0, 100] if is_rate else None, type="linear" if is_rate else "log",
                                 tickvals=None if is_rate else ticks, ticktext=None if is_rate else text))
    return fig


__all__ = ["LANG_PALETTE", "MAP_LAYERS", "MATRIX_CHOICES", "METRIC_MATRIX_TITLES", "bias_matrix", "change_unit",
           "compare_change", "curve_choices", "default_curves", "empty", "hover_text", "inclination_view", "lang_color",
           "leaderboard_chart", "multi_overview", "rank_cdf", "rank_ticks", "umap_pairs"]
