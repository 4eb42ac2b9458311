"""An alignment run, end to end: split → baseline → fit/train → re-evaluate → compare → run record.

Training data never reaches the evaluation: with ``train_data="split"`` the evaluation corpus is
split by group (topic/article) and only the held-out part is evaluated, before and after; with the
demo corpus or an uploaded triplet file as training data, any passage shared with the evaluation
corpus is an error. Everything is written into the run folder; the "after" embeddings are produced
by the very artefact that :mod:`xlalign.store.export` exports, so what a user loads is what was measured.

Run folder: ``config.json`` (the three specs), ``split.json``, ``before/`` and ``after/``
(``summary.csv``, ``matrix.csv``, ``per_query.csv``), ``compare.csv``, ``run.json`` and the artefact:
``transform/`` (centering, Procrustes), ``lsar.safetensors`` or ``model/`` (fine-tune).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlalign.align.centering import LanguageCentering
from xlalign.align.finetune import Cancelled, finetune, load_triplets, planned_steps, triplets_from_corpus, write_triplets
from xlalign.align.lsar import LanguageSubspaceRemoval
from xlalign.align.procrustes import FewPairsWarning, OrthogonalProcrustes, mean_cosine_distance
from xlalign.align.transform import LanguageAwareTransform
from xlalign.core.compare import compare_results
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate, evaluate_embeddings
from xlalign.core.loaders import load_corpus, load_demo
from xlalign.errors import ConfigError, CorpusError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import CachedEncoder, SentenceTransformerEncoder
from xlalign.progress import Progress, silent, span
from xlalign.report.provenance import MadeWith, made_with, stamp
from xlalign.specs import AlignSpec, EvalSpec, ModelSpec, to_dict
from xlalign.store.runs import atomic_write_csv, atomic_write_json, package_versions

Transform = Callable[[str, str, np.ndarray], np.ndarray]
#: Share of the training groups held out to choose the LSAR rank.
LSAR_VALIDATION_FRACTION = 0.25


@dataclass
class TrainingData:
    """What the aligner learns from, and the part of the evaluation corpus it is judged on."""

    source: str
    eval_corpus: ParallelCorpus
    train_corpus: ParallelCorpus | None
    triplets: list[dict[str, str]]
    split: dict[str, Any]


@dataclass
class AlignOutcome:
    before: EvalResult
    after: EvalResult
    compare: pd.DataFrame
    record: dict[str, Any]


def fit_langs(evaluation: EvalSpec, align: AlignSpec) -> tuple[str, ...]:
    """The evaluated languages, then any extra fit languages (centering and LSAR only)."""
    extra = align.fit_langs if align.method in ("centering", "lsar") and align.fit_langs else ()
    return tuple(dict.fromkeys([*evaluation.langs, *extra]))


def prepare_data(evaluation: EvalSpec, align: AlignSpec, corpus: ParallelCorpus) -> TrainingData:
    """The held-out evaluation corpus and the training data, with a leak check for external training data."""
    pivot, targets = evaluation.pivot, evaluation.targets
    langs = fit_langs(evaluation, align)
    if align.train_data == "split":
        train, test = corpus.split_by_group(align.test_fraction, align.split_seed)
        split = {"kind": "group-split", "seed": align.split_seed, "test_fraction": align.test_fraction,
                 "train_groups": sorted(set(train.groups)), "test_groups": sorted(set(test.groups)),
                 "train_items": list(train.item_ids), "test_items": list(test.item_ids)}
        return TrainingData("split", test.select_langs(evaluation.langs), train.select_langs(langs),
                            triplets_from_corpus(train, pivot, targets), split)
    eval_corpus = corpus.select_langs(evaluation.langs)
    if align.train_data == "demo":
        if evaluation.data == "demo":
            raise ConfigError("training and evaluating on the demo corpus needs --train-data split")
        train = load_demo(list(langs))
        for lang in evaluation.langs:
            _check_no_leak(train.passages[lang], eval_corpus, lang, "the demo corpus")
        return TrainingData("demo", eval_corpus, train, triplets_from_corpus(train, pivot, targets),
                            {"kind": "external", "source": "demo", "train_items": list(train.item_ids)})
    if len(targets) != 1:
        raise ConfigError("a triplet file trains one target language; pass --langs PIVOT,TARGET")
    triplets = load_triplets(align.train_data)
    _check_no_leak([t["p_tgt"] for t in triplets], eval_corpus, targets[0], Path(align.train_data).name)
    _check_no_leak([t["p_en"] for t in triplets], eval_corpus, pivot, Path(align.train_data).name)
    for t in triplets:
        t["lang"] = targets[0]
    return TrainingData("triplets", eval_corpus, None, triplets,
                        {"kind": "external", "source": Path(align.train_data).name, "n_triplets": len(triplets)})


def _check_no_leak(texts: Sequence[str], corpus: ParallelCorpus, lang: str, where: str) -> None:
    shared = set(texts) & set(corpus.passages[lang])
    if shared:
        example = next(iter(shared))[:60]
        raise CorpusError(f"{where} shares {len(shared)} {lang} passage(s) with the evaluation data "
                          f"(e.g. {example!r}…); evaluation would be leaked")


# --------------------------------------------------------------------------------------------
# Fitting (each returns the transform used for "after" and writes its artefact)
# --------------------------------------------------------------------------------------------
def _training_embeddings(data: TrainingData, encoder: CachedEncoder, langs: Sequence[str], pivot: str,
                         progress: Progress) -> CorpusEmbeddings:
    """Training passages (distinct) and questions per language; from triplets: passages only."""
    if data.train_corpus is not None:
        return encode_corpus(data.train_corpus, encoder, langs, progress)
    pairs = list(dict.fromkeys((t["p_en"], t["p_tgt"], t["lang"]) for t in data.triplets))
    passages = {pivot: encoder.encode(list(dict.fromkeys(p for p, _, _ in pairs)), lang=pivot, role="passage",
                                      progress=progress)}
    for lang in dict.fromkeys(x for _, _, x in pairs):
        passages[lang] = encoder.encode([t for _, t, x in pairs if x == lang], lang=lang, role="passage",
                                        progress=progress)
    return CorpusEmbeddings(passages, {})


def fit_centering(align: AlignSpec, evaluation: EvalSpec, train: CorpusEmbeddings, run_dir: Path,
                  record: dict[str, Any]) -> Transform:
    """Passage (and query) language means on training data → a :class:`LanguageAwareTransform`."""
    opts = align.centering
    passages = LanguageCentering(pivot=evaluation.pivot, mode=opts.mode).fit(train.passages)
    queries: LanguageCentering | None = passages
    query_source = opts.queries
    if opts.queries == "own" and train.queries:
        queries = LanguageCentering(pivot=evaluation.pivot, mode=opts.mode).fit(train.queries)
    elif opts.queries == "own":
        query_source = "passage (no target-language training questions)"
    transform = LanguageAwareTransform.from_centering(passages, queries)
    if opts.queries == "none":
        transform = LanguageAwareTransform({**{k: v for k, v in transform.maps.items() if k[0] == "passage"},
                                            **{("query", lang): (None, None) for lang in passages.means_}},
                                           method="centering", pivot=transform.pivot, options=transform.options)
    transform.save(run_dir / "transform")
    record["centering"] = {"mode": opts.mode, "queries": query_source, "fit_langs": sorted(passages.means_),
                           "n_fit_passages": {k: len(v) for k, v in train.passages.items()},
                           "passage_offset_norms": {k: float(np.linalg.norm(passages.offset(k))) for k in passages.means_}}
    return lambda lang, role, x: transform.apply(x, lang, role)


def _lsar_fit_data(train: CorpusEmbeddings, roles: str) -> dict[tuple[str, str], np.ndarray]:
    data = {("passage", lang): x for lang, x in train.passages.items()}
    if roles == "both":
        data.update({("query", lang): x for lang, x in train.queries.items()})
    return data


def _project(emb: CorpusEmbeddings, est: LanguageSubspaceRemoval) -> CorpusEmbeddings:
    return emb.map(lambda lang, role, x: est.transform(x))


def choose_lsar_rank(data: TrainingData, encoder: CachedEncoder, evaluation: EvalSpec, langs: Sequence[str],
                     roles: str, seed: int, progress: Progress) -> tuple[int | None, list[dict[str, float]]]:
    """Pick the LSAR rank on a held-out part of the training groups: the rank r ≥ 1 with the lowest mean
    Multi Max@R over the evaluated query languages (ties → the smaller rank). Max@R, not Complete@10:
    on a small held-out part Complete@10 saturates at 100% for every rank of an already good pair, and
    the choice would fall to r = 1 whatever the rest of the spectrum does. The curve records both, and
    r = 0 (no removal). None when it cannot be chosen (no parallel training corpus, or fewer than 4
    groups): the full rank is then used."""
    if data.train_corpus is None or len(set(data.train_corpus.groups)) < 4:
        return None, []
    fit_part, val_part = data.train_corpus.split_by_group(LSAR_VALIDATION_FRACTION, seed)
    est = LanguageSubspaceRemoval().fit(_lsar_fit_data(encode_corpus(fit_part, encoder, langs, progress), roles))
    val_emb = encode_corpus(val_part, encoder, evaluation.langs, progress)
    val_spec = EvalSpec(data=evaluation.data, langs=evaluation.langs, pool=evaluation.pool, scenarios=("multi",),
                        ks=(10,), ndcg_ks=(10,))
    curve = []
    for r in range(0, est.max_rank_ + 1):
        emb = val_emb if r == 0 else _project(val_emb, est.with_rank(r))
        res = evaluate_embeddings(val_part.select_langs(evaluation.langs), emb, val_spec)
        curve.append({"rank": r, "multi_max_r": float(np.mean([res.value("multi", q, "max_r") for q in evaluation.langs])),
                      "multi_complete@10": float(np.mean([res.value("multi", q, "complete@10")
                                                          for q in evaluation.langs]))})
    # rank 0 (no removal) is the reference; Max@R compared at 1e-9 so that float noise does not pick a larger rank
    best = min(curve[1:], key=lambda c: (round(c["multi_max_r"], 9), c["rank"]))
    return int(best["rank"]), curve


def fit_lsar(align: AlignSpec, evaluation: EvalSpec, data: TrainingData, encoder: CachedEncoder,
             train: CorpusEmbeddings, run_dir: Path, record: dict[str, Any], progress: Progress) -> Transform:
    """Language-subspace removal (Xie et al., 2022) on the training languages' means."""
    opts = align.lsar
    chosen, curve = (opts.rank, []) if opts.rank is not None else choose_lsar_rank(
        data, encoder, evaluation, fit_langs(evaluation, align), opts.roles, align.split_seed, progress)
    est = LanguageSubspaceRemoval().fit(_lsar_fit_data(train, opts.roles))
    if chosen is not None and chosen > est.max_rank_:
        raise ConfigError(f"LSAR rank {chosen} exceeds the {est.max_rank_} directions the training means span")
    est = est.with_rank(chosen) if chosen is not None else est
    est.save(run_dir / "lsar.safetensors")
    record["lsar"] = {"rank": est.rank_, "max_rank": est.max_rank_, "roles": opts.roles,
                      "rank_source": "given" if opts.rank is not None else ("held-out" if curve else "full rank"),
                      "fit_langs": sorted({lang for _, lang in _lsar_fit_data(train, opts.roles)}),
                      "rank_curve": curve, "singular_values": [float(s) for s in est.singular_values_]}
    return lambda lang, role, x: est.transform(x)  # language-agnostic: one map for every text


