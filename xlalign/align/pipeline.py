"""An alignment run, end to end: split → baseline → fit/train → re-evaluate → compare → run record.

Training data never reaches the evaluation: with ``train_data="split"`` the evaluation corpus is
split by group (topic/article) and only the held-out part is evaluated, before and after; with the
demo corpus or an uploaded triplet file as training data, any passage shared with the evaluation
corpus is an error. Everything is written into the run directory.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xlalign.align.centering import MODES, LanguageCentering
from xlalign.align.finetune import (
    Cancelled,
    FinetuneConfig,
    estimate_cpu_seconds,
    finetune,
    load_triplets,
    triplets_from_corpus,
    write_triplets,
)
from xlalign.align.procrustes import FewPairsWarning, OrthogonalProcrustes, mean_cosine_distance
from xlalign.compare import compare_results
from xlalign.corpus import ParallelCorpus
from xlalign.encoders import CachedEncoder, make_encoder
from xlalign.errors import ConfigError, CorpusError
from xlalign.evaluate import EvalConfig, EvalResult, encode_corpus, evaluate, evaluate_embeddings
from xlalign.loaders import load_corpus, load_demo
from xlalign.runs import atomic_write_csv, atomic_write_json, package_versions
from xlalign.scenarios import POOL_MODES, SCENARIOS

METHODS = ("centering", "procrustes", "finetune")
FIT_ON = ("passages", "questions", "both")
#: How centering treats queries: ``own`` estimates query means from training questions (per role),
#: ``passage`` applies the passage offsets to queries too, ``none`` leaves queries unchanged.
CENTER_QUERIES = ("own", "passage", "none")


@dataclass(frozen=True)
class AlignConfig:
    """One alignment run. ``train_data``: ``split`` (default), ``demo``, or a triplet JSONL/CSV path."""

    method: str
    data: str = "demo"
    langs: tuple[str, str] = ("en", "zh")
    model: str = "bundled:multilingual-e5-small"
    pool: str = "dedup"
    scenarios: tuple[str, ...] = SCENARIOS
    train_data: str = "split"
    test_fraction: float = 0.5
    split_seed: int = 42
    centering_mode: str = "subtract"
    centering_queries: str = "own"
    procrustes_center: bool = True
    procrustes_fit_on: str = "both"
    finetune: dict[str, Any] = field(default_factory=dict)
    trust_remote_code: bool = False
    batch_size: int = 32
    max_seq_length: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.pool not in POOL_MODES:
            raise ConfigError(f"unknown pool mode {self.pool!r}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.centering_mode not in MODES:
            raise ConfigError(f"centering mode must be one of {', '.join(MODES)}, got {self.centering_mode!r}")
        if self.centering_queries not in CENTER_QUERIES:
            raise ConfigError(f"centering queries must be one of {', '.join(CENTER_QUERIES)}, got {self.centering_queries!r}")
        if self.procrustes_fit_on not in FIT_ON:
            raise ConfigError(f"procrustes fit-on must be one of {', '.join(FIT_ON)}, got {self.procrustes_fit_on!r}")
        if self.method == "finetune":
            self.finetune_config()  # validates the fine-tune settings now, not after the baseline
        EvalConfig(self.langs, self.scenarios, self.pool)

    def finetune_config(self) -> FinetuneConfig:
        return FinetuneConfig(model_id=self.model, trust_remote_code=self.trust_remote_code, **self.finetune)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["langs"], d["scenarios"] = list(self.langs), list(self.scenarios)
        return d


@dataclass
class TrainingData:
    """What the aligner learns from, and the part of the evaluation corpus it is judged on."""

    source: str
    eval_corpus: ParallelCorpus
    train_corpus: ParallelCorpus | None
    triplets: list[dict[str, str]]
    split: dict[str, Any]


def prepare_data(config: AlignConfig, corpus: ParallelCorpus) -> TrainingData:
    pivot, target = config.langs
    if config.train_data == "split":
        train, test = corpus.split_by_group(config.test_fraction, config.split_seed)
        split = {"kind": "group-split", "seed": config.split_seed, "test_fraction": config.test_fraction,
                 "train_groups": sorted(set(train.groups)), "test_groups": sorted(set(test.groups)),
                 "train_items": list(train.item_ids), "test_items": list(test.item_ids)}
        return TrainingData("split", test, train, triplets_from_corpus(train, pivot, target), split)
    if config.train_data == "demo":
        if config.data == "demo":
            raise ConfigError("training and evaluating on the demo corpus needs --train-data split")
        train = load_demo([pivot, target])
        _check_no_leak(train.passages[target], corpus, target, "demo corpus")
        return TrainingData("demo", corpus, train, triplets_from_corpus(train, pivot, target),
                            {"kind": "external", "source": "demo", "train_items": list(train.item_ids)})
    triplets = load_triplets(config.train_data)
    _check_no_leak([t["p_tgt"] for t in triplets], corpus, target, config.train_data)
    _check_no_leak([t["p_en"] for t in triplets], corpus, pivot, config.train_data)
    return TrainingData("triplets", corpus, None, triplets,
                        {"kind": "external", "source": str(config.train_data), "n_triplets": len(triplets)})


def _check_no_leak(texts: Any, corpus: ParallelCorpus, lang: str, where: str) -> None:
    shared = set(texts) & set(corpus.passages[lang])
    if shared:
        example = next(iter(shared))[:60]
        raise CorpusError(f"{where} shares {len(shared)} {lang} passage(s) with the evaluation data "
                          f"(e.g. {example!r}…); evaluation would be leaked")


StatusFn = Callable[[str, float], None]


@dataclass
class AlignOutcome:
    before: EvalResult
    after: EvalResult
    compare: Any
    record: dict[str, Any]


def run_alignment(
    config: AlignConfig,
    run_dir: str | Path,
    *,
    corpus: ParallelCorpus | None = None,
    encoder: CachedEncoder | None = None,
    status: StatusFn | None = None,
    train_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_dir: Path | None = None,
) -> AlignOutcome:
    """Run one alignment and write its record into ``run_dir`` (which must exist)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    say = status or (lambda m, f: None)
    started = time.time()
    pivot, target = config.langs
    atomic_write_json(run_dir / "config.json", config.to_dict())
    say("loading data", 0.0)
    if corpus is None:
        corpus = load_corpus(config.data, list(config.langs))
    data = prepare_data(config, corpus)
    atomic_write_json(run_dir / "split.json", data.split)
    if encoder is None:
        from xlalign.encoders import EmbeddingCache

        cache = EmbeddingCache(cache_dir / "embeddings.sqlite") if cache_dir else None
        encoder = make_encoder(config.model, cache=cache, trust_remote_code=config.trust_remote_code,
                               batch_size=config.batch_size, max_seq_length=config.max_seq_length,
                               status=lambda m: say(m, 0.0))
    eval_cfg = EvalConfig(config.langs, config.scenarios, config.pool)
    say("baseline: encoding the held-out data", 0.05)
    emb = encode_corpus(data.eval_corpus, encoder, config.langs)
    before = evaluate_embeddings(data.eval_corpus, emb, eval_cfg)
    _write_eval(run_dir / "before", before)
    record: dict[str, Any] = {"method": config.method, "train_source": data.source,
                              "n_train_triplets": len(data.triplets), "n_eval_queries": len(data.eval_corpus),
                              "model_fingerprint": encoder.fingerprint}
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled after the baseline")

    if config.method in ("centering", "procrustes"):
        say(f"fitting {config.method}", 0.4)
        tr_pivot = encoder.encode([t["p_en"] for t in data.triplets], lang=pivot, role="passage")
        tr_target = encoder.encode([t["p_tgt"] for t in data.triplets], lang=target, role="passage")
        tr_pivot, tr_target = _unique_rows(tr_pivot, tr_target, data.triplets)
        if config.method == "centering":
            transform = _fit_centering(config, data, encoder, tr_pivot, tr_target, run_dir, record)
        else:
            x, y = tr_target, tr_pivot
            if config.procrustes_fit_on in ("questions", "both") and data.train_corpus is not None:
                qx = encoder.encode(list(data.train_corpus.questions[target]), lang=target, role="query")
                qy = encoder.encode(list(data.train_corpus.questions[pivot]), lang=pivot, role="query")
                x, y = (qx, qy) if config.procrustes_fit_on == "questions" else (np.vstack([x, qx]), np.vstack([y, qy]))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", FewPairsWarning)
                est_p = OrthogonalProcrustes(center=config.procrustes_center).fit(x, y)
            est_p.save(run_dir / "procrustes.safetensors")
            held_x, held_y = emb.passages[target], emb.passages[pivot]
            record["procrustes"] = {
                "n_pairs": len(x), "dimension": int(x.shape[1]), "fit_on": config.procrustes_fit_on,
                "center": config.procrustes_center,
                "fit_distance_before": est_p.fit_distance_before_, "fit_distance_after": est_p.fit_distance_,
                "heldout_distance_before": mean_cosine_distance(held_x, held_y),
                "heldout_distance_after": mean_cosine_distance(est_p.transform(held_x), held_y),
                "warnings": [str(w.message) for w in caught],
            }

            def transform(lang: str, role: str, m: np.ndarray) -> np.ndarray:
                return est_p.transform(m) if lang == target else m

        after_emb = emb.map(transform)
        say("re-evaluating", 0.8)
        after = evaluate_embeddings(data.eval_corpus, after_emb, eval_cfg)
    else:
        ft = config.finetune_config()
        write_triplets(run_dir / "train_triplets.csv", data.triplets)
        record["finetune"] = {**ft.to_dict(), "cpu_estimate_s": round(estimate_cpu_seconds(data.triplets, ft))}
        from xlalign.encoders import best_device

        on_cpu = (ft.device or best_device()) == "cpu"
        estimate = f"; CPU estimate ≈ {record['finetune']['cpu_estimate_s'] / 60:.1f} min (rough)" if on_cpu else ""
        say(f"fine-tuning on {len(data.triplets)} triplets{estimate}", 0.3)
        log_path = run_dir / "train_log.jsonl"

        def on_log(entry: dict[str, Any]) -> None:
            if entry.get("step") == 0 and on_cpu:
                say(f"CPU estimate from the tokenizer: ≈ {entry['cpu_estimate_s'] / 60:.1f} min for {entry['total']} steps",
                    0.3)
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            if train_progress is not None:
                train_progress(entry)

        result = finetune(ft, data.triplets, run_dir / "model", progress=on_log, should_stop=should_stop)
        record["finetune"].update({"steps": result.steps, "seconds": round(result.seconds, 1), "device": result.device,
                                   "cpu_estimate_s": round(result.cpu_estimate_s, 1)})
        say("re-evaluating with the fine-tuned model", 0.85)
        tuned = make_encoder(str(result.model_dir), cache=encoder.cache, batch_size=config.batch_size,
                             max_seq_length=config.max_seq_length)
        after = evaluate(data.eval_corpus, tuned, eval_cfg)
    _write_eval(run_dir / "after", after)
    say("comparing", 0.95)
    table = compare_results(before.summary_frame(), before.per_query, after.summary_frame(), after.per_query)
    atomic_write_csv(run_dir / "compare.csv", table)
    record.update({"seconds": round(time.time() - started, 2), "versions": package_versions()})
    atomic_write_json(run_dir / "run.json", {"config": config.to_dict(), **record})
    say("done", 1.0)
    return AlignOutcome(before, after, table, record)


