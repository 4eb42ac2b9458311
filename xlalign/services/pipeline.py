"""An alignment run, end to end: split → baseline → fit → re-evaluate → compare → run record.

Every method goes through the same steps, found through the registry
(:func:`xlalign.align.base.aligner_class`); nothing here knows a method by name. Training data never
reaches the evaluation (:func:`xlalign.align.data.prepare_data`). Everything is written into the run
folder through :class:`xlalign.store.runs.Run`; the "after" embeddings are produced by the very artefact
that :mod:`xlalign.store.export` exports, so what a user loads is what was measured.

A run into a path goes through :class:`xlalign.store.runs.RunFolder`: the folder must be new, empty,
or a run of ours (a finished one only with ``overwrite``), and a replaced run is built beside the old one
and swapped in only when complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.align.base import AlignSpec, ApplyInputs, Cancelled, FitInputs, languages_to_fit
from xlalign.align.data import load_triplets, prepare_data
from xlalign.core.compare import compare_results, resamples
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.encoder import Encoder
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.progress import Progress, silent, span
from xlalign.report.provenance import MadeWith, made_with
from xlalign.services.neighbourhoods import neighbourhood_tables
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.runs import Run, RunFolder, package_versions
from xlalign.timing import timed

log = logging.getLogger(__name__)


@dataclass
class AlignOutcome:
    before: EvalResult
    after: EvalResult
    compare: pd.DataFrame
    record: dict[str, Any]


def check_alignment(evaluation: EvalSpec, align: AlignSpec) -> None:
    """What can be refused before any work: the method's own checks, an unreadable triplet file."""
    align.aligner.check(align.options, evaluation, align)
    if align.train_data not in ("split", "demo"):
        load_triplets(align.train_data)


def run_summary(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec) -> dict[str, Any]:
    """What a run's status shows about it (the runs list, the CLI)."""
    return {"method": align.method, "describe": align.describe(), "langs": list(evaluation.langs),
            "data": evaluation.data, "model": model.model}


def recorded_specs(evaluation: EvalSpec, align: AlignSpec, labels: Mapping[str, str] | None = None
                   ) -> tuple[EvalSpec, AlignSpec]:
    """The specs as a run records them: data given as a file listed in ``labels`` (path → label, e.g. an
    upload's ``upload:<name>``) is recorded as its label, never its path."""
    names = dict(labels or {})
    return (replace(evaluation, data=names.get(evaluation.data, evaluation.data)),
            replace(align, train_data=names.get(align.train_data, align.train_data)))


def run_alignment(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, run_dir: str | Path | Run, *,
                  overwrite: bool = False, corpus: ParallelCorpus | None = None, encoder: Encoder | None = None,
                  cache: EmbeddingCache | None = None, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None, labels: Mapping[str, str] | None = None
                  ) -> AlignOutcome:
    """Run one alignment into ``run_dir`` and write its record there.

    ``run_dir`` is a path (checked, locked, replaced only as :class:`~xlalign.store.runs.RunFolder` allows,
    with a status of its own) or a :class:`~xlalign.store.runs.Run` whose folder the caller already owns
    (the app's jobs). ``encoder`` defaults to ``model``'s sentence-transformers encoder on ``cache``.
    ``labels`` (path → label) names data files in the records instead of their paths (:func:`recorded_specs`).
    Progress phases: baseline 0–0.3, fit 0.3–0.8, after 0.8–0.95, compare. Each side also gets its
    neighbourhood tables (bitext mining, purity, the language-identity probe) on the held-out part.
    """
    check_alignment(evaluation, align)
    if isinstance(run_dir, Run):
        return _run(model, evaluation, align, run_dir, corpus, encoder, cache, progress or silent, should_stop,
                    labels)
    with RunFolder(run_dir, overwrite=overwrite, record=run_summary(model, evaluation, align)) as folder:
        outcome = _run(model, evaluation, align, folder.run, corpus, encoder, cache, folder.progress(progress),
                       should_stop, labels)
        folder.finish("succeeded", message="done", warnings=outcome.record.get("warnings", []))
    return outcome