def fit_procrustes(align: AlignSpec, evaluation: EvalSpec, train: CorpusEmbeddings, eval_emb: CorpusEmbeddings,
                   pairs: dict[str, tuple[np.ndarray, np.ndarray]], run_dir: Path, record: dict[str, Any]) -> Transform:
    """One rotation per target language onto the pivot, from parallel passage (and question) pairs."""
    opts = align.procrustes
    pivot = evaluation.pivot
    maps: dict[tuple[str, str], tuple[np.ndarray | None, np.ndarray | None]] = {
        (role, pivot): (None, None) for role in ("query", "passage")}
    info: dict[str, Any] = {"fit_on": opts.fit_on, "center": opts.center, "targets": {}}
    warned: list[str] = []
    for target in evaluation.targets:
        x, y = pairs[target]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FewPairsWarning)
            est = OrthogonalProcrustes(center=opts.center).fit(x, y)
        part = LanguageAwareTransform.from_procrustes(est, target, pivot)
        maps.update({k: v for k, v in part.maps.items() if k[1] == target})
        held_x, held_y = eval_emb.passages[target], eval_emb.passages[pivot]
        info["targets"][target] = {
            "n_pairs": len(x), "dimension": int(x.shape[1]),
            "fit_distance_before": est.fit_distance_before_, "fit_distance_after": est.fit_distance_,
            "heldout_distance_before": mean_cosine_distance(held_x, held_y),
            "heldout_distance_after": mean_cosine_distance(part.apply(held_x, target), held_y)}
        warned += [f"{target}: {w.message}" for w in caught]
    transform = LanguageAwareTransform(maps, method="procrustes", pivot=pivot, options={"center": opts.center})
    transform.save(run_dir / "transform")
    record["procrustes"] = info
    record.setdefault("warnings", []).extend(warned)
    return lambda lang, role, m: transform.apply(m, lang, role)


