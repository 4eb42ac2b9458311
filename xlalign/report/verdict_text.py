"""The verdict in words: one sentence per language pair, the headline, and the before/after finding.

The rule itself (thresholds, which rates, the pair invariance) is :mod:`xlalign.core.verdict`; this module
only writes what it decided, with its numbers. Every sentence uses only pair numbers, so the same pair
reads the same in a pair diagnosis, a k-language diagnosis, the Languages and Models tabs and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from xlalign.core.verdict import (
    ALPHA,
    DEPTH,
    IMPACT_MIN,
    INCLINATION,
    MIN_DOCS,
    PIVOT_PREFERENCE,
    PREFERENCE_MIN,
    QUALITY_MIN,
    TARGET_INCLINATION,
    TARGET_PREFERENCE,
    TOO_FEW,
    WEAK,
    WELL_ALIGNED,
    Verdict,
    direction,
)

LANG_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "ar": "Arabic", "de": "German", "hi": "Hindi", "ur": "Urdu",
    "fr": "French", "pt": "Portuguese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "vi": "Vietnamese", "th": "Thai", "el": "Greek", "ro": "Romanian",
    "id": "Indonesian", "bn": "Bengali", "sw": "Swahili", "fa": "Persian", "uk": "Ukrainian", "he": "Hebrew",
    "sv": "Swedish", "da": "Danish", "fi": "Finnish", "no": "Norwegian", "cs": "Czech", "hu": "Hungarian",
    "ta": "Tamil", "te": "Telugu", "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ms": "Malay", "tl": "Tagalog",
}
#: The rule in one line (the headline's last words, the README's and the page's).
RULE = (f"a bias is named when the queries favour one language's documents over their own translations (95% CI "
        f"beyond 50 ± {PREFERENCE_MIN:.0f}%) and an irrelevant document of that language outranks the other gold for "
        f"≥ {IMPACT_MIN:.0f}% of queries; weak retrieval when Mono-Same or Mono-Cross NDCG@10 is below "
        f"{QUALITY_MIN:.0f}; pair numbers, the same in any pool that holds the pair")


def lang_name(code: str) -> str:
    return LANG_NAMES.get(code, code)


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 10 or v == 0 else f"{v:.1f}%"


def _ci(ci: tuple[float, float], unit: str = "%") -> str:
    lo, hi = ci
    digits = 1 if hi - lo < 2 else 0
    return f"95% CI {lo:.{digits}f}–{hi:.{digits}f}{unit}"


def lead(v: Verdict) -> str:
    """``Chinese queries`` or ``English queries against the Chinese gold``."""
    who = f"{lang_name(v.query_lang)} queries"
    return who if v.query_lang != v.pivot else f"{who} against the {lang_name(v.against)} gold"


def kind_words(v: Verdict) -> str:
    """The kind with the pair's language names (``English inclination``)."""
    pivot, target = lang_name(v.pivot), lang_name(v.target)
    return {INCLINATION: f"{pivot} inclination", TARGET_INCLINATION: f"{target} inclination",
            PIVOT_PREFERENCE: f"{pivot} preference", TARGET_PREFERENCE: f"{target} preference"}.get(v.kind, v.kind)


def preference_clause(v: Verdict) -> str:
    """The translation preference in words, from the side of the favoured language."""
    q, o = lang_name(v.query_lang), lang_name(v.against)
    if v.prefers is None:
        return (f"none — irrelevant {q} documents outrank their {o} translations in "
                f"{v.preference:.1f}% of comparisons ({_ci(v.preference_ci)}; 50% = none)")
    own = v.prefers == v.query_lang
    winner, loser = (q, o) if own else (o, q)
    share = v.preference if own else 100.0 - v.preference
    ci = v.preference_ci if own else (100.0 - v.preference_ci[1], 100.0 - v.preference_ci[0])
    odds = v.odds if own else (1.0 / v.odds if v.odds > 0 else float("inf"))
    times = "" if odds == float("inf") else f", {odds:.1f}× as often as the reverse"
    return (f"irrelevant {winner} documents outrank their {loser} translations in {share:.1f}% of comparisons "
            f"({_ci(ci)}; 50% = none){times}")


def impact_clause(v: Verdict, with_n: bool = True) -> str:
    """The impact in the favoured direction (the query's own language when there is no preference): how many
    queries see an irrelevant document of that language above the other gold, and how many lose the gold from
    the first page to ten of them."""
    q, o = lang_name(v.query_lang), lang_name(v.against)
    docs, gold = (o, q) if v.favours_other else (q, o)
    n_part = f", n = {v.n_queries}" if with_n else ""
    page, page_ci = v.off_page
    where = "" if v.favours_other or v.median_own_above is None else \
        f" (median: {v.median_own_above:.0f} of the {v.docs_per_lang} {q} documents above it)"
    return (f"for {_pct(v.impact)} of queries ({_ci(v.impact_ci)}{n_part}) an irrelevant {docs} document outranks "
            f"the {gold} gold, and for {_pct(page)} ({_ci(page_ci)}) at least {DEPTH} push it off the first page{where}")


