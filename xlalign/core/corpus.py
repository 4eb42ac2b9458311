"""The parallel corpus: questions and passages aligned across languages by a stable item id.

An *item* is one question with the passage that answers it, in every language of the corpus.
Several items may share one passage (XQuAD: 1190 questions over 240 paragraphs); they then carry
the same ``passage_key``. ``group`` is a topic/article key used for leak-free train/test splits.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from xlalign.errors import CorpusError

# --------------------------------------------------------------------------------------------
# Texts that cannot be embedded: control characters, and text that is empty once invisible
# --------------------------------------------------------------------------------------------
#: Control characters (Unicode category Cc) other than tab, line feed and carriage return, and unpaired
#: surrogates (Cs: not Unicode text, and not writable as UTF-8). Refused anywhere in a text or an id.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x0B: "VERTICAL TAB", 0x0C: "FORM FEED",
                  0x1B: "ESCAPE", 0x7F: "DELETE"}
#: Invisible besides whitespace and format characters (Cf): the other default-ignorable code points of Unicode
#: (combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors, variation
#: selectors, specials) and the blank Braille pattern.
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0xE0100, 0xE01EF))


@functools.cache
def _invisible_only() -> re.Pattern[str]:
    """Matches a text made only of invisible characters: Unicode whitespace (``str.isspace``: no-break, ideographic
    and the other spaces), every format character (Cf: zero-width space and joiners, BOM, direction marks, soft
    hyphen, tags …) and :data:`_IGNORABLE`. Built once, from this Python's Unicode database (planes 0, 1 and 14:
    the others hold no format character or space)."""
    planes = itertools.chain(range(0x20000), range(0xE0000, min(0xF0000, sys.maxunicode + 1)))
    points = [c for c in planes if unicodedata.category(chr(c)) == "Cf" or chr(c).isspace()]
    ranges = sorted({*((c, c) for c in points), *_IGNORABLE})
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return re.compile("[" + "".join(f"{_escaped(lo)}-{_escaped(hi)}" for lo, hi in merged) + "]*")


def _escaped(code: int) -> str:
    return f"\\U{code:08x}"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be embedded, as the end of a sentence ("… is empty once invisible characters are
    removed"), or None when it can: a control character or an unpaired surrogate anywhere, or nothing visible.
    Invisible characters inside visible text (a joiner in an emoji, a direction mark in Arabic) are fine."""
    bad = _CONTROL.search(text)
    if bad is not None:
        code = ord(bad.group())
        if 0xD800 <= code <= 0xDFFF:
            return f"holds an unpaired surrogate (U+{code:04X}), which is not Unicode text"
        name = _CONTROL_NAMES.get(code)
        return f"holds a control character (U+{code:04X}{' ' + name if name else ''})"
    if not text.strip():
        return "is empty"
    if _invisible_only().fullmatch(text):
        shown = ", ".join(dict.fromkeys(f"U+{ord(c):04X}" for c in text[:20]))
        return f"is empty once invisible characters are removed (it holds only {shown})"
    return None


def id_problem(value: str) -> str | None:
    """Why an id or group key cannot be used (a control character or an unpaired surrogate), else None."""
    return text_problem(value) if _CONTROL.search(value) else None


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
        for v in self.item_ids:  # (passage keys may be built from texts, joined by a control character)
            problem = id_problem(v) if isinstance(v, str) else f"is a {type(v).__name__}, not a string"
            if problem is not None:
                raise CorpusError(f"corpus {self.name!r}: item id {v!r} {problem}")
        for lang in self.passages:
            if id_problem(lang) is not None:
                raise CorpusError(f"corpus {self.name!r}: language {lang!r} {id_problem(lang)}")
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
                    problem = text_problem(t) if isinstance(t, str) else "is not text"
                    if problem is not None:
                        raise CorpusError(f"corpus {self.name!r}: the {kind} of item {self.item_ids[i]!r} in {lang!r} "
                                          f"{problem}")
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
