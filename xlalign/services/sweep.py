"""Models × language pairs on one dataset → one leaderboard (the CLI's ``sweep`` and the app's
"models side by side" view read the same rows).

Locally every model encodes each text once for all its pairs (the pivot once, not once per target).
``engine="ray"`` runs one Ray task per (model, target) cell — one CPU slot each, or one GPU where
the cluster has GPUs — sharing the SQLite embedding cache of the machine; Ray is an optional
dependency (``pip install ray``). No home-made scheduler.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.core.evaluate import EvalResult
from xlalign.core.verdict import verdicts
from xlalign.errors import ConfigError
from xlalign.progress import Progress, silent
from xlalign.report.paper import paper_values
from xlalign.report.provenance import made_with
from xlalign.specs import POOL_MODES, EvalSpec, ModelSpec, check_langs

log = logging.getLogger(__name__)

#: Metrics that pivot queries hold once per target (``<metric>:<target>``): a pair's row reads its target's.
PER_TARGET = frozenset({"displaced_by_own@10", "own_preference"})
#: Leaderboard columns: (scenario, metric) → column name. Every name says exactly which metric it holds (the
#: same name as in ``summary.csv`` and the Diagnose tables): ``multi max_r_norm`` is the per-query Max@R_norm
#: averaged, ``multi max_r_norm_of_mean`` the formula on the mean Max@R (what the paper's tables print).
BOARD_METRICS: dict[tuple[str, str], str] = {
    ("multi", "complete@10"): "multi complete@10",
    ("multi", "max_r"): "multi max_r",
    ("multi", "max_r_norm"): "multi max_r_norm",
    ("multi", "max_r_norm_of_mean"): "multi max_r_norm_of_mean",
    ("multi", "own_preference"): "own-language preference % (own_preference)",
    ("multi", "same_lang_preference"): "best gold in own language % (same_lang_preference)",
    ("multi", "displaced_by_own@10"): "clustering % (displaced_by_own@10)",
    ("multi", "displaced_by_pivot@10"): "inclination % (displaced_by_pivot@10)",
    ("multi", "pivot_over_gold"): "pivot over gold %",
    ("multi-1", "ndcg@1"): "multi-1 ndcg@1",
    ("mono-same", "ndcg@10"): "mono-same ndcg@10",
    ("mono-cross", "ndcg@10"): "mono-cross ndcg@10",
}


@dataclass(frozen=True)
class SweepSpec:
    """The grid: every model × every (pivot, target) pair of one dataset."""

    models: tuple[ModelSpec, ...]
    data: str
    pivot: str
    targets: tuple[str, ...]
    pool: str = "dedup"

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("name at least one model")
        names = [m.model for m in self.models]
        if len(set(names)) != len(names):
            raise ConfigError(f"a model is listed twice: {names}")
        check_langs((self.pivot, *self.targets), what="pivot and targets")
        if self.pool not in POOL_MODES:
            raise ConfigError(f"pool must be one of {', '.join(POOL_MODES)}, got {self.pool!r}")


def leaderboard_rows(model: str, result: EvalResult, data: str) -> list[dict[str, Any]]:
    """One row per (model, pair, query language): the key metric of every scenario, the verdict, and the
    paper's printed values where Hong et al. report this setting (XQuAD, per-question pools)."""
    spec = result.spec
    summary = result.summary_frame()
    found = {v.query_lang: v for v in verdicts(summary, result.matrix_frame(), spec.pivot, spec.langs)}
    rows = []
    for q in spec.langs:
        v = found.get(q)
        row: dict[str, Any] = {"model": model, "pair": "+".join(spec.langs), "query_lang": q, "pool": spec.pool,
                               "verdict": "" if v is None else v.kind + (" (borderline)" if v.borderline else "")}
        sel = summary[summary.query_lang == q]
        for (scenario, metric), column in BOARD_METRICS.items():
            if v is not None and q == spec.pivot and metric in PER_TARGET:  # the pair's number: against the target
                metric = f"{metric}:{v.against}"
            values = sel[(sel.scenario == scenario) & (sel.metric == metric)]["value"]
            row[column] = float(values.mean()) if len(values) else float("nan")
        paper = paper_values(model, spec.pivot, spec.langs[1], q) if (
            "xquad" in data.lower() and spec.pool == "per-question" and len(spec.langs) == 2) else None
        # the paper's printed Max@R_norm is xlalign's max_r_norm_of_mean (xlalign.report.paper)
        row.update({f"paper {name}": (paper or {}).get(k, float("nan")) for k, name in
                    (("complete@10", "complete@10"), ("max_r", "max_r"), ("max_r_norm", "max_r_norm_of_mean"))})
        rows.append(row)
    return rows


