"""Before/after comparison with paired significance over queries.

For every scenario × pool × query language × document language × metric: the mean before and
after, the delta, a paired bootstrap 95% confidence interval of the delta (``scipy.stats.bootstrap``,
queries resampled with replacement, the same resample for both sides, percentile method), a
two-sided paired permutation p-value (``scipy.stats.permutation_test``, each query's before/after
values swapped at random), and the Benjamini–Hochberg q-value over all rows of the table
(``scipy.stats.false_discovery_control``) — a table holds ~130 tests, so the app marks a change as
significant by its q-value. Derived metrics (``max_r_norm_of_mean``) are recomputed on every
resample from the resampled mean Max@R, so their intervals are honest too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from xlalign.core import metrics as M
from xlalign.core.evaluate import PIVOT_ALIASES, metric_order, scenario_order
from xlalign.errors import XlalignError
from xlalign.policy import env_number

#: Resamples of the paired bootstrap and of the permutation test, each (``XLALIGN_RESAMPLES`` overrides it).
DEFAULT_RESAMPLES = 2000
RESAMPLES_ENV = "XLALIGN_RESAMPLES"

KEYS = ["scenario", "pool", "query_lang", "doc_lang"]
COMPARE_COLUMNS = [*KEYS, "metric", "before", "after", "delta", "ci_low", "ci_high", "p_value", "q_value", "n_queries"]
_NUMERIC = ["before", "after", "delta", "ci_low", "ci_high", "p_value", "q_value", "n_queries"]

Stat = Callable[..., np.ndarray]


class CompareFileError(XlalignError, ValueError):
    """A compare.csv that is missing, unreadable, truncated or not in the expected shape."""


def _stat_fn(metric: str, pool_size: float, n_gold: int) -> tuple[str, Stat]:
    """(per-query column, statistic ``f(x, axis)`` over queries)."""
    if metric == "max_r_norm_of_mean":
        def norm_of_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.asarray(M.normalise_max_r(np.asarray(np.mean(x, axis=axis)), pool_size, n_gold))

        return "max_r", norm_of_mean
    return metric, _mean


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(x, axis=axis))


def paired_test(before: np.ndarray, after: np.ndarray, stat: Stat | None = None, n_boot: int = 2000,
                n_perm: int = 2000, seed: int = 0) -> dict[str, float]:
    """Delta of ``stat`` (default: mean) with a paired bootstrap 95% CI and a paired permutation p-value.

    Pure and seeded. ``stat(x, axis)`` reduces over queries along ``axis``.
    """
    from scipy import stats

    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.shape != a.shape or b.ndim != 1 or len(b) == 0:
        raise ValueError(f"expected two non-empty (Q,) arrays of equal shape, got {b.shape} and {a.shape}")
    if n_boot < 1 or n_perm < 1:
        raise ValueError("n_boot and n_perm must be ≥ 1")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("before/after values must be finite")
    f = stat or _mean

    def delta(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        # Rounded to 1e-9: resampled sums taken in another order differ in the last bits, and scipy's
        # relative tie tolerance (1e-14) would otherwise count an exact tie of the null as "less".
        return np.round(f(y, axis=axis) - f(x, axis=axis), 9)

    observed = float(f(a, axis=-1) - f(b, axis=-1))
    if np.array_equal(a, b):
        return {"delta": observed, "ci_low": observed, "ci_high": observed, "p_value": 1.0}
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant delta is a degenerate (but valid) bootstrap sample
        boot = stats.bootstrap((b, a), delta, paired=True, vectorized=True, n_resamples=n_boot, method="percentile",
                               rng=rng)
    perm = stats.permutation_test((b, a), delta, permutation_type="samples", vectorized=True, n_resamples=n_perm,
                                  alternative="two-sided", rng=rng)
    low, high = boot.confidence_interval
    return {"delta": observed, "ci_low": float(low), "ci_high": float(high), "p_value": float(perm.pvalue)}


def resamples() -> int:
    """Bootstrap and permutation resamples per test: ``XLALIGN_RESAMPLES`` (a whole number ≥ 1), else 2000.

    The test suite sets 200 (``tests/conftest.py``): a run's intervals and p-values are then coarser (p ≥ 1/201),
    which no test of a run relies on; the tests of the statistics themselves pass their own counts."""
    return int(env_number(RESAMPLES_ENV, DEFAULT_RESAMPLES, minimum=1, integer=True))


def compare_results(before_summary: pd.DataFrame, before_pq: pd.DataFrame, after_summary: pd.DataFrame,
                    after_pq: pd.DataFrame, n_boot: int | None = None, n_perm: int | None = None,
                    seed: int = 0) -> pd.DataFrame:
    """One row per (scenario, pool, query_lang, doc_lang, metric) present on both sides; queries paired by id.

    ``n_boot``/``n_perm``: resamples per test, :func:`resamples` when not given."""
    n_boot = resamples() if n_boot is None else n_boot
    n_perm = resamples() if n_perm is None else n_perm
    rows = []
    keep = ~before_summary.metric.isin(list(PIVOT_ALIASES))
    merged = before_summary[keep].merge(after_summary, on=[*KEYS, "metric"], suffixes=("_before", "_after"))
    for key, group in merged.groupby(KEYS, sort=False):
        scenario, pool, qlang, dlang = key
        sel_b = before_pq[(before_pq.scenario == scenario) & (before_pq.pool == pool) & (before_pq.query_lang == qlang)
                          & (before_pq.doc_lang == dlang)]
        sel_a = after_pq[(after_pq.scenario == scenario) & (after_pq.pool == pool) & (after_pq.query_lang == qlang)
                         & (after_pq.doc_lang == dlang)]
        paired = sel_b.merge(sel_a, on="query_id", suffixes=("_b", "_a"))
        if len(paired) != len(sel_b) or len(paired) != len(sel_a):
            raise ValueError(f"{scenario}/{qlang}: before and after cover different queries; cannot pair them")
        pool_size = float(sel_b["pool_size"].mean())
        n_gold = int(sel_b[[c for c in sel_b if str(c).startswith("rank_")]].notna().sum(axis=1).iloc[0])
        for _, r in group.iterrows():
            col, stat = _stat_fn(r["metric"], pool_size, n_gold)
            if f"{col}_b" not in paired:
                continue
            test = paired_test(paired[f"{col}_b"].to_numpy(np.float64), paired[f"{col}_a"].to_numpy(np.float64), stat,
                               n_boot, n_perm, seed)
            rows.append({"scenario": scenario, "pool": pool, "query_lang": qlang, "doc_lang": dlang,
                         "metric": r["metric"], "before": float(r["value_before"]), "after": float(r["value_after"]),
                         **test, "n_queries": len(paired)})
    out = pd.DataFrame(rows, columns=[c for c in COMPARE_COLUMNS if c != "q_value"])
    out.insert(list(out.columns).index("p_value") + 1, "q_value", adjusted_p(out["p_value"].to_numpy()))
    order = sorted(range(len(out)), key=lambda i: (scenario_order(out.scenario[i]), str(out.query_lang[i]),
                                                   str(out.doc_lang[i]), metric_order(out.metric[i])))
    return out.iloc[order].reset_index(drop=True)


def adjusted_p(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (false discovery rate) of a family of p-values."""
    from scipy.stats import false_discovery_control

    p = np.asarray(p_values, dtype=np.float64)
    return np.asarray(false_discovery_control(p, method="bh")) if len(p) else p


