"""The parallel corpus: questions and passages aligned across languages by a stable item id.

An *item* is one question with the passage that answers it, in every language of the corpus.
Several items may share one passage (XQuAD: 1190 questions over 240 paragraphs); they then carry
the same ``passage_key``. ``group`` is a topic/article key used for leak-free train/test splits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from xlalign.errors import CorpusError


@dataclass(frozen=True)
class ParallelCorpus:
    """Items × languages. ``passages[lang][i]`` and ``questions[lang][i]`` belong to ``item_ids[i]``."""

    name: str
    item_ids: tuple[str, ...]
    groups: tuple[str, ...]
    passage_keys: tuple[str, ...]
    passages: dict[str, tuple[str, ...]]
    questions: dict[str, tuple[str, ...]]
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if n == 0:
            raise CorpusError(f"corpus {self.name!r} has no items")
        if len(self.groups) != n or len(self.passage_keys) != n:
            raise CorpusError(f"corpus {self.name!r}: groups/passage_keys length differs from {n} items")
        if set(self.passages) != set(self.questions):
            raise CorpusError(f"corpus {self.name!r}: passages and questions cover different languages")
        if not self.passages:
            raise CorpusError(f"corpus {self.name!r} has no languages")
        dup = _first_duplicate(self.item_ids)
        if dup is not None:
            raise CorpusError(f"corpus {self.name!r}: item id {dup!r} occurs more than once")
        clash = _whitespace_clash(self.item_ids)
        if clash is not None:
            raise CorpusError(f"corpus {self.name!r}: item ids {clash[0]!r} and {clash[1]!r} differ only in leading or "
                              "trailing spaces (a spreadsheet or a CSV reader would merge them); rename one")
        for lang in self.passages:
            for kind, texts in (("passage", self.passages[lang]), ("question", self.questions[lang])):
                if len(texts) != n:
                    raise CorpusError(f"corpus {self.name!r}: {len(texts)} {kind}s in {lang!r}, expected {n}")
                for i, t in enumerate(texts):
                    if not isinstance(t, str) or not t.strip():
                        raise CorpusError(f"corpus {self.name!r}: empty {kind} for item {self.item_ids[i]!r} in {lang!r}")
            seen: dict[str, str] = {}
            for i, key in enumerate(self.passage_keys):
                text = self.passages[lang][i]
                if seen.setdefault(key, text) != text:
                    raise CorpusError(
                        f"corpus {self.name!r}: items sharing passage {key!r} have different {lang!r} passages "
                        f"(item {self.item_ids[i]!r})"
                    )

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(self.passages)

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def n_passages(self) -> int:
        return len(set(self.passage_keys))

    def require_passages(self, minimum: int = 5) -> None:
        """Refuse (one line) a corpus with fewer than ``minimum`` distinct passages per language: too few to rank
        against each other or to draw (UMAP needs more neighbours than that)."""
        if self.n_passages < minimum:
            raise CorpusError(f"corpus {self.name!r} has {self.n_passages} distinct passage(s); at least {minimum} are "
                              "needed")

    def require_langs(self, langs: Iterable[str]) -> None:
        """Raise a CorpusError naming every requested language the corpus lacks."""
        missing = [lang for lang in langs if lang not in self.passages]
        if missing:
            raise CorpusError(
                f"corpus {self.name!r} has no {', '.join(map(repr, missing))}; it has {', '.join(self.langs)}"
            )

    def select_langs(self, langs: Sequence[str]) -> ParallelCorpus:
        self.require_langs(langs)
        return ParallelCorpus(
            self.name,
            self.item_ids,
            self.groups,
            self.passage_keys,
            {lang: self.passages[lang] for lang in langs},
            {lang: self.questions[lang] for lang in langs},
            dict(self.meta),
        )

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> ParallelCorpus:
        idx = [int(i) for i in indices]

        def pick(seq: Sequence[str]) -> tuple[str, ...]:
            return tuple(seq[i] for i in idx)

        return ParallelCorpus(
            name or self.name,
            pick(self.item_ids),
            pick(self.groups),
            pick(self.passage_keys),
            {lang: pick(t) for lang, t in self.passages.items()},
            {lang: pick(t) for lang, t in self.questions.items()},
            dict(self.meta),
        )

    def unique_passages(self) -> tuple[list[str], np.ndarray]:
        """Distinct passage keys in first-seen order, and each item's index into them."""
        order: dict[str, int] = {}
        item_to_unit = np.array([order.setdefault(k, len(order)) for k in self.passage_keys], dtype=np.int64)
        return list(order), item_to_unit

    def passage_first_items(self) -> np.ndarray:
        """For each distinct passage (``unique_passages`` order), the index of the first item carrying it."""
        keys, item_to_passage = self.unique_passages()
        first = np.zeros(len(keys), dtype=np.int64)
        first[item_to_passage[::-1]] = np.arange(len(self))[::-1]
        return first

    def split_by_group(self, test_fraction: float = 0.5, seed: int = 42) -> tuple[ParallelCorpus, ParallelCorpus]:
        """Group-disjoint (topic/article) train/test split; no group, hence no passage, is on both sides.

        Groups are shuffled with ``seed`` and assigned to test until ``test_fraction`` of the items
        are covered. Items sharing a passage always share a group, so passages never leak.
        """
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        groups = sorted(set(self.groups))
        if len(groups) < 2:
            raise CorpusError(f"corpus {self.name!r} has {len(groups)} group(s); a group-disjoint split needs 2")
        # A passage must never straddle the split, whatever the group labels say.
        by_passage: dict[str, set[str]] = {}
        for k, g in zip(self.passage_keys, self.groups, strict=True):
            by_passage.setdefault(k, set()).add(g)
        straddling = [k for k, gs in by_passage.items() if len(gs) > 1]
        if straddling:
            raise CorpusError(f"corpus {self.name!r}: passage {straddling[0]!r} appears in several groups")
        rng = np.random.default_rng(seed)
        rng.shuffle(groups)
        counts: dict[str, int] = {}
        for g in self.groups:
            counts[g] = counts.get(g, 0) + 1
        target = test_fraction * len(self)
        test_groups: set[str] = set()
        covered = 0
        for g in groups:
            if covered >= target or len(test_groups) == len(groups) - 1:
                break
            test_groups.add(g)
            covered += counts[g]
        test_idx = [i for i, g in enumerate(self.groups) if g in test_groups]
        train_idx = [i for i, g in enumerate(self.groups) if g not in test_groups]
        return self.subset(train_idx, f"{self.name}[train]"), self.subset(test_idx, f"{self.name}[test]")


def _first_duplicate(values: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None


def _whitespace_clash(values: Iterable[str]) -> tuple[str, str] | None:
    """Two values equal once stripped of surrounding whitespace (the first such pair), else None."""
    seen: dict[str, str] = {}
    for v in values:
        key = v.strip()
        if key in seen and seen[key] != v:
            return seen[key], v
        seen.setdefault(key, v)
    return None
