"""Neighbourhood figures as tables and words: bitext mining beside the verdict, purity, the probe, the user's index.

Formats what :mod:`xlalign.core.neighbours` and :mod:`xlalign.services.neighbourhoods` computed; computes no
figure. The one judgement here is a wording one: a pair *mines bitext well* when top-1 accuracy on its
passages is at least :data:`MINES_WELL` % in both directions; when such a pair's verdict is clustering, the
sentence says so (a model can find each text's translation and still rank its own language first in a
mixed pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from xlalign.core.evaluate import EvalResult
from xlalign.core.neighbours import Neighbourhoods
from xlalign.core.verdict import verdicts
from xlalign.report.verdict_text import lang_name

#: Top-1 bitext accuracy (%, passages, both directions) from which a pair "mines bitext well".
MINES_WELL = 90.0
KIND_ORDER = {"passages": 0, "questions": 1}
BITEXT_VIEW = ("texts", "direction", "top-1 %", "top-1 CI", "precision %", "recall %", "F1 %", "F1 CI",
               "xsim error %", "xsim CI", "n")
PURITY_VIEW = ("texts", "language", "purity %", "95% CI", "language-blind %", "n", "pool")


def _num(v: float) -> str:
    """Whole numbers from 10 to 99.5; one decimal near the ends (99.8 is not 100, 4.2 is not 4)."""
    v = round(float(v), 1)
    return f"{v:.0f}" if 10 <= abs(v) < 99.5 or v.is_integer() else f"{v:.1f}"


def _ci(lo: Any, hi: Any) -> str:
    return "n/a" if pd.isna(lo) or pd.isna(hi) else f"{_num(float(lo))}–{_num(float(hi))}"


def _pct(v: float) -> str:
    return f"{_num(float(v))}%"


def _value(frame: pd.DataFrame, **where: Any) -> pd.Series | None:
    sel = frame
    for column, value in where.items():
        sel = sel[sel[column] == value]
    return sel.iloc[0] if len(sel) else None


# ---------------------------------------------------------------------------------------------- tables
def bitext_view(bitext: pd.DataFrame) -> pd.DataFrame:
    """One row per kind and direction: top-1, MTEB's precision/recall/F1 and the margin xsim error, with CIs."""
    rows = []
    for (kind, s, t), part in bitext.groupby(["kind", "source_lang", "target_lang"], sort=False):
        m = part.set_index("metric")
        rows.append({"texts": kind, "direction": f"{s} → {t}", "top-1 %": m.value["accuracy"],
                     "top-1 CI": _ci(m.ci_low["accuracy"], m.ci_high["accuracy"]), "precision %": m.value["precision"],
                     "recall %": m.value["recall"], "F1 %": m.value["f1"], "F1 CI": _ci(m.ci_low["f1"], m.ci_high["f1"]),
                     "xsim error %": m.value["xsim_error"],
                     "xsim CI": _ci(m.ci_low["xsim_error"], m.ci_high["xsim_error"]), "n": int(m.n.iloc[0])})
    view = pd.DataFrame(rows, columns=list(BITEXT_VIEW))
    if view.empty:
        return view
    return view.sort_values("texts", key=lambda c: c.map(KIND_ORDER), kind="stable").reset_index(drop=True)


def purity_view(purity: pd.DataFrame) -> pd.DataFrame:
    """One row per kind and language: purity with its CI beside the language-blind share."""
    rows = []
    for (kind, lang), part in purity.groupby(["kind", "lang"], sort=False):
        own = part[part.metric.str.startswith("purity@")].iloc[0]
        blind = part[part.metric.str.startswith("expected@")].iloc[0]
        rows.append({"texts": kind, "language": lang, "purity %": own.value, "95% CI": _ci(own.ci_low, own.ci_high),
                     "language-blind %": blind.value, "n": int(own.n), "pool": int(own.pool_size)})
    view = pd.DataFrame(rows, columns=list(PURITY_VIEW))
    if view.empty:
        return view
    return view.sort_values("texts", key=lambda c: c.map(KIND_ORDER), kind="stable").reset_index(drop=True)