def read_compare(path: str | Path) -> pd.DataFrame:
    """A compare.csv, validated: every column present, numbers finite, at least one row."""
    path = Path(path)
    name = f"{path.parent.name}/{path.name}"
    try:
        df = pd.read_csv(path, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CompareFileError(f"{path.parent.name}: no compare.csv (is it a finished alignment run?)") from None
    except NotADirectoryError:
        raise CompareFileError(f"{path.parent.name}: not a run folder") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise CompareFileError(f"{name}: unreadable ({type(e).__name__})") from None
    missing = [c for c in COMPARE_COLUMNS if c not in df.columns]
    if missing:
        raise CompareFileError(f"{name}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise CompareFileError(f"{name}: no rows")
    for c in _NUMERIC:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            raise CompareFileError(f"{name}: line {int(np.flatnonzero(bad.to_numpy())[0]) + 2}: {c} is not a finite "
                                   "number (truncated or edited file?)")
        df[c] = values
    return df


SIDE_METRICS = ("complete@10", "max_r", "max_r_norm", "ndcg@1", "ndcg@10", "mrr", "own_preference", "same_lang_preference",
                "displaced_by_own@10", "displaced_by_pivot@10",
                "same_over_other_gold", "pivot_over_gold", "pivot_intrusion@1")


def side_by_side(stacked: pd.DataFrame, metrics: Sequence[str] = SIDE_METRICS,
                 shared_baseline: bool | None = None) -> pd.DataFrame:
    """Wide table: per run its 'after', the change (``<run> delta``), its 95% CI (``<run> lo``, ``<run> hi``) and
    its q-value (``<run> q``, unrounded), all numbers; and the baseline.

    ``stacked`` holds several runs' compare tables with a ``run`` column. When the runs share their baseline
    (``shared_baseline``; by default: every row's 'before' is the same in every run) it is one ``baseline``
    column; otherwise every run has its own (``<run> baseline``), since a change is only meaningful against
    the baseline it was measured from.
    """
    df = stacked[stacked.metric.isin(metrics)]
    index = [*KEYS, "metric"]
    if shared_baseline is None:
        spread = df.groupby(index, sort=False)["before"].agg(lambda v: float(v.max() - v.min()))
        shared_baseline = bool((spread.abs() < 1e-9).all())
    parts = [df.drop_duplicates(index).set_index(index)["before"].rename("baseline")] if shared_baseline else []
    for run, sub in df.groupby("run", sort=False):
        sub = sub.set_index(index)
        if not shared_baseline:
            parts.append(sub["before"].rename(f"{run} baseline"))
        parts.append(sub["after"].rename(f"{run}"))
        parts += [sub[col].rename(f"{run} {name}") for col, name in (("delta", "delta"), ("ci_low", "lo"),
                                                                       ("ci_high", "hi"), ("q_value", "q"))]
    wide = pd.concat(parts, axis=1)
    order = sorted(wide.index, key=lambda k: (scenario_order(k[0]), k[2], k[3], metric_order(k[4])))
    # q-values are not rounded: q = 0.00003 rounded to 4 decimals would read as 0 (no evidence is that strong)
    return wide.loc[order].round({c: 4 for c in wide.columns if not str(c).endswith(" q")})
