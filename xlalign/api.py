"""The Python API for notebooks: :func:`diagnose`, :func:`align` and :func:`compare`.

Each returns a result object whose tables are the ones the CLI writes (``summary.csv``, ``matrix.csv``,
``per_query.csv``; ``compare.csv``; ``side_by_side.csv``), whose verdicts come from the same rule as every
other view (:mod:`xlalign.core.verdict`), whose figures are the app's (plotly), and which shows its finding
first in a notebook cell (``_repr_html_``)::

    import xlalign
    result = xlalign.diagnose("intfloat/multilingual-e5-small", data="demo", langs=["en", "zh"])
    result                      # the finding, then how it was made
    result.verdicts[0].kind     # 'same-language clustering'
    result.matrix_figure()      # the language-bias matrix

``model`` is a model id or folder (loaded by sentence-transformers, embeddings cached on disk), a
``SentenceTransformer`` already in memory, or any object with ``encode(texts, *, lang, role) -> array``
(role ``"query"`` or ``"passage"``; rows are L2-normalised here), so that a model served elsewhere can be
diagnosed. ``data`` is what the CLI's ``--data`` takes, a :class:`~xlalign.core.corpus.ParallelCorpus`, or a
pandas DataFrame in the long format (columns ``id, lang, passage, question[, group]``).
"""

from __future__ import annotations

import dataclasses
import html
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.encoder import ROLES, EncodeRequest, Role, l2_normalise
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.core.verdict import Verdict, verdicts
from xlalign.errors import ConfigError
from xlalign.progress import Progress, TqdmProgress, silent
from xlalign.report.provenance import MadeWith, made_with, stamp
from xlalign.report.verdict_text import RULE, compare_finding, headline, sentence
from xlalign.specs import SCENARIOS, EvalSpec, ModelSpec

#: Fewest distinct passages a diagnosis accepts (as the app's).
MIN_PASSAGES = 5