def procrustes_pairs(align: AlignSpec, evaluation: EvalSpec, data: TrainingData, encoder: CachedEncoder,
                     train: CorpusEmbeddings, progress: Progress) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(target rows, pivot rows) of parallel passages and/or questions per target language.

    Triplet files carry no target-language questions: they always fit on passages."""
    pivot, fit_on, out = evaluation.pivot, align.procrustes.fit_on, {}
    use_questions = fit_on in ("questions", "both") and bool(train.queries)
    use_passages = fit_on in ("passages", "both") or not train.queries
    for target in evaluation.targets:
        xs, ys = [], []
        if use_passages:
            uniq = list(dict.fromkeys((t["p_en"], t["p_tgt"]) for t in data.triplets if t["lang"] == target))
            xs.append(encoder.encode([b for _, b in uniq], lang=target, role="passage", progress=progress))
            ys.append(encoder.encode([a for a, _ in uniq], lang=pivot, role="passage", progress=progress))
        if use_questions:
            xs.append(train.queries[target])
            ys.append(train.queries[pivot])
        out[target] = (np.vstack(xs), np.vstack(ys))
    return out


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def _write_eval(folder: Path, result: EvalResult, made: MadeWith) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(folder / "summary.csv", stamp(result.summary_frame(), made))
    atomic_write_csv(folder / "matrix.csv", stamp(result.matrix_frame(), made))
    atomic_write_csv(folder / "per_query.csv", stamp(result.per_query, made))


def tuned_spec(model: ModelSpec, model_dir: str | Path) -> ModelSpec:
    """The base model's spec (device, precision, batch, length, remote code) pointing at its tuned copy."""
    return replace(model, model=str(model_dir))


