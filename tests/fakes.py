"""Hand-checkable encoders for tests."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence

import numpy as np

from xlalign.core.encoder import Role
from xlalign.models.encoders import CachedEncoder

#: Bits of the exact grid: entries are multiples of 2**-EXACT_BITS.
EXACT_BITS = 11
#: Extra dimensions that make every squared norm exactly 1 (Lagrange: four squares suffice).
PAD_DIMS = 4


def four_squares(n: int) -> tuple[int, int, int, int]:
    """Non-negative integers (a, b, c, d) with a² + b² + c² + d² = n (Lagrange's theorem; small n)."""
    for a in range(math.isqrt(n), -1, -1):
        for b in range(min(a, math.isqrt(n - a * a)), -1, -1):
            rest = n - a * a - b * b
            for c in range(min(b, math.isqrt(rest)), -1, -1):
                d = math.isqrt(rest - c * c)
                if d <= c and d * d == rest - c * c:
                    return a, b, c, d
    raise AssertionError(f"no four squares for {n}")  # unreachable: every n ≥ 0 has them


def exact_unit_rows(x: np.ndarray, bits: int = EXACT_BITS) -> np.ndarray:
    """Unit rows on a grid of 2**-bits: the direction of each row of ``x``, plus ``PAD_DIMS`` columns.

    Every entry is m / 2**bits with integer m and every row's squared norm is exactly 1, so each
    product of two entries is a multiple of 2**-(2·bits) and, by Cauchy–Schwarz, every partial sum of
    an inner product lies in [-1, 1]: 2·bits + 1 ≤ 24 bits, exact in float32 whatever the summation
    order (BLAS kernel, CPU, block size) and ``l2_normalise`` divides by exactly 1. Scores and hence
    ranks are then the same on every machine. The padding columns (norm ≲ 0.05) fill the remainder.
    """
    scale = 1 << bits
    target = scale * scale
    out = np.zeros((len(x), x.shape[1] + PAD_DIMS), dtype=np.float64)
    for i, row in enumerate(np.asarray(x, dtype=np.float64)):
        m = np.rint(row / max(np.linalg.norm(row), 1e-300) * (scale - 2)).astype(np.int64)
        while (m * m).sum() > target:  # rounding up can overshoot: shrink the largest entry
            j = int(np.argmax(np.abs(m)))
            m[j] -= np.sign(m[j])
        out[i, : x.shape[1]] = m
        out[i, x.shape[1]:] = four_squares(int(target - (m * m).sum()))
    return (out / scale).astype(np.float32)


def _bucket(token: str, dim: int) -> int:
    return int.from_bytes(hashlib.md5(token.encode()).digest()[:4], "little") % dim


class BagOfCharsEncoder(CachedEncoder):
    """Character-trigram hashing; ``lang_offset`` adds a per-language direction (a language bias).

    Rows are :func:`exact_unit_rows`: scores are exact in float32, so golden values hold on every CPU."""

    def __init__(self, dim: int = 64, lang_offset: dict[str, float] | None = None, cache=None,
                 fingerprint: str = "bag-of-chars-v1") -> None:
        super().__init__(cache)
        self.name = "bag-of-chars"
        self.dim = dim
        self.lang_offset = lang_offset or {}
        self._fp = fingerprint
        self.langs_seen: list[tuple[str, Role]] = []

    @property
    def fingerprint(self) -> str:
        return self._fp

    @property
    def dimension(self) -> int:
        return self.dim + PAD_DIMS

    def prompt_for(self, role: Role) -> str:
        return "query: " if role == "query" else "passage: "

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress=None) -> np.ndarray:
        self.langs_seen.append((lang, role))
        return super().encode(texts, lang=lang, role=role, progress=progress)

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            s = f"  {t.lower()}  "
            for j in range(len(s) - 2):
                out[i, _bucket(s[j : j + 3], self.dim)] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-12)
            out[i, 0] += self.lang_offset.get(lang, 0.0)
        return exact_unit_rows(out)


class TableEncoder:
    """Returns fixed vectors from a dict keyed by text: for hand-computed rankings."""

    name = "table"

    def __init__(self, table: dict[str, Sequence[float]]) -> None:
        self.table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}
        self.calls = 0

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress=None) -> np.ndarray:
        self.calls += 1
        x = np.stack([self.table[t] for t in texts])
        return x / np.linalg.norm(x, axis=1, keepdims=True)


