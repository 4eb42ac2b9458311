"""The verdict in words: one sentence per language pair, the headline, and the before/after finding.

The rule itself (thresholds, which rates, the pair invariance) is :mod:`xlalign.core.verdict`; this module
only writes what it decided, with its numbers. Every sentence uses only pair numbers, so the same pair
reads the same in a pair diagnosis, a k-language diagnosis, the Languages and Models tabs and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xlalign.core.verdict import ALPHA, CLUSTERING, DEPTH, INCLINATION, MIN_DOCS, THRESHOLD, TOO_FEW, Verdict, direction

LANG_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "ar": "Arabic", "de": "German", "hi": "Hindi", "ur": "Urdu",
    "fr": "French", "pt": "Portuguese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "vi": "Vietnamese", "th": "Thai", "el": "Greek", "ro": "Romanian",
    "id": "Indonesian", "bn": "Bengali", "sw": "Swahili", "fa": "Persian", "uk": "Ukrainian", "he": "Hebrew",
    "sv": "Swedish", "da": "Danish", "fi": "Finnish", "no": "Norwegian", "cs": "Czech", "hu": "Hungarian",
    "ta": "Tamil", "te": "Telugu", "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ms": "Malay", "tl": "Tagalog",
}
#: The rule in one line (the headline's last words, the README's and the page's).
RULE = (f"a bias dominates when ≥ {THRESHOLD:.0f}% of a language's queries have ≥ {DEPTH} irrelevant documents of "
        "one language above a gold; pair rates, the same in any pool that holds the pair")


def lang_name(code: str) -> str:
    return LANG_NAMES.get(code, code)


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 10 or v == 0 else f"{v:.1f}%"


def _clause(rate: float, ci: tuple[float, float], n: int | None, text: str) -> str:
    n_part = f", n = {n}" if n is not None else ""
    return f"for {_pct(rate)}{' of queries' if n is not None else ''} (95% CI {ci[0]:.0f}–{ci[1]:.0f}%{n_part}) {text}"


def lead(v: Verdict) -> str:
    """``Chinese queries`` or ``English queries against the Chinese gold``."""
    who = f"{lang_name(v.query_lang)} queries"
    return who if v.query_lang != v.pivot else f"{who} against the {lang_name(v.against)} gold"


def kind_words(v: Verdict) -> str:
    pivot = lang_name(v.pivot)
    return {"pivot inclination": f"{pivot} inclination",
            "both": f"{pivot} inclination and same-language clustering"}.get(v.kind, v.kind)


def sentence(v: Verdict) -> str:
    """One sentence: the pair's verdict, its deciding rates with their 95% CIs and n, and the pool's size."""
    q, other = lang_name(v.query_lang), lang_name(v.against)
    where = "" if v.median_own_above is None else \
        f" (median {v.median_own_above:.0f} of the {v.docs_per_lang} {q} documents)"
    text_c = f"at least {DEPTH} irrelevant {q} documents outrank the {other} gold{where}"
    parts = [(v.clustering, v.clustering_ci, text_c)]
    if v.inclination is not None and v.inclination_ci is not None:
        text_i = f"at least {DEPTH} irrelevant {other} documents outrank the {q} gold"
        parts.append((v.inclination, v.inclination_ci, text_i))
        if v.kind == "pivot inclination":
            parts.reverse()
    body = "; ".join(_clause(rate, ci, v.n_queries if k == 0 else None, text) for k, (rate, ci, text)
                     in enumerate(parts))
    if v.kind == TOO_FEW:
        return (f"{lead(v)}: {TOO_FEW} — the pool holds {v.docs_per_lang} documents per language and the "
                f"{DEPTH}-document rule needs at least {MIN_DOCS}; as measured, {body}.")
    return f"{lead(v)}: {kind_words(v)}{' (borderline)' if v.borderline else ''} — {body}."


def headline(found: Sequence[Verdict], pivot: str, with_rule: bool = True) -> str:
    """One line over all pairs: which bias dominates where (target languages, then the pivot's queries), and
    (``with_rule``) the rule it applies."""
    targets = [v for v in found if v.query_lang != pivot]
    if not targets:
        return "No target-language queries were evaluated."
    parts = [f"{', '.join(names)}: {kind}" for kind, names in _group(targets, lambda v: lang_name(v.query_lang))]
    text = "Finding — " + "; ".join(parts) + "."
    pivots = [v for v in found if v.query_lang == pivot]
    if pivots:
        groups = _group(pivots, lambda v: lang_name(v.against))
        said = "; ".join(f"against {' and '.join(names) if len(names) < 3 else ', '.join(names)}: {kind}"
                         for kind, names in groups)
        text += f" {lang_name(pivot)} queries {said}."
    return text + (f" (Rule: {RULE}.)" if with_rule else "")


def _group(found: Sequence[Verdict], name: object) -> list[tuple[str, list[str]]]:
    by_kind: dict[str, list[str]] = {}
    for v in found:
        by_kind.setdefault(kind_words(v) + (" (borderline)" if v.borderline else ""), []).append(name(v))  # type: ignore[operator]
    return list(by_kind.items())


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


__all__ = ["LANG_NAMES", "RULE", "compare_finding", "headline", "kind_words", "lang_name", "lead", "sentence"]