def before_after(before: pd.DataFrame, after: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Two long tables of the same shape side by side: ``key`` columns, before, after, change (and CIs)."""
    cols = [*key, "value", "ci_low", "ci_high"]
    left = before[cols].rename(columns={"value": "before", "ci_low": "before low", "ci_high": "before high"})
    right = after[cols].rename(columns={"value": "after", "ci_low": "after low", "ci_high": "after high"})
    table = left.merge(right, on=list(key), how="outer")
    table["change"] = table["after"] - table["before"]
    return table


# ---------------------------------------------------------------------------------------------- words
def pair_mining(bitext: pd.DataFrame, a: str, b: str, kind: str = "passages") -> dict[str, float] | None:
    """Top-1 and xsim error both ways for one pair and kind, or None when it was not mined."""
    out: dict[str, float] = {}
    for tag, (s, t) in (("ab", (a, b)), ("ba", (b, a))):
        for metric in ("accuracy", "xsim_error"):
            row = _value(bitext, kind=kind, source_lang=s, target_lang=t, metric=metric)
            if row is None:
                return None
            out[f"{metric}_{tag}"] = float(row.value)
            out["n"] = float(row.n)
    return out


def mining_sentence(bitext: pd.DataFrame, query_lang: str, against: str, verdict_kind: str | None = None,
                    clustered: str | None = None) -> str:
    """The pair's bitext mining in one sentence; when it mines well and the verdict of ``clustered``'s queries (default:
    ``query_lang``'s) is clustering, say that mining well did not keep the mixed pool from clustering."""
    found = pair_mining(bitext, query_lang, against)
    if found is None:
        return ""
    q, o = lang_name(query_lang), lang_name(against)
    text = (f"Bitext mining, {q} ↔ {o} passages: top-1 {_pct(found['accuracy_ab'])} ({query_lang} → {against}) and "
            f"{_pct(found['accuracy_ba'])} ({against} → {query_lang}), margin xsim error {_pct(found['xsim_error_ab'])} "
            f"and {_pct(found['xsim_error_ba'])} (n = {found['n']:.0f}).")
    well = min(found["accuracy_ab"], found["accuracy_ba"]) >= MINES_WELL
    if well and verdict_kind is not None and "clustering" in verdict_kind:
        who, other = (q, o) if clustered in (None, query_lang) else (o, q)
        text += (f" It mines bitext well, yet clusters in a mixed pool: each {q} passage's nearest {o} passage is its "
                 f"translation, but {who} queries still rank {who} documents above the {other} gold.")
    return text


def purity_text(purity: pd.DataFrame, kind: str = "passages") -> str:
    """Per language: purity against the language-blind share, for one kind of text."""
    view = purity_view(purity[purity.kind == kind])
    if view.empty:
        return ""
    k = purity[purity.metric.str.startswith("purity@")].metric.iloc[0].split("@")[1]
    parts = [f"{r.language} {_pct(r['purity %'])} ({_ci(*_bounds(purity, kind, r.language))})" for _, r in view.iterrows()]
    blind = view["language-blind %"]
    blind_text = _pct(float(blind.iloc[0])) if blind.nunique() == 1 else \
        f"{_pct(float(blind.min()))}–{_pct(float(blind.max()))}"
    return (f"Neighbourhood purity ({kind}; share of each text's {k} nearest neighbours, full dimension, in its own "
            f"language; 95% CI): {', '.join(parts)} — a language-blind space gives {blind_text}.")


def _bounds(purity: pd.DataFrame, kind: str, lang: str) -> tuple[float, float]:
    row = purity[(purity.kind == kind) & (purity.lang == lang) & purity.metric.str.startswith("purity@")].iloc[0]
    return float(row.ci_low), float(row.ci_high)


def probe_text(probe: pd.DataFrame | None, after: pd.DataFrame | None = None) -> str:
    """The language-identity probe's accuracy against chance (and, with ``after``, the change)."""
    if probe is None or probe.empty:
        return ""
    parts = []
    for kind in ("passages", "questions"):
        acc = _value(probe, kind=kind, metric="accuracy")
        chance = _value(probe, kind=kind, metric="chance")
        if acc is None or chance is None:
            continue
        now = f"{kind} {_pct(acc.value)} ({_ci(acc.ci_low, acc.ci_high)})"
        later = _value(after, kind=kind, metric="accuracy") if after is not None else None
        if later is not None:
            now += f" → {_pct(later.value)} ({_ci(later.ci_low, later.ci_high)})"
        parts.append(f"{now}, chance {_pct(chance.value)}")
    return ("Language-identity probe (logistic regression, 5-fold cross-validation grouped by item; accuracy, 95% CI"
            + (", before → after" if after is not None else "") + "): " + "; ".join(parts) + ".")


def index_text(record: Mapping[str, Any], table: pd.DataFrame, flips: pd.DataFrame) -> str:
    """The user's index in words: how it was built and timed, the recall it lost, and any verdict it flips."""
    recall = table[table.metric.str.startswith("index_recall@")]
    depth = str(recall.metric.iloc[0]).split("@")[1] if len(recall) else str(record.get("depth"))
    lines = [f"Your index {record.get('index')}{' (' + str(record.get('params')) + ')' if record.get('params') else ''}: "
             f"trained on the pool's {record.get('trained_on')} passages (seed {record.get('seed')}) in "
             f"{record.get('train_s', 0):.2f} s, filled in {record.get('add_s', 0):.2f} s, searched (depth {depth}) in "
             f"{record.get('search_s', 0):.2f} s; {record.get('index_bytes', 0) / 2**20:.1f} MiB for the Multi pool."]
    if len(recall):
        lines.append(f"It returns {recall['index'].mean():.1f}% of the exact top {depth} on average "
                     f"(worst pool: {recall['index'].min():.1f}%).")
    moved = table[~table.metric.str.startswith("index_recall@")].dropna(subset=["change"])
    if len(moved):
        worst = moved.iloc[int(moved.change.to_numpy().argmin())]
        lines.append(f"Largest loss: {worst.scenario} {worst.query_lang} queries {worst.metric} "
                     f"{worst.exact:.1f} → {worst['index']:.1f}.")
    if flips.empty:
        lines.append("No verdict changes.")
    for _, f in flips.iterrows():
        lines.append(f"Verdict flips for {lang_name(str(f.query_lang))} queries against {lang_name(str(f.against))}: "
                     f"{f.exact} (exact) → {f['index']} (your index).")
    lines += [f"Note — {n}" for n in record.get("notes", [])[:3]]
    return "\n".join(lines)


COMPARE_VIEW = ("figure", "before", "before 95% CI", "after", "after 95% CI", "change")


def _pair_rows(before: Neighbourhoods, after: Neighbourhoods, pivot: str, targets: Sequence[str]
               ) -> list[dict[str, Any]]:
    rows = []
    for t in targets:
        for s, d in ((t, pivot), (pivot, t)):
            for metric, label in (("accuracy", "bitext top-1 %"), ("xsim_error", "xsim error %")):
                b = _value(before.bitext, kind="passages", source_lang=s, target_lang=d, metric=metric)
                a = _value(after.bitext, kind="passages", source_lang=s, target_lang=d, metric=metric)
                if b is not None and a is not None:
                    rows.append(_compare_row(f"{label}, {s} → {d} passages", b, a))
    return rows


def _compare_row(figure: str, b: pd.Series, a: pd.Series) -> dict[str, Any]:
    return {"figure": figure, "before": float(b.value), "before 95% CI": _ci(b.ci_low, b.ci_high),
            "after": float(a.value), "after 95% CI": _ci(a.ci_low, a.ci_high), "change": float(a.value - b.value)}


def compare_view(before: Neighbourhoods, after: Neighbourhoods, pivot: str, targets: Sequence[str]) -> pd.DataFrame:
    """Before and after an alignment: each target's mining against the pivot (passages), every language's purity
    (passages) and the probe's accuracy, with their intervals."""
    rows = _pair_rows(before, after, pivot, targets)
    for lang in (pivot, *targets):
        b = _value(before.purity, kind="passages", lang=lang, metric=_purity_metric(before.purity))
        a = _value(after.purity, kind="passages", lang=lang, metric=_purity_metric(after.purity))
        blind = _value(after.purity, kind="passages", lang=lang, metric=_purity_metric(after.purity, "expected"))
        if b is not None and a is not None:
            rows.append(_compare_row(f"purity %, {lang} passages (language-blind {_pct(float(blind.value))})"
                                     if blind is not None else f"purity %, {lang} passages", b, a))
    for kind in ("passages", "questions"):
        b = _value(before.probe, kind=kind, metric="accuracy") if before.probe is not None else None
        a = _value(after.probe, kind=kind, metric="accuracy") if after.probe is not None else None
        chance = _value(after.probe, kind=kind, metric="chance") if after.probe is not None else None
        if b is not None and a is not None and chance is not None:
            rows.append(_compare_row(f"language probe accuracy %, {kind} (chance {_pct(float(chance.value))})", b, a))
    return pd.DataFrame(rows, columns=list(COMPARE_VIEW))


def _purity_metric(purity: pd.DataFrame, prefix: str = "purity") -> str:
    names = purity[(purity.kind == "passages") & purity.metric.str.startswith(prefix + "@")].metric
    return str(names.iloc[0]) if len(names) else f"{prefix}@10"


def compare_text(before: Neighbourhoods, after: Neighbourhoods) -> str:
    """The neighbourhoods of a run in words: the probe before → after, and what purity did."""
    b = before.purity[before.purity.metric.str.startswith("purity@") & (before.purity.kind == "passages")]
    a = after.purity[after.purity.metric.str.startswith("purity@") & (after.purity.kind == "passages")]
    joined = b.merge(a, on="lang", suffixes=("_b", "_a"))
    parts = [f"{lang} {_pct(float(vb))} → {_pct(float(va))}"
             for lang, vb, va in zip(joined.lang, joined.value_b, joined.value_a, strict=True)]
    blind = after.purity[after.purity.metric.str.startswith("expected@") & (after.purity.kind == "passages")].value
    text = (f"Neighbourhood purity of passages, before → after (language-blind: {_pct(float(blind.mean()))}): "
            + ", ".join(parts) + ".") if parts and len(blind) else ""
    said = "\n\n".join(t for t in (text, probe_text(before.probe, after.probe)) if t)
    return f"**Neighbourhoods (faiss), held-out part.** {said}" if said else ""


def pair_kinds(found: Sequence[Any], pivot: str) -> dict[str, tuple[str, str]]:
    """Per target: the verdict the mining sentence weighs and whose queries it is about — the target queries' own,
    or the pivot queries' against that target when only theirs is clustering. ``found``: verdicts (their ``kind``,
    ``query_lang``, ``against``)."""
    own = {v.query_lang: v.kind for v in found if v.query_lang != pivot}
    back = {v.against: v.kind for v in found if v.query_lang == pivot}
    return {t: (own[t], t) if t in own and ("clustering" in own[t] or "clustering" not in back.get(t, ""))
            else (back[t], pivot) for t in {*own, *back}}


def mining_sentences(bitext: pd.DataFrame, found: Sequence[Any], pivot: str, targets: Sequence[str]) -> list[str]:
    """One mining sentence per target against the pivot, weighed against that pair's verdicts ``found``."""
    kinds = pair_kinds(found, pivot)
    return [s for t in targets if (s := mining_sentence(bitext, t, pivot, *kinds.get(t, (None, None))))]


def format_neighbourhoods(found: Neighbourhoods, result: EvalResult) -> str:
    """The command line's neighbourhood section: mining per target, purity, the probe (full tables: the CSVs)."""
    spec = result.spec
    judged = verdicts(result.summary_frame(), result.matrix_frame(), spec.pivot, spec.langs)
    lines = ["neighbourhoods (faiss k-NN; every figure with its CI in bitext.csv, purity.csv, probe.csv):"]
    lines += [f"  · {s}" for s in mining_sentences(found.bitext, judged, spec.pivot, spec.targets)]
    lines += [f"  · {t}" for t in (purity_text(found.purity, "passages"), purity_text(found.purity, "questions"),
                                   probe_text(found.probe)) if t]
    return "\n".join(lines)


__all__ = [
    "BITEXT_VIEW",
    "COMPARE_VIEW",
    "MINES_WELL",
    "PURITY_VIEW",
    "before_after",
    "bitext_view",
    "compare_text",
    "compare_view",
    "format_neighbourhoods",
    "index_text",
    "mining_sentence",
    "mining_sentences",
    "pair_kinds",
    "pair_mining",
    "probe_text",
    "purity_text",
    "purity_view",
]