def _run(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, run: Run, corpus: ParallelCorpus | None,
         encoder: Encoder | None, cache: EmbeddingCache | None, report: Progress,
         should_stop: Callable[[], bool] | None, labels: Mapping[str, str] | None = None) -> AlignOutcome:
    started = time.time()
    shown_eval, shown_align = recorded_specs(evaluation, align, labels)
    run.write_config(model, shown_eval, shown_align)
    report("loading data", 0, 1, overall=0.0)
    if corpus is None:
        corpus = load_corpus(evaluation.data, list(languages_to_fit(evaluation, align)))
    data = prepare_data(evaluation, align, corpus)
    run.write_split(data.split)
    if encoder is None:
        encoder = SentenceTransformerEncoder(model, cache=cache if cache is not None else EmbeddingCache())
    emb = encode_corpus(data.eval_corpus, encoder, evaluation.langs, span(report, 0.0, 0.25))
    before = evaluate_embeddings(data.eval_corpus, emb, evaluation, span(report, 0.25, 0.3))
    made = made_with(encoder, model, evaluation.pool)
    _write_side(run, "before", before, data.eval_corpus, emb, made)
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled after the baseline")
    method = align.aligner
    aligner = method(align.options)
    with timed(log, "fit", method=align.method, triplets=len(data.triplets)):
        fitted = aligner.fit(FitInputs(model, evaluation, align, data, encoder, emb, run.dir,
                                       span(report, 0.3, 0.8), should_stop))
    aligner.save(run.dir)
    tuned_cache = encoder.cache

    def encoder_for(spec: ModelSpec) -> Encoder:
        return SentenceTransformerEncoder(spec, cache=tuned_cache)

    aligned = aligner.apply(ApplyInputs(data.eval_corpus, evaluation.langs, model, lambda: emb, encoder_for,
                                        span(report, 0.8, 0.85)))
    after = evaluate_embeddings(data.eval_corpus, aligned, evaluation, span(report, 0.85, 0.95))
    _write_side(run, "after", after, data.eval_corpus, aligned, _made_after(made, model, align, run))
    report("comparing", 0, 1, overall=0.95)
    table = compare_results(before.summary_frame(), before.per_query, after.summary_frame(), after.per_query)
    run.write_compare(table, made)
    record: dict[str, Any] = {"method": align.method, "describe": align.describe(), "train_source": data.source,
                              "n_train_triplets": len(data.triplets), "n_eval_queries": len(data.eval_corpus),
                              "model_fingerprint": encoder.fingerprint, "made_with": made.to_dict(),
                              "prompts": {"query": encoder.prompt_for("query"), "passage": encoder.prompt_for("passage")},
                              "warnings": list(fitted.warnings),
                              align.method: fitted.to_dict(),
                              "resamples": resamples(),  # of the bootstrap and permutation tests, each
                              "seconds": round(time.time() - started, 2), "versions": package_versions()}
    run.write_record(model, shown_eval, shown_align, record)
    if method.model_folder:  # an artefact that is a sentence-transformers model gets the run's model card
        from xlalign.store.export import card_for

        run.write_card(method.model_folder, card_for(run.dir, True, method.model_folder, model.model))
    report("done", 1, 1, overall=1.0)
    return AlignOutcome(before, after, table, record)


def _write_side(run: Run, which: str, result: EvalResult, corpus: ParallelCorpus, emb: CorpusEmbeddings,
                made: MadeWith) -> None:
    """One side's evaluation and neighbourhood tables (bitext, purity, the probe) into the run folder."""
    run.write_eval(which, result, made=made)
    run.write_neighbourhoods(which, neighbourhood_tables(corpus, emb, result.spec.langs, probe=True), made=made)


def _made_after(made: MadeWith, model: ModelSpec, align: AlignSpec, run: Run) -> MadeWith:
    """How the "after" side was made: by the run's own model (a fine-tune), else the model plus the method."""
    folder = align.aligner.model_folder
    if folder:
        tuned = SentenceTransformerEncoder(replace(model, model=str(run.dir / folder)))
        return replace(made, model=f"{model.model}, tuned in this run", fingerprint=tuned.fingerprint)
    return replace(made, model=f"{model.model} + this run's {align.method}")


__all__ = ["AlignOutcome", "check_alignment", "recorded_specs", "run_alignment", "run_summary"]