def evaluate_cell(model: ModelSpec, data: str, pivot: str, targets: Sequence[str], pool: str,
                  cache_path: str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """One model on one or more pairs (pivot, target): each text encoded once, then every pair ranked.

    This is also the body of a Ray task (everything it needs is in its arguments).
    """
    from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
    from xlalign.core.loaders import load_corpus
    from xlalign.models.cache import EmbeddingCache
    from xlalign.models.encoders import SentenceTransformerEncoder

    langs = (pivot, *targets)
    corpus = load_corpus(data, list(langs))
    encoder = SentenceTransformerEncoder(model, cache=EmbeddingCache(cache_path) if cache_path else EmbeddingCache())
    emb = encode_corpus(corpus, encoder, langs, progress)
    made = made_with(encoder, model, pool)
    rows = []
    for target in targets:
        spec = EvalSpec(data=data, langs=(pivot, target), pool=pool)
        rows += leaderboard_rows(model.model, evaluate_embeddings(corpus.select_langs(spec.langs),
                                                                 emb.select(spec.langs), spec), data)
    return [{**r, "model_fingerprint": made.fingerprint, "precision": made.precision, "xlalign_version": made.version}
            for r in rows]


def _reason(error: BaseException) -> str:
    from xlalign.errors import XlalignError

    text = str(error).splitlines()[0] if str(error) else ""
    return text if isinstance(error, XlalignError) else f"{type(error).__name__}: {text}".rstrip(": ")


def run_sweep(spec: SweepSpec, *, engine: str = "local", ray_address: str | None = None,
              cache_dir: str | Path | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """The leaderboard of ``spec``'s grid, sorted by model then pair, with an ``error`` column.

    The data is loaded once first, so that a data error stops the sweep before any model. A model that
    fails after that keeps the other models' rows: it gets one row with its error (``attrs["failed"]``
    maps each failed model to its error); the caller decides the exit status.
    """
    from xlalign.core.loaders import load_corpus

    report = progress or silent
    cache_path = str(Path(cache_dir) / "embeddings.sqlite") if cache_dir else None
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine must be local or ray, got {engine!r}")
    load_corpus(spec.data, [spec.pivot, *spec.targets])  # a data error is one line, before any model
    failed: dict[str, str] = {}
    log.info("sweep: %s engine, %d models × %d targets", engine, len(spec.models), len(spec.targets))
    if engine == "local":
        rows: list[dict[str, Any]] = []
        for n, model in enumerate(spec.models):
            report("sweep", n, len(spec.models), model=model.model)
            try:
                rows += evaluate_cell(model, spec.data, spec.pivot, spec.targets, spec.pool, cache_path)
            except Exception as e:  # one model's failure must not lose the others' rows
                failed[model.model] = _reason(e)
        report("sweep", len(spec.models), len(spec.models))
    else:
        rows = _run_ray(spec, ray_address, cache_path, report, failed)
    rows += [{"model": name, "pair": "", "query_lang": "", "error": reason} for name, reason in failed.items()]
    board = pd.DataFrame(rows)
    board["error"] = board["error"].fillna("") if "error" in board else ""
    order = {m.model: i for i, m in enumerate(spec.models)}
    board = board.assign(_m=board.model.map(order)).sort_values(["_m", "pair", "query_lang"], kind="stable")
    board = board.drop(columns="_m").reset_index(drop=True)
    board.attrs["failed"] = failed
    return board


#: Ray's switch for multi-machine clusters; off, it resolves "127.0.0.1" to itself instead of to the
#: machine's network address (read when ray is imported: :func:`loopback_only` also sets the constant).
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def loopback_only() -> None:
    """Make the next local ``ray.init`` bind every Ray service to 127.0.0.1, not the machine's address.

    ``_node_ip_address="127.0.0.1"`` alone is not enough: where multi-machine clusters are enabled (Linux)
    Ray replaces a loopback address by the machine's network address. This turns that off for this
    process and the Ray processes it starts.
    """
    os.environ[_RAY_CLUSTER_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[attr-defined]  # ray was imported before the variable was set


def local_ray_options(**extra: Any) -> dict[str, Any]:
    """``ray.init`` options of a local Ray instance (call :func:`loopback_only` first): bound to 127.0.0.1
    (``_node_ip_address``), no dashboard, and workers that import xlalign from where this process found
    it. ``extra`` adds or overrides options."""
    here = str(Path(__file__).resolve().parents[2])
    return {"_node_ip_address": "127.0.0.1", "ignore_reinit_error": True, "include_dashboard": False,
            "log_to_driver": False, "runtime_env": {"env_vars": {"PYTHONPATH": here}}, **extra}


def _run_ray(spec: SweepSpec, address: str | None, cache_path: str | None, report: Progress,
             failed: dict[str, str]) -> list[dict[str, Any]]:
    if address is None:
        loopback_only()  # before ray is imported, where it is not yet
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'ray[default]'") from None
    if not ray.is_initialized():
        if address is None:
            ray.init(**local_ray_options())
        else:  # a remote cluster's workers need xlalign installed
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    task = ray.remote(num_cpus=1, num_gpus=gpus)(evaluate_cell)
    owner = {task.remote(m, spec.data, spec.pivot, (t,), spec.pool, cache_path): m.model for m in spec.models
             for t in spec.targets}
    pending = list(owner)
    total, rows = len(pending), []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        try:
            rows += ray.get(done[0])
        except Exception as e:  # a failed task: its model is marked, the other cells are kept
            failed.setdefault(owner[done[0]], _reason(getattr(e, "cause", None) or e))
        report("sweep (ray tasks)", total - len(pending), total)
    return rows