def quality_clause(v: Verdict) -> str:
    """Quality without competition: Mono-Same and Mono-Cross NDCG@10 with their intervals."""
    return (f"Mono-Same NDCG@10 {v.mono_same:.1f} ({_ci(v.mono_same_ci, '')}), Mono-Cross ({lang_name(v.against)} "
            f"documents) {v.mono_cross:.1f} ({_ci(v.mono_cross_ci, '')})")


def sentence(v: Verdict) -> str:
    """One paragraph: the pair's verdict, then its three parts — preference, impact, quality without competition —
    each with its numbers and 95% CI, the deciding part first."""
    mark = " (borderline)" if v.borderline else ""
    pref, impact, quality = preference_clause(v), impact_clause(v), quality_clause(v)
    if v.kind == TOO_FEW:
        return (f"{lead(v)}: {TOO_FEW} — the pool holds {v.docs_per_lang} documents per language and the "
                f"{DEPTH}-document rule needs at least {MIN_DOCS}; as measured, preference: {pref}; impact: {impact}; "
                f"quality without competition: {quality}.")
    if v.kind == WEAK:
        return (f"{lead(v)}: {WEAK}{mark} — quality without competition: {quality}: below {QUALITY_MIN:.0f}, the model "
                f"misses the answer even with one language in the pool; preference: {pref}; impact: {impact}.")
    if v.kind == WELL_ALIGNED:
        return f"{lead(v)}: {WELL_ALIGNED}{mark} — preference: {pref}; quality without competition: {quality}; impact: {impact}."
    if v.biased:
        return f"{lead(v)}: {kind_words(v)}{mark} — preference: {pref}; impact: {impact}; quality without competition: {quality}."
    return (f"{lead(v)}: {kind_words(v)} without noticeable impact{mark} — preference: {pref}; impact: only {impact} "
            f"(noticeable: ≥ {IMPACT_MIN:.0f}% of queries); quality without competition: {quality}.")


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


#: The first-page rates of a before/after table in words (the one that fell most is named).
RATE_WORDS = {"displaced_by_own@10": "first page lost to own-language documents",
              "displaced_by_pivot@10": "first page lost to {pivot} documents"}


def compare_finding(table: pd.DataFrame, pivot: str, markdown: bool = True, before: Sequence[Verdict] = (),
                    after: Sequence[Verdict] = ()) -> str:
    """The finding of a before/after table (``compare.csv`` rows) in words, one line per target language.

    Per target language: the verdict before → after (when both sides' verdicts are given: the same rule as every
    other view), the translation preference (``own_preference``, 50% = none), the Multi-pool Complete@10 (the
    paper's headline), the first-page rate that fell most, and the cost on own-language search (Mono-Same
    NDCG@10), each change with its 95% CI and BH q-value; then how many of all tests changed significantly
    (q < 0.05) for better and for worse. ``markdown=False`` drops the bold marks (terminal output).
    """
    was = {v.query_lang: v for v in before if v.query_lang != pivot}
    now = {v.query_lang: v for v in after if v.query_lang != pivot}
    lines = []
    targets = [q for q in dict.fromkeys(table.query_lang) if q != pivot]
    for q in targets:
        parts = []
        if q in was and q in now:
            parts.append(f"{_verdict_words(was[q])} → {_verdict_words(now[q])}")
        if (pref := _row(table, "multi", q, "own_preference")) is not None:
            parts.append(f"{lang_name(q)} documents over their {lang_name(pivot)} translations {_change(pref, '%')}")
        if (c10 := _row(table, "multi", q, "complete@10")) is not None:
            parts.append(f"Multi Complete@10 {_change(c10, '%')}")
        rates = [r for m in RATE_WORDS if (r := _row(table, "multi", q, m)) is not None]
        if rates:
            worst = min(rates, key=lambda r: r.delta)
            parts.append(f"{RATE_WORDS[worst.metric].format(pivot=lang_name(pivot))} ({worst.metric}) "
                         f"{_change(worst, '%')}")
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


def _verdict_words(v: Verdict) -> str:
    return kind_words(v) + (" (borderline)" if v.borderline else "")


__all__ = ["LANG_NAMES", "RULE", "compare_finding", "headline", "impact_clause", "kind_words", "lang_name", "lead",
           "preference_clause", "quality_clause", "sentence"]