# --------------------------------------------------------------------------------------------
# Models given as objects
# --------------------------------------------------------------------------------------------
class ProtocolEncoder:
    """Any object with ``encode(texts, *, lang, role)`` as an xlalign encoder: outputs checked (one finite row
    per text, one width throughout) and L2-normalised. No embedding cache: the object may change between calls."""

    cache = None

    def __init__(self, obj: Any, name: str | None = None) -> None:
        if not callable(getattr(obj, "encode", None)):
            raise TypeError(f"{type(obj).__name__} has no encode(texts, *, lang, role) method")
        self.obj = obj
        self.name = name or getattr(obj, "name", None) or type(obj).__name__
        self.n_model_calls = 0
        self.n_texts_encoded = 0
        self._dim: int | None = None

    @property
    def fingerprint(self) -> str:
        own = getattr(self.obj, "fingerprint", None)
        return f"object:{type(self.obj).__module__}.{type(self.obj).__qualname__}" + (f"|{own}" if own else "")

    @property
    def dimension(self) -> int:
        if self._dim is None:
            raise ConfigError(f"{self.name}: its width is known once it has encoded something")
        return self._dim

    def prompt_for(self, role: Role) -> str:
        return ""

    def _call(self, texts: list[str], lang: str, role: Role) -> Any:
        return self.obj.encode(texts, lang=lang, role=role)

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray:
        """(n, d) float32, rows L2-normalised; a misshaped or non-finite answer is a clear error."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        try:
            out = np.asarray(self._call(texts, lang, role), dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{self.name}.encode(texts, lang={lang!r}, role={role!r}) failed or returned something "
                              f"that is not an array of numbers: {e}") from e
        if out.ndim != 2 or len(out) != len(texts) or (self._dim is not None and out.shape[1] != self._dim):
            raise ConfigError(f"{self.name}.encode returned shape {out.shape} for {len(texts)} texts; expected "
                              f"({len(texts)}, {self._dim if self._dim is not None else 'd'})")
        if not np.isfinite(out).all():
            raise ConfigError(f"{self.name}.encode returned NaN or infinite values ({lang} {role}s)")
        self._dim = out.shape[1]
        self.n_model_calls += 1
        self.n_texts_encoded += len(texts)
        return l2_normalise(out).astype(np.float32, copy=False)

    def encode_many(self, requests: Sequence[EncodeRequest], progress: Progress | None = None) -> list[np.ndarray]:
        report = progress or silent
        out = []
        for n, r in enumerate(requests):
            report(f"encoding {r.lang} {r.role}s", n, len(requests))
            out.append(self.encode(r.texts, lang=r.lang, role=r.role))
        report("encoding", len(requests), len(requests))
        return out


class SentenceTransformerObjectEncoder(ProtocolEncoder):
    """A ``SentenceTransformer`` in memory: its own ``encode`` with the prompts xlalign's registry knows for the
    model it was loaded from (E5: ``query: `` / ``passage: ``), else the model's own prompts, else none."""

    def __init__(self, model: Any) -> None:
        super().__init__(model, name=_st_name(model))
        from xlalign.models.registry import model_info

        info = model_info(self.name)
        prompts = dict(getattr(model, "prompts", None) or {})
        self._prompts: dict[str, str] = (
            {"query": info.query_prompt, "passage": info.passage_prompt} if info is not None else
            {"query": prompts.get("query", ""),
             "passage": next((prompts[k] for k in ("passage", "document", "corpus") if prompts.get(k)), "")})

    @property
    def fingerprint(self) -> str:
        return f"sentence-transformers-object:{self.name}"

    def prompt_for(self, role: Role) -> str:
        return self._prompts[role]

    def _call(self, texts: list[str], lang: str, role: Role) -> Any:
        out: np.ndarray = self.obj.encode(texts, prompt=self._prompts[role] or None, batch_size=32,
                                          convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        return out


def _st_name(model: Any) -> str:
    """The id or folder a SentenceTransformer was loaded from, as far as it says."""
    try:
        first = model[0]
        name = getattr(getattr(getattr(first, "auto_model", None), "config", None), "_name_or_path", None)
    except (TypeError, IndexError, KeyError):
        name = None
    return str(name or getattr(getattr(model, "model_card_data", None), "base_model", None) or "SentenceTransformer")


def _is_sentence_transformer(model: Any) -> bool:
    module = type(model).__module__ or ""
    if not module.startswith("sentence_transformers"):
        return False
    from sentence_transformers import SentenceTransformer

    return isinstance(model, SentenceTransformer)


def resolve_model(model: Any, *, precision: str = "auto", device: str | None = None, trust_remote_code: bool = False,
                  cache_dir: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """(encoder, what to call the model in records): a :class:`~xlalign.specs.ModelSpec` for an id or folder,
    else the object's name."""
    if isinstance(model, (str, os.PathLike)):
        from xlalign.models.cache import EmbeddingCache
        from xlalign.models.encoders import SentenceTransformerEncoder

        spec = ModelSpec(model=os.fspath(model), precision=precision, device=device, trust_remote_code=trust_remote_code)
        cache = EmbeddingCache(Path(cache_dir) / "embeddings.sqlite") if cache_dir else EmbeddingCache()
        return SentenceTransformerEncoder(spec, cache=cache), spec
    if isinstance(model, ModelSpec):
        return resolve_model(model.model, precision=model.precision, device=model.device,
                             trust_remote_code=model.trust_remote_code, cache_dir=cache_dir)
    encoder = SentenceTransformerObjectEncoder(model) if _is_sentence_transformer(model) else ProtocolEncoder(model)
    return encoder, encoder.name


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def resolve_data(data: Any, langs: Sequence[str]) -> ParallelCorpus:
    """A corpus from a ``--data`` string or path, a :class:`ParallelCorpus`, or a long-format DataFrame."""
    from xlalign.core.loaders import load_corpus, load_long

    if isinstance(data, ParallelCorpus):
        corpus = data.select_langs(langs)
    elif isinstance(data, pd.DataFrame):
        with tempfile.TemporaryDirectory(prefix="xlalign-frame-") as tmp:
            path = Path(tmp) / "dataframe.jsonl"
            data.to_json(path, orient="records", lines=True, force_ascii=False)
            corpus = load_long(path, langs, name="dataframe")
    elif isinstance(data, (str, os.PathLike)):
        corpus = load_corpus(os.fspath(data), list(langs))
    else:
        raise TypeError(f"data must be a dataset name or path, a ParallelCorpus or a DataFrame, not {type(data).__name__}")
    corpus.require_passages(MIN_PASSAGES)
    return corpus


def _progress(progress: bool | Progress) -> tuple[Progress, TqdmProgress | None]:
    if progress is True:
        bar = TqdmProgress()
        return bar, bar
    return (progress or silent), None


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
def _finding_html(found: Sequence[Verdict], pivot: str, made: MadeWith | None, title: str) -> str:
    items = "".join(f"<li>{html.escape(sentence(v))}</li>" for v in found)
    head = html.escape(headline(found, pivot, with_rule=False)) if found else "No verdict (no Multi scenario)."
    foot = html.escape(made.footer()) if made is not None else "made with: not recorded"
    return (f"<div class='xlalign'><h4>{html.escape(title)}</h4><p><b>{head}</b></p><ul>{items}</ul>"
            f"<p><small>Rule: {html.escape(RULE)}.</small><br><small>{foot}</small></p></div>")


@dataclass
class DiagnosisResult:
    """What :func:`diagnose` returns: the verdicts, the CLI's three tables, the app's figures, provenance."""

    spec: EvalSpec
    corpus: ParallelCorpus
    embeddings: CorpusEmbeddings
    result: EvalResult
    verdicts: list[Verdict]
    made_with: MadeWith
    model_name: str

    @property
    def summary(self) -> pd.DataFrame:
        """``summary.csv``: long-format rows (scenario, pool, query_lang, doc_lang, metric, value, …)."""
        return self.result.summary_frame()

    @property
    def matrix(self) -> pd.DataFrame:
        """``matrix.csv``: the language-bias matrix, with the verdict's inputs and their intervals."""
        return self.result.matrix_frame()

    @property
    def per_query(self) -> pd.DataFrame:
        """``per_query.csv``: every query's gold ranks and metrics per scenario."""
        return self.result.per_query

    @property
    def headline(self) -> str:
        return headline(self.verdicts, self.spec.pivot) if self.verdicts else "No verdict (no Multi scenario)."

    def sentences(self) -> list[str]:
        """One paragraph per verdict, as the app and the CLI write it."""
        return [sentence(v) for v in self.verdicts]

    def verdict_table(self) -> pd.DataFrame:
        """The verdicts as a flat table (one row per query language and pair)."""
        return pd.DataFrame([{"query_lang": v.query_lang, "against": v.against, "kind": v.kind,
                              "borderline": v.borderline, "preference %": v.preference, "preference lo": v.preference_ci[0],
                              "preference hi": v.preference_ci[1], "impact %": v.impact, "impact lo": v.impact_ci[0],
                              "impact hi": v.impact_ci[1], "mono_same ndcg@10": v.mono_same,
                              "mono_cross ndcg@10": v.mono_cross, "n_queries": v.n_queries,
                              "docs_per_lang": v.docs_per_lang} for v in self.verdicts])

    # figures (the app's)
    def overview_figure(self) -> Any:
        """The Multi pool's rates per query language (plotly)."""
        from xlalign.report.figures import multi_overview

        return multi_overview(self.summary, self.spec.pivot)

    def matrix_figure(self, metric: str = "best_gold_share") -> Any:
        """The language-bias matrix as a heatmap (plotly)."""
        from xlalign.report.figures import bias_matrix

        return bias_matrix(self.matrix, metric)

    def rank_figure(self, scenario: str = "multi") -> Any:
        """Where the golds rank, one curve per (query language, gold language) (plotly)."""
        from xlalign.report.figures import default_curves, rank_cdf

        return rank_cdf(self.per_query, scenario, default_curves(self.per_query, self.spec.pivot, scenario))

    def preference_figure(self) -> Any:
        """The verdict's language preference per target with 95% CIs (the Languages tab's chart; plotly)."""
        from xlalign.report.figures import inclination_view
        from xlalign.services.lab import language_row

        by_pair = {(v.query_lang, v.against): v for v in self.verdicts}
        rows = [language_row(by_pair[(t, self.spec.pivot)], by_pair[(self.spec.pivot, t)], self.result)
                for t in self.spec.targets if (t, self.spec.pivot) in by_pair and (self.spec.pivot, t) in by_pair]
        return inclination_view(pd.DataFrame(rows), self.spec.pivot)

    def embedding_map(self, max_items: int = 300, seed: int = 42) -> Any:
        """UMAP (cosine) of the passages, the versions of one passage joined (plotly; needs umap-learn)."""
        from xlalign.report.figures import umap_pairs

        corpus = self.corpus
        items = corpus.passage_first_items()[:max_items]  # row r of the passage embeddings is item items[r]
        points = {x: self.embeddings.passages[x][: len(items)] for x in self.spec.langs}
        labels = {x: [f"{corpus.groups[i]} ({x}): {corpus.passages[x][i]}" for i in items] for x in self.spec.langs}
        return umap_pairs(points, labels, title=f"{self.model_name} (UMAP, cosine)", seed=seed,
                          ids=[corpus.item_ids[i] for i in items], made=self.made_with)

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``summary.csv``, ``matrix.csv``, ``per_query.csv`` and ``run.json`` into ``out`` as ``xlalign
        evaluate`` does (and by its folder rules: a folder that is not xlalign's is never replaced)."""
        import json

        from xlalign.specs import to_dict
        from xlalign.store.runs import ResultFolder, csv_text

        made = self.made_with
        record = {"model": self.model_name, "eval": to_dict(self.spec), "n_queries": len(self.corpus),
                  "made_with": made.to_dict(), "verdicts": self.verdict_table().to_dict(orient="records")}
        with ResultFolder(out, overwrite=overwrite, kind="evaluate") as folder:
            folder.write({"summary.csv": csv_text(stamp(self.summary, made)),
                          "matrix.csv": csv_text(stamp(self.matrix, made)),
                          "per_query.csv": csv_text(stamp(self.per_query, made)),
                          "run.json": json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"})
        return Path(out)

    def __repr__(self) -> str:
        return f"<DiagnosisResult {self.model_name} on {self.corpus.name} ({'+'.join(self.spec.langs)}): {self.headline}>"

    def _repr_html_(self) -> str:
        title = f"{self.model_name} on {self.corpus.name} ({'+'.join(self.spec.langs)}, {len(self.corpus)} queries)"
        return _finding_html(self.verdicts, self.spec.pivot, self.made_with, title)


def diagnose(model: Any, data: Any = "demo", langs: Sequence[str] = ("en", "zh"), *, pool: str = "dedup",
             precision: str = "auto", scenarios: Sequence[str] = SCENARIOS, device: str | None = None,
             trust_remote_code: bool = False, cache_dir: str | os.PathLike[str] | None = None,
             progress: bool | Progress = True) -> DiagnosisResult:
    """Diagnose ``model`` on ``data`` for ``langs`` (the pivot first): every scenario in one pool, the
    language-bias matrix, and one verdict per language pair (:mod:`xlalign.core.verdict`).

    ``precision`` (auto, fp32, bf16) and ``device`` apply to models given by id or folder; an object encodes as
    it does. ``progress``: a bar on stderr (True), nothing (False), or a callable ``(stage, done, total, **kw)``.
    """
    encoder, named = resolve_model(model, precision=precision, device=device, trust_remote_code=trust_remote_code,
                                   cache_dir=cache_dir)
    corpus = resolve_data(data, langs)
    spec = EvalSpec(data=corpus.name, langs=tuple(langs), pool=pool, scenarios=tuple(scenarios))
    report, bar = _progress(progress)
    try:
        emb = encode_corpus(corpus, encoder, spec.langs, report)
        result = evaluate_embeddings(corpus, emb, spec, report)
    finally:
        if bar is not None:
            bar.close()
    found = verdicts(result.summary_frame(), result.matrix_frame(), spec.pivot, spec.langs)
    made = made_with(encoder, named, pool)
    name = named.model if isinstance(named, ModelSpec) else str(named)
    return DiagnosisResult(spec, corpus, emb, result, found, made, name)


@dataclass
class AlignmentResult:
    """What :func:`align` returns: the run folder the CLI writes, its before/after table, both sides' verdicts."""

    run_dir: Path
    compare_table: pd.DataFrame
    before: list[Verdict]
    after: list[Verdict]
    pivot: str
    label: str
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def finding(self) -> str:
        """The before/after finding in words (the app's and the CLI's)."""
        return compare_finding(self.compare_table, self.pivot, markdown=False, before=self.before, after=self.after)

    def __repr__(self) -> str:
        return f"<AlignmentResult {self.label} in {self.run_dir}:\n{self.finding}>"

    def _repr_html_(self) -> str:
        lines = "".join(f"<li>{html.escape(line.lstrip('- '))}</li>" for line in self.finding.splitlines())
        return f"<div class='xlalign'><h4>{html.escape(self.label)}</h4><ul>{lines}</ul><p><small>run folder: " \
               f"{html.escape(str(self.run_dir))}</small></p></div>"


def align(model: str | os.PathLike[str], method: str = "centering", *, out: str | os.PathLike[str], data: str = "demo",
          langs: Sequence[str] = ("en", "zh"), pool: str = "dedup", precision: str = "auto", overwrite: bool = False,
          cache_dir: str | os.PathLike[str] | None = None, progress: bool | Progress = True,
          **options: Any) -> AlignmentResult:
    """Fit ``method`` (centering, lsar, procrustes, finetune) on a group-disjoint training part and compare before
    and after on the held-out part: the run folder ``xlalign align`` writes (``compare.csv``, artefacts, record).

    ``options`` are the method's options and the alignment's (``test_fraction``, ``seed``, …) by their field
    names in :mod:`xlalign.specs` and the method's ``Options``; unknown names are refused.
    """
    from xlalign.align.base import AlignSpec, aligner_class
    from xlalign.models.cache import EmbeddingCache
    from xlalign.services.pipeline import run_alignment

    if not isinstance(model, (str, os.PathLike)):
        raise TypeError("align needs a model id or folder (save an in-memory model with model.save(folder) first)")
    spec = ModelSpec(model=os.fspath(model), precision=precision)
    evaluation = EvalSpec(data=data, langs=tuple(langs), pool=pool)
    cls = aligner_class(method)
    fields = {f.name for f in dataclasses.fields(AlignSpec)} - {"method", "options"}
    method_fields = {f.name for f in dataclasses.fields(cls.Options)}
    unknown = sorted(set(options) - fields - method_fields)
    if unknown:
        raise ConfigError(f"unknown option(s) for {method}: {', '.join(unknown)}")
    align_spec = AlignSpec(method=method, options=cls.Options(**{k: v for k, v in options.items() if k in method_fields}),
                           **{k: v for k, v in options.items() if k in fields})
    report, bar = _progress(progress)
    cache = EmbeddingCache(Path(cache_dir) / "embeddings.sqlite") if cache_dir else None
    try:
        outcome = run_alignment(spec, evaluation, align_spec, Path(out), overwrite=overwrite, cache=cache, progress=report)
    finally:
        if bar is not None:
            bar.close()
    sides = [verdicts(r.summary_frame(), r.matrix_frame(), evaluation.pivot, evaluation.langs)
             for r in (outcome.before, outcome.after)]
    return AlignmentResult(Path(out), outcome.compare, sides[0], sides[1], evaluation.pivot, align_spec.describe(),
                           outcome.record)


@dataclass
class ComparisonResult:
    """What :func:`compare` returns: the stacked ``compare.csv`` and the wide ``side_by_side.csv`` of several runs."""

    stacked: pd.DataFrame
    side_by_side: pd.DataFrame
    notes: list[str]

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = False, runs: Sequence[str] = ()) -> Path:
        """Write ``compare.csv`` and ``side_by_side.csv`` as ``xlalign compare`` does."""
        from xlalign.store.runs import ResultFolder, csv_text

        with ResultFolder(out, overwrite=overwrite, names=("compare.csv", "side_by_side.csv"), kind="compare",
                          inputs=[Path(r) for r in runs]) as folder:
            folder.write({"compare.csv": csv_text(self.stacked), "side_by_side.csv": csv_text(self.side_by_side)})
        return Path(out)

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return f"<div class='xlalign'>{notes}{self.side_by_side.to_html(float_format=lambda v: f'{v:.4g}')}</div>"


def compare(*runs: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
            overwrite: bool = False) -> ComparisonResult:
    """Several alignment runs side by side (each change with its CI and q); with ``out``, written like the CLI's."""
    from xlalign.store.runs import compare_runs

    if not runs:
        raise ConfigError("name at least one run folder")
    found = compare_runs([Path(r) for r in runs])
    result = ComparisonResult(found.stacked, found.wide().reset_index(), list(found.notes))
    if out is not None:
        result.write(out, overwrite=overwrite, runs=[os.fspath(r) for r in runs])
    return result


__all__ = ["AlignmentResult", "ComparisonResult", "DiagnosisResult", "ProtocolEncoder",
           "SentenceTransformerObjectEncoder", "align", "compare", "diagnose", "resolve_data", "resolve_model"]