class LatentEncoder(CachedEncoder):
    """A model of English inclination with known ground truth.

    Every passage has a random semantic vector ``s`` shared by all its translations; its question is
    ``s`` plus noise. Texts in language L add ``weight[L]`` along a direction u_L of their own, and
    every query also leans ``query_pull`` (or ``pull_by_lang[L]`` for queries in L) towards u_en
    (English-centric query space). So a target query prefers English documents over its own-language
    gold, and moving each language's mean onto English removes exactly that offset. Rows are
    :func:`exact_unit_rows` (scores exact in float32 on every CPU).
    """

    def __init__(self, corpus, weight: dict[str, float], query_pull: float = 0.8, sigma: float = 0.3,
                 noise: float = 0.5, seed: int = 0, pull_by_lang: dict[str, float] | None = None) -> None:
        super().__init__(None)
        self.name = "latent"
        langs = list(corpus.langs)
        dim = 48 + len(langs)
        rng = np.random.default_rng(seed)
        axis = {lang: np.eye(dim)[k] for k, lang in enumerate(langs)}
        keys = {k: i for i, k in enumerate(dict.fromkeys(corpus.passage_keys))}
        sem = np.zeros((len(keys), dim))
        sem[:, len(langs):] = rng.normal(size=(len(keys), 48))
        sem /= np.linalg.norm(sem, axis=1, keepdims=True)
        en_axis = axis.get("en", np.zeros(dim))
        pulls = {lang: (pull_by_lang or {}).get(lang, query_pull) * en_axis for lang in langs}
        self.vec: dict[tuple[str, str], np.ndarray] = {}
        for i, key in enumerate(corpus.passage_keys):
            q = sem[keys[key]].copy()
            q[len(langs):] += noise * rng.normal(size=48) / np.sqrt(48)
            for lang in langs:
                self.vec[(lang, corpus.passages[lang][i])] = sigma * sem[keys[key]] + weight[lang] * axis[lang]
                self.vec[(lang, corpus.questions[lang][i])] = sigma * q + weight[lang] * axis[lang] + pulls[lang]
        self.dim = dim

    @property
    def fingerprint(self) -> str:
        return "latent"

    @property
    def dimension(self) -> int:
        return self.dim + PAD_DIMS

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        return exact_unit_rows(np.stack([self.vec[(lang, t)] for t in texts]))


class PlantedEncoder(CachedEncoder):
    """An encoder whose language bias is planted, for checking that the verdict finds exactly that.

    A text's vector is ``signal · item + noise + own · u_L + pull · a`` (then made unit length): ``item`` is a
    random unit vector shared by a passage, its questions and every translation of them; ``noise`` is drawn
    per text (N(0, I/dim)); ``u_L`` is a unit direction of the text's language (``own`` > 0 plants
    same-language clustering); ``a`` is one attractor shared by every query and the pivot's passages
    (``pull`` > 0 plants pivot inclination). With ``own = pull = 0`` nothing depends on the language: the
    encoder is language-neutral at any ``signal``, from none (0) to strong (≥ 1). ``query_shift`` adds one
    direction to every query (a role prompt, as E5's ``query:``), which a language-neutral model may have.
    Rows are :func:`exact_unit_rows` (scores exact in float32 on every CPU).
    """

    def __init__(self, corpus, *, signal: float = 1.0, own: float = 0.0, pull: float = 0.0, pivot: str = "en",
                 dim: int = 64, seed: int = 0, query_shift: float = 0.0) -> None:
        super().__init__(None)
        self.name = f"planted(signal={signal}, own={own}, pull={pull})"
        rng = np.random.default_rng(seed)
        unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)
        keys = {k: i for i, k in enumerate(dict.fromkeys(corpus.passage_keys))}
        item = unit(rng.normal(size=(len(keys), dim)))
        axis = {lang: unit(rng.normal(size=dim)) for lang in corpus.langs}
        attractor, shift = unit(rng.normal(size=dim)), unit(rng.normal(size=dim))
        self.vec: dict[tuple[str, str], np.ndarray] = {}
        for lang in corpus.langs:
            for i, key in enumerate(corpus.passage_keys):
                for role, text in (("passage", corpus.passages[lang][i]), ("query", corpus.questions[lang][i])):
                    if (lang, text) in self.vec:  # a passage shared by several questions: one vector
                        continue
                    v = signal * item[keys[key]] + rng.normal(size=dim) / np.sqrt(dim) + own * axis[lang]
                    if role == "query" or lang == pivot:
                        v = v + pull * attractor
                    self.vec[(lang, text)] = v + (query_shift * shift if role == "query" else 0.0)
        self.dim = dim
        self._fp = f"planted-{signal}-{own}-{pull}-{pivot}-{dim}-{seed}-{query_shift}"

    @property
    def fingerprint(self) -> str:
        return self._fp

    @property
    def dimension(self) -> int:
        return self.dim + PAD_DIMS

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        return exact_unit_rows(np.stack([self.vec[(lang, t)] for t in texts]))


class Gated:
    """Mixin for a fake encoder (``class G(Gated, LatentEncoder)``): its first model call waits until ``go`` is
    set, with ``started`` set while it waits; ``calls`` counts model calls. A test's hook into a running job."""

    #: Seconds the first call waits for ``go``: only a guard against a hang (nothing is timed).
    GUARD = 300.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.started, self.go = threading.Event(), threading.Event()
        self.calls = 0

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.go.wait(self.GUARD), "the gate was never opened"
        return super()._encode_uncached(texts, prompt, lang)  # type: ignore[misc]