def _fit_centering(config: AlignConfig, data: TrainingData, encoder: CachedEncoder, tr_pivot: np.ndarray,
                   tr_target: np.ndarray, run_dir: Path, record: dict[str, Any]) -> Callable[[str, str, np.ndarray], np.ndarray]:
    """Fit passage (and query) language means on training data; return ``(lang, role, X) -> X'``."""
    pivot, target = config.langs
    passages = LanguageCentering(pivot=pivot, mode=config.centering_mode).fit({pivot: tr_pivot, target: tr_target})
    passages.save(run_dir / "centering.safetensors")
    queries: LanguageCentering | None = passages if config.centering_queries == "passage" else None
    query_source = config.centering_queries
    if config.centering_queries == "own":
        if data.train_corpus is not None:
            qs = {lang: encoder.encode(list(data.train_corpus.questions[lang]), lang=lang, role="query")
                  for lang in (pivot, target)}
            queries = LanguageCentering(pivot=pivot, mode=config.centering_mode).fit(qs)
            queries.save(run_dir / "centering_queries.safetensors")
        else:  # triplet files carry no target-language questions
            queries, query_source = passages, "passage (no target-language training questions)"
    record["centering"] = {"mode": config.centering_mode, "queries": query_source, "n_fit_passages": len(tr_pivot),
                           "passage_offset_norm": float(np.linalg.norm(passages.offset(target)))}

    def transform(lang: str, role: str, m: np.ndarray) -> np.ndarray:
        est = passages if role == "passage" else queries
        return m if est is None else est.transform(m, lang)

    return transform


def _unique_rows(pivot: np.ndarray, target: np.ndarray, triplets: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct passage pair (XQuAD repeats a paragraph for each of its questions)."""
    seen: dict[tuple[str, str], int] = {}
    for i, t in enumerate(triplets):
        seen.setdefault((t["p_en"], t["p_tgt"]), i)
    idx = np.fromiter(seen.values(), dtype=np.int64)
    return pivot[idx], target[idx]


def _write_eval(folder: Path, result: EvalResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(folder / "summary.csv", result.summary_frame())
    atomic_write_csv(folder / "per_query.csv", result.per_query)
