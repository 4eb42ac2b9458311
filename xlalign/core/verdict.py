"""The verdict: which failure dominates, per query language, in words with its numbers.

Rule (Multi pool; rates are shares of queries, with Wilson 95% intervals):

* **pivot inclination** (English inclination when the pivot is English; Hong et al. 2026) —
  ``displaced_by_pivot@10`` ≥ 20%: at least 10 irrelevant pivot-language documents outrank the
  query-language gold, so a user searching in their own language sees the pivot language first.
* **same-language clustering** — ``displaced_by_own@10`` ≥ 20%: at least 10 irrelevant documents in
  the query's language outrank the best other-language gold, so translations of the answer sink.
* **both** when both rates reach the threshold; **well aligned** when neither does.

A verdict is marked *borderline* when the 95% interval of a deciding rate straddles the threshold.
Pivot-language queries can only show clustering. The rule is written once, here, and in the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from xlalign.core.metrics import wilson_interval

THRESHOLD = 20.0
INCLINATION = "displaced_by_pivot@10"
CLUSTERING = "displaced_by_own@10"
KINDS = ("pivot inclination", "same-language clustering", "both", "well aligned")

LANG_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "ar": "Arabic", "de": "German", "hi": "Hindi", "ur": "Urdu",
    "fr": "French", "pt": "Portuguese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "vi": "Vietnamese", "th": "Thai", "el": "Greek", "ro": "Romanian",
    "id": "Indonesian", "bn": "Bengali", "sw": "Swahili", "fa": "Persian", "uk": "Ukrainian", "he": "Hebrew",
    "sv": "Swedish", "da": "Danish", "fi": "Finnish", "no": "Norwegian", "cs": "Czech", "hu": "Hungarian",
    "ta": "Tamil", "te": "Telugu", "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ms": "Malay", "tl": "Tagalog",
}


def lang_name(code: str) -> str:
    return LANG_NAMES.get(code, code)


@dataclass(frozen=True)
class Verdict:
    """The finding for one query language, with the numbers that decide it."""

    query_lang: str
    kind: str
    borderline: bool
    n_queries: int
    pool_size: int
    inclination: float | None
    inclination_ci: tuple[float, float] | None
    clustering: float
    clustering_ci: tuple[float, float]
    complete_at_10: float
    max_r: float
    sentence: str

    @property
    def severity(self) -> float:
        """The larger deciding rate (for sorting languages worst first)."""
        return max(self.clustering, self.inclination or 0.0)


def _ci(rate: float, n: int) -> tuple[float, float]:
    return wilson_interval(round(rate / 100.0 * n), n)


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 10 or v == 0 else f"{v:.1f}%"


def _kind(incl: float | None, clus: float) -> str:
    hi_i, hi_c = (incl or 0.0) >= THRESHOLD, clus >= THRESHOLD
    return "both" if hi_i and hi_c else "pivot inclination" if hi_i else "same-language clustering" if hi_c \
        else "well aligned"


def _straddles(ci: tuple[float, float] | None) -> bool:
    return ci is not None and ci[0] < THRESHOLD <= ci[1]


def verdict_for(summary: pd.DataFrame, matrix: pd.DataFrame | None, query_lang: str, pivot: str,
                langs: Sequence[str]) -> Verdict:
    """The verdict of one query language from the long-format summary (and matrix) of one pool mode."""
    multi = summary[(summary.scenario == "multi") & (summary.query_lang == query_lang)].set_index("metric")
    if multi.empty:
        raise KeyError(f"no Multi results for {query_lang!r} queries")
    n, size = int(multi["n_queries"].iloc[0]), int(multi["pool_size"].iloc[0])
    clus = float(multi.loc[CLUSTERING, "value"])
    incl = float(multi.loc[INCLINATION, "value"]) if query_lang != pivot and INCLINATION in multi.index else None
    ci_c, ci_i = _ci(clus, n), (_ci(incl, n) if incl is not None else None)
    kind = _kind(incl, clus)
    others = [x for x in langs if x != query_lang]
    q = lang_name(query_lang)
    target = f"the {lang_name(others[0])} gold" if len(others) == 1 else \
        f"every other-language gold ({', '.join(others)})"
    median = _median_rank(matrix, query_lang, others)
    where = "" if median is None else f" ({'' if len(others) == 1 else 'best '}median rank {median:.0f} of {size})"
    text_c = f"at least 10 irrelevant {q} documents outrank {target}{where}"
    text_i = f"at least 10 irrelevant {lang_name(pivot)} documents outrank the {q} gold"
    parts = [(clus, ci_c, text_c)] + ([(incl, ci_i, text_i)] if incl is not None and ci_i is not None else [])
    if kind == "pivot inclination":
        parts.reverse()
    clauses = [f"for {_pct(rate)}{' of queries' if k == 0 else ''} (95% CI {ci[0]:.0f}–{ci[1]:.0f}%"
               f"{f', n = {n}' if k == 0 else ''}) {text}" for k, (rate, ci, text) in enumerate(parts)]
    lead = {"pivot inclination": f"{lang_name(pivot)} inclination", "both": f"{lang_name(pivot)} inclination and "
            "same-language clustering"}.get(kind, kind)
    body = "; ".join(clauses)
    borderline = _straddles(ci_c) or _straddles(ci_i)
    tail = (f". Multi Complete@10 {multi.loc['complete@10', 'value']:.1f}%, Max@R {multi.loc['max_r', 'value']:.1f} "
            f"of {size}.")
    sentence = f"{q} queries: {lead}{' (borderline)' if borderline else ''} — {body}{tail}"
    return Verdict(query_lang, kind, borderline, n, size, incl, ci_i, clus, ci_c,
                   float(multi.loc["complete@10", "value"]), float(multi.loc["max_r", "value"]), sentence)


def _median_rank(matrix: pd.DataFrame | None, query_lang: str, others: Sequence[str]) -> float | None:
    if matrix is None or matrix.empty:
        return None
    sel = matrix[(matrix.query_lang == query_lang) & matrix.doc_lang.isin(others) & (matrix.metric == "median_rank")]
    return float(sel.value.min()) if len(sel) else None


def verdicts(summary: pd.DataFrame, matrix: pd.DataFrame | None, pivot: str, langs: Sequence[str]) -> list[Verdict]:
    """One verdict per query language, target languages first (worst first), the pivot last."""
    out = [verdict_for(summary, matrix, q, pivot, langs) for q in langs
           if not summary[(summary.scenario == "multi") & (summary.query_lang == q)].empty]
    return sorted(out, key=lambda v: (v.query_lang == pivot, -v.severity))


def headline(found: Sequence[Verdict], pivot: str) -> str:
    """One line over all languages: which bias dominates where."""
    targets = [v for v in found if v.query_lang != pivot]
    if not targets:
        return "No target-language queries were evaluated."
    by_kind: dict[str, list[str]] = {}
    for v in targets:
        by_kind.setdefault(v.kind, []).append(lang_name(v.query_lang))
    parts = [f"{', '.join(names)}: {kind if kind != 'pivot inclination' else lang_name(pivot) + ' inclination'}"
             for kind, names in by_kind.items()]
    return "Finding — " + "; ".join(parts) + f" (rule: a bias dominates when ≥ {THRESHOLD:.0f}% of queries show it)."


#: Metrics where a fall is an improvement; ``same_lang_preference`` is neither better nor worse.
LOWER_IS_BETTER = frozenset({"max_r", "displaced_by_own@10", "displaced_by_pivot@10", "pivot_over_gold",
                             "pivot_intrusion@1", "same_over_other_gold", "english_over_gold", "english_intrusion@1"})
NEUTRAL = frozenset({"same_lang_preference"})
ALPHA = 0.05


def direction(metric: str, delta: float) -> int:
    """+1 when a change of ``delta`` in ``metric`` is an improvement, −1 when it is a loss, 0 when neutral."""
    if metric in NEUTRAL or delta == 0:
        return 0
    return (-1 if delta > 0 else 1) if metric in LOWER_IS_BETTER else (1 if delta > 0 else -1)


def _change(row: pd.Series, unit: str = "") -> str:
    sig = f"q = {row.q_value:.2g}" if row.q_value < ALPHA else f"q = {row.q_value:.2g}, not significant"
    return (f"{row.before:.1f}{unit} → {row.after:.1f}{unit} ({row.delta:+.1f}, 95% CI {row.ci_low:+.1f}…"
            f"{row.ci_high:+.1f}, {sig})")


def _row(table: pd.DataFrame, scenario: str, query_lang: str, metric: str) -> pd.Series | None:
    hit = table[(table.scenario == scenario) & (table.query_lang == query_lang) & (table.metric == metric)]
    return None if hit.empty else hit.iloc[0]


def compare_finding(table: pd.DataFrame, pivot: str, markdown: bool = True) -> str:
    """The finding of a before/after table (``compare.csv`` rows) in words, one line per target language.

    Per target language: the Multi-pool Complete@10 (the paper's headline), the deciding verdict rate that
    fell most, and the cost on own-language search (Mono-Same NDCG@10), each with its 95% CI and BH q-value;
    then how many of all tests changed significantly (q < 0.05) for better and for worse. ``markdown=False``
    drops the bold marks (terminal output).
    """
    lines = []
    targets = [q for q in dict.fromkeys(table.query_lang) if q != pivot]
    for q in targets:
        parts = []
        if (c10 := _row(table, "multi", q, "complete@10")) is not None:
            parts.append(f"Multi Complete@10 {_change(c10, '%')}")
        rates = [r for m in (CLUSTERING, INCLINATION) if (r := _row(table, "multi", q, m)) is not None]
        if rates:
            worst = min(rates, key=lambda r: r.delta)
            label = "same-language clustering" if worst.metric == CLUSTERING else f"{lang_name(pivot)} inclination"
            parts.append(f"{label} ({worst.metric}) {_change(worst, '%')}")
        if (same := _row(table, "mono-same", q, "ndcg@10")) is not None:
            parts.append(f"own-language search (Mono-Same NDCG@10) {_change(same)}")
        if parts:
            lines.append(f"- **{lang_name(q)} queries**: " + "; ".join(parts) + ".")
    signs = [direction(m, d) for m, d, qv in zip(table.metric, table.delta, table.q_value, strict=True) if qv < ALPHA]
    better, worse = signs.count(1), signs.count(-1)
    lines.append(f"- Of {len(table)} tests, {len(signs)} changed significantly (Benjamini–Hochberg q < {ALPHA}): "
                 f"{better} for the better, {worse} for the worse"
                 + (f", {len(signs) - better - worse} neutral." if len(signs) > better + worse else "."))
    text = "\n".join(lines)
    return text if markdown else text.replace("**", "")


__all__ = ["CLUSTERING", "INCLINATION", "KINDS", "LANG_NAMES", "LOWER_IS_BETTER", "THRESHOLD", "Verdict",
           "compare_finding", "direction", "headline", "lang_name", "verdict_for", "verdicts"]
