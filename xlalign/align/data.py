"""What an alignment learns from: triplet files, the group split, and the leak check.

Training data never reaches the evaluation: with ``train_data="split"`` the evaluation corpus is
split by group (topic/article) and only the held-out part is evaluated, before and after; with the
demo corpus or an uploaded triplet file as training data, any passage shared with the evaluation
corpus is an error.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from xlalign.align.base import AlignSpec, TrainingData, languages_to_fit
from xlalign.core.corpus import ParallelCorpus, text_problem
from xlalign.core.loaders import load_demo, read_long_rows
from xlalign.errors import ConfigError, CorpusError
from xlalign.specs import EvalSpec

TRIPLET_COLUMNS = ("q_en", "p_en", "p_tgt")


def triplets_from_corpus(corpus: ParallelCorpus, pivot: str, targets: Sequence[str] | str) -> list[dict[str, str]]:
    """One triplet per item and target: its pivot-language question, pivot passage and target passage."""
    targets = [targets] if isinstance(targets, str) else list(targets)
    corpus.require_langs([pivot, *targets])
    return [{"q_en": corpus.questions[pivot][i], "p_en": corpus.passages[pivot][i], "p_tgt": corpus.passages[t][i],
             "lang": t} for t in targets for i in range(len(corpus))]


def load_triplets(path: str | Path) -> list[dict[str, str]]:
    """An uploaded JSONL/CSV of triplets with columns ``q_en, p_en, p_tgt`` (errors name the line)."""
    rows = read_long_rows(path)
    if not rows:
        raise CorpusError(f"{Path(path).name}: no triplets")
    out = []
    for n, row in rows:
        missing = [c for c in TRIPLET_COLUMNS if not str(row.get(c) or "").strip()]
        if missing:
            raise CorpusError(f"{Path(path).name}:{n}: missing or empty {', '.join(missing)} "
                              "(need columns q_en, p_en, p_tgt)")
        for c in TRIPLET_COLUMNS:
            problem = text_problem(str(row[c]))
            if problem is not None:
                language = "the target language" if c == "p_tgt" else "English"
                raise CorpusError(f"{Path(path).name}:{n}: {c} ({language}) {problem}")
        out.append({c: str(row[c]) for c in TRIPLET_COLUMNS})
    return out


def write_triplets(path: str | Path, triplets: Sequence[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(TRIPLET_COLUMNS), extrasaction="ignore")
        w.writeheader()
        w.writerows(triplets)


def prepare_data(evaluation: EvalSpec, align: AlignSpec, corpus: ParallelCorpus) -> TrainingData:
    """The held-out evaluation corpus and the training data, with a leak check for external training data."""
    pivot, targets = evaluation.pivot, evaluation.targets
    langs = languages_to_fit(evaluation, align)
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


__all__ = ["TRIPLET_COLUMNS", "load_triplets", "prepare_data", "triplets_from_corpus", "write_triplets"]