def _run_finetune(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, data: TrainingData,
                  encoder: SentenceTransformerEncoder, run_dir: Path, record: dict[str, Any], progress: Progress,
                  should_stop: Callable[[], bool] | None) -> EvalResult:
    opts = align.finetune
    write_triplets(run_dir / "train_triplets.csv", data.triplets)
    log_path = run_dir / "train_log.jsonl"
    log_path.write_text("", encoding="utf-8")  # a rerun starts a new log

    def on_progress(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        if stage == "training":
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": done, "total": total, **metrics}) + "\n")
        progress(stage, done, total, **metrics)

    prompts = (encoder.prompt_for("query"), encoder.prompt_for("passage"))
    result = finetune(model, opts, data.triplets, run_dir / "model", prompts=prompts,
                      progress=span(on_progress, 0.3, 0.85), should_stop=should_stop)
    record["finetune"] = {**to_dict(opts), "steps": result.steps, "planned_steps": planned_steps(len(data.triplets), opts),
                          "seconds": round(result.seconds, 1), "seconds_per_step": result.seconds_per_step,
                          "device": result.device, "cpu_estimate_s": result.cpu_estimate_s,
                          "n_triplets": len(data.triplets)}
    tuned = SentenceTransformerEncoder(tuned_spec(model, result.model_dir), cache=encoder.cache)
    record["finetune"]["model_fingerprint"] = tuned.fingerprint
    return evaluate(data.eval_corpus, tuned, evaluation, span(progress, 0.85, 0.95))


def run_alignment(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, run_dir: str | Path, *,
                  corpus: ParallelCorpus | None = None, encoder: CachedEncoder | None = None,
                  cache: EmbeddingCache | None = None, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> AlignOutcome:
    """Run one alignment and write its record into ``run_dir``.

    ``encoder`` defaults to ``model``'s sentence-transformers encoder on ``cache``; a fine-tune needs
    that real encoder. Progress phases: baseline 0–0.3, fit/train 0.3–0.85, after 0.85–0.95, compare.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    report = progress or silent
    started = time.time()
    atomic_write_json(run_dir / "config.json", {"model": to_dict(model), "eval": to_dict(evaluation),
                                                "align": to_dict(align)})
    report("loading data", 0, 1, overall=0.0)
    if corpus is None:
        corpus = load_corpus(evaluation.data, list(fit_langs(evaluation, align)))
    data = prepare_data(evaluation, align, corpus)
    atomic_write_json(run_dir / "split.json", data.split)
    if encoder is None:
        encoder = SentenceTransformerEncoder(model, cache=cache if cache is not None else EmbeddingCache())
    emb = encode_corpus(data.eval_corpus, encoder, evaluation.langs, span(report, 0.0, 0.25))
    before = evaluate_embeddings(data.eval_corpus, emb, evaluation, span(report, 0.25, 0.3))
    made = made_with(encoder, model, evaluation.pool)
    _write_eval(run_dir / "before", before, made)
    record: dict[str, Any] = {"method": align.method, "describe": align.describe(), "train_source": data.source,
                              "n_train_triplets": len(data.triplets), "n_eval_queries": len(data.eval_corpus),
                              "model_fingerprint": encoder.fingerprint, "made_with": made.to_dict(),
                              "prompts": {"query": encoder.prompt_for("query"), "passage": encoder.prompt_for("passage")},
                              "warnings": []}
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled after the baseline")
    if align.method == "finetune":
        if not isinstance(encoder, SentenceTransformerEncoder):
            raise ConfigError("a fine-tune needs a sentence-transformers model")
        after = _run_finetune(model, evaluation, align, data, encoder, run_dir, record, report, should_stop)
    else:
        fit_progress = span(report, 0.3, 0.8)
        train = _training_embeddings(data, encoder, fit_langs(evaluation, align), evaluation.pivot, fit_progress)
        if align.method == "centering":
            transform = fit_centering(align, evaluation, train, run_dir, record)
        elif align.method == "lsar":
            transform = fit_lsar(align, evaluation, data, encoder, train, run_dir, record, fit_progress)
        else:
            pairs = procrustes_pairs(align, evaluation, data, encoder, train, fit_progress)
            transform = fit_procrustes(align, evaluation, train, emb, pairs, run_dir, record)
        after = evaluate_embeddings(data.eval_corpus, emb.map(transform), evaluation, span(report, 0.85, 0.95))
    if align.method == "finetune":
        made = replace(made, model=f"{model.model}, fine-tuned in this run",
                       fingerprint=record["finetune"]["model_fingerprint"])
    _write_eval(run_dir / "after", after, made)
    report("comparing", 0, 1, overall=0.95)
    table = compare_results(before.summary_frame(), before.per_query, after.summary_frame(), after.per_query)
    atomic_write_csv(run_dir / "compare.csv", table)
    record.update({"seconds": round(time.time() - started, 2), "versions": package_versions()})
    atomic_write_json(run_dir / "run.json", {"config": {"model": to_dict(model), "eval": to_dict(evaluation),
                                                        "align": to_dict(align)}, **record})
    if align.method == "finetune":  # the tuned model is a sentence-transformers dir: give it its model card
        from xlalign.store.export import run_card, usage_code

        (run_dir / "model" / "README.md").write_text(run_card(run_dir, True, usage_code(run_dir, "model", True)),
                                                     encoding="utf-8")
    report("done", 1, 1, overall=1.0)
    return AlignOutcome(before, after, table, record)
