"""Before/after comparison with paired significance over queries.

For every scenario × pool × query language × metric: the mean before and after, the delta, a paired
bootstrap 95% confidence interval of the delta (queries resampled with replacement, the same
resample for both sides) and a two-sided paired permutation p-value (each query's before/after
values swapped at random). Derived metrics (``max_r_norm_of_mean``) are recomputed on every
resample from the resampled mean Max@R, so their intervals are honest too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from xlalign import metrics as M
from xlalign.evaluate import metric_order
from xlalign.scenarios import SCENARIOS

KEYS = ["scenario", "pool", "query_lang"]
COMPARE_COLUMNS = [*KEYS, "metric", "before", "after", "delta", "ci_low", "ci_high", "p_value", "n_queries"]


def _stat_fn(metric: str, pool_size: float, n_gold: int) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """(per-query column, statistic over rows of a (B, Q) matrix)."""
    if metric == "max_r_norm_of_mean":
        return "max_r", lambda x: np.asarray(M.normalise_max_r(x.mean(axis=-1), pool_size, n_gold))
    return metric, lambda x: x.mean(axis=-1)


def paired_test(before: np.ndarray, after: np.ndarray, stat: Callable[[np.ndarray], np.ndarray] | None = None,
                n_boot: int = 2000, n_perm: int = 2000, seed: int = 0) -> dict[str, float]:
    """Delta of ``stat`` (default: mean) with bootstrap CI and permutation p-value; pure, seeded."""
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.shape != a.shape or b.ndim != 1 or len(b) == 0:
        raise ValueError(f"expected two non-empty (Q,) arrays of equal shape, got {b.shape} and {a.shape}")
    if n_boot < 1 or n_perm < 1:
        raise ValueError("n_boot and n_perm must be ≥ 1")
    stat = stat or (lambda x: x.mean(axis=-1))
    rng = np.random.default_rng(seed)
    observed = float(stat(a) - stat(b))
    q = len(b)
    chunk = max(1, 4_000_000 // q)
    boots, null = [], []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, q, size=(min(chunk, n_boot - start), q))
        boots.append(stat(a[idx]) - stat(b[idx]))
    for start in range(0, n_perm, chunk):
        swap = rng.random((min(chunk, n_perm - start), q)) < 0.5
        null.append(stat(np.where(swap, b, a)) - stat(np.where(swap, a, b)))
    boot = np.concatenate(boots)
    perm = np.concatenate(null)
    p = (1 + np.sum(np.abs(perm) >= abs(observed) - 1e-12)) / (len(perm) + 1)
    return {"delta": observed, "ci_low": float(np.percentile(boot, 2.5)), "ci_high": float(np.percentile(boot, 97.5)),
            "p_value": float(p)}


def compare_results(before_summary: pd.DataFrame, before_pq: pd.DataFrame, after_summary: pd.DataFrame,
                    after_pq: pd.DataFrame, n_boot: int = 2000, n_perm: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per (scenario, pool, query_lang, metric) present on both sides; queries paired by id."""
    rows = []
    merged = before_summary.merge(after_summary, on=[*KEYS, "metric"], suffixes=("_before", "_after"))
    for (scenario, pool, qlang), group in merged.groupby(KEYS, sort=False):
        sel_b = before_pq[(before_pq.scenario == scenario) & (before_pq.pool == pool) & (before_pq.query_lang == qlang)]
        sel_a = after_pq[(after_pq.scenario == scenario) & (after_pq.pool == pool) & (after_pq.query_lang == qlang)]
        paired = sel_b.merge(sel_a, on="query_id", suffixes=("_b", "_a"))
        if len(paired) != len(sel_b) or len(paired) != len(sel_a):
            raise ValueError(f"{scenario}/{qlang}: before and after cover different queries; cannot pair them")
        pool_size = float(sel_b["pool_size"].mean()) if "pool_size" in sel_b else float(group["pool_size_before"].iloc[0])
        n_gold = 2 if scenario == "multi" else 1
        for _, r in group.iterrows():
            metric = r["metric"]
            col, stat = _stat_fn(metric, pool_size, n_gold)
            if f"{col}_b" not in paired:
                continue
            b_vals = paired[f"{col}_b"].to_numpy(dtype=np.float64)
            a_vals = paired[f"{col}_a"].to_numpy(dtype=np.float64)
            test = paired_test(b_vals, a_vals, stat, n_boot, n_perm, seed)
            rows.append({"scenario": scenario, "pool": pool, "query_lang": qlang, "metric": metric,
                         "before": float(r["value_before"]), "after": float(r["value_after"]), **test,
                         "n_queries": len(paired)})
    out = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    order = sorted(range(len(out)), key=lambda i: (
        SCENARIOS.index(out.scenario[i]) if out.scenario[i] in SCENARIOS else 99, str(out.query_lang[i]),
        metric_order(out.metric[i])))
    return out.iloc[order].reset_index(drop=True)


def compare_run_dirs(run_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Stack several runs' ``compare.csv`` with a ``run`` column (e.g. centering vs Procrustes vs fine-tune)."""
    frames = []
    for d in run_dirs:
        path = Path(d) / "compare.csv"
        if not path.exists():
            raise FileNotFoundError(f"{d}: no compare.csv (is it a finished alignment run?)")
        df = pd.read_csv(path)
        df.insert(0, "run", Path(d).name)
        frames.append(df)
    if not frames:
        raise ValueError("no runs to compare")
    return pd.concat(frames, ignore_index=True)


def side_by_side(stacked: pd.DataFrame, metrics: Sequence[str] = ("complete@10", "max_r", "max_r_norm", "ndcg@1", "mrr"),
                 ) -> pd.DataFrame:
    """Wide table: baseline (first run's 'before') then each run's 'after', per scenario × query language × metric."""
    df = stacked[stacked.metric.isin(metrics)]
    base = df.drop_duplicates([*KEYS, "metric"]).set_index([*KEYS, "metric"])["before"].rename("baseline")
    wide = df.pivot_table(index=[*KEYS, "metric"], columns="run", values="after", sort=False)
    return pd.concat([base, wide], axis=1).round(2)
