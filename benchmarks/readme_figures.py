"""The README's diagnosis, verdict and language-bias matrix figures, from one script with stated options.

    python benchmarks/readme_figures.py                 # print every block
    python benchmarks/readme_figures.py --write         # put them into README.md, between their markers
    python benchmarks/readme_figures.py --check         # exit 1 when README.md holds other figures

Options (the defaults are the README's): the bundled model (``bundled:multilingual-e5-small``) at **fp32**
precision on the CPU — bf16 under ``auto`` gives other figures on CPUs with bf16 units, so the README states
fp32 —, dedup pools, the demo corpus (7 languages) and XQuAD (en, zh, es, ar, de) from ``--xquad``
(default ``../shared/data/xquad`` from the repository root). Each block sits in README.md between
``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``; ``tests/test_readme_figures.py`` checks that the
README holds exactly what this script prints for these options.

Every verdict is computed twice — in one k-language pool and in each pivot + target pool — and the script
stops if any pair's verdict or rate differs between the two (they are pair rates: see
``xlalign/core/verdict.py``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus
from xlalign.core.verdict import Verdict, verdicts
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.report.tables import matrix_pivot
from xlalign.report.verdict_text import headline, lang_name, sentence
from xlalign.specs import DEFAULT_MODEL_ID, EvalSpec, ModelSpec

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEFAULT_XQUAD = ROOT.parent / "shared" / "data" / "xquad"
DEMO_LANGS = ("en", "es", "de", "zh", "ar", "hi", "ur")
XQUAD_LANGS = ("en", "zh", "es", "ar", "de")
MARKER = re.compile(r"<!-- figures:(?P<name>[\w-]+) -->\n(?:(?P<body>.*?)\n)?<!-- /figures:(?P=name) -->", re.S)


def _encode(data: str, langs: Sequence[str], encoder: SentenceTransformerEncoder) -> tuple[ParallelCorpus,
                                                                                            CorpusEmbeddings]:
    corpus = load_corpus(data, list(langs))
    return corpus, encode_corpus(corpus, encoder, langs)


def _pair_check(corpus: ParallelCorpus, emb: CorpusEmbeddings, spec: EvalSpec) -> tuple[EvalResult, list[Verdict],
                                                                                          dict[str, EvalResult]]:
    """The k-language diagnosis, its verdicts, and each pair's own diagnosis; stops if a pair's verdict differs."""
    big = evaluate_embeddings(corpus, emb, spec)
    found = verdicts(big.summary_frame(), big.matrix_frame(), spec.pivot, spec.langs)
    by_pair = {(v.query_lang, v.against): v for v in found}
    pairs = {}
    for t in spec.targets:
        pair_spec = EvalSpec(data=spec.data, langs=(spec.pivot, t), pool=spec.pool)
        pair = evaluate_embeddings(corpus.select_langs(pair_spec.langs), emb.select(pair_spec.langs), pair_spec)
        for v in verdicts(pair.summary_frame(), pair.matrix_frame(), spec.pivot, pair_spec.langs):
            if by_pair[(v.query_lang, v.against)] != v:
                sys.exit(f"the {v.query_lang} → {v.against} verdict differs between the {len(spec.langs)}-language "
                         f"pool and the pair pool: {by_pair[(v.query_lang, v.against)]} vs {v}")
        pairs[t] = pair
    return big, found, pairs


def _ci(rate: float, ci: tuple[float, float]) -> str:
    return f"{rate:.1f} ({ci[0]:.1f}–{ci[1]:.1f})"


def verdict_table(found: list[Verdict], big: EvalResult, pairs: dict[str, EvalResult], pivot: str) -> str:
    """One row per target: both directions of its pair's verdict with its three parts (preference, impact,
    quality), and a pool-dependent metric beside them (Multi Complete@10, which does change with the pool)."""
    by_pair = {(v.query_lang, v.against): v for v in found}
    k = len(big.spec.langs)
    p = lang_name(pivot)
    lines = [f"| target | verdict | own-language preference % (95% CI) | impact % (95% CI) | Mono-Same / Mono-Cross "
             f"NDCG@10 | {p} queries against its gold: verdict, preference % | Multi Complete@10 %: pair pool → "
             f"{k}-language pool |", "|---|---|---|---|---|---|---|"]
    for t in big.spec.targets:
        v, back = by_pair[(t, pivot)], by_pair[(pivot, t)]
        mark = " (borderline)" if v.borderline else ""
        back_mark = " (borderline)" if back.borderline else ""
        lines.append(f"| {t} ({lang_name(t)}) | {v.kind}{mark} | {_ci(v.preference, v.preference_ci)} | "
                     f"{_ci(v.impact, v.impact_ci)} | {v.mono_same:.1f} / {v.mono_cross:.1f} | "
                     f"{back.kind}{back_mark}, {back.preference:.1f} | "
                     f"{pairs[t].value('multi', t, 'complete@10'):.1f} → {big.value('multi', t, 'complete@10'):.1f} |")
    return "\n".join(lines)


def example_block(corpus: ParallelCorpus, emb: CorpusEmbeddings) -> str:
    """The verdict of demo en+zh, as the CLI prints it (headline, then one sentence per direction)."""
    spec = EvalSpec(data="demo", langs=("en", "zh"))
    res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
    found = verdicts(res.summary_frame(), res.matrix_frame(), "en", spec.langs)
    return "\n".join(f"> {line}" for line in [headline(found, "en"), *(sentence(v) for v in found)])


def pool_block(found: list[Verdict], big: EvalResult, pairs: dict[str, EvalResult], what: str) -> str:
    k, n = len(big.spec.langs), found[0].n_queries
    docs = found[0].docs_per_lang
    return "\n".join([
        f"{what}: one {k}-language pool ({k * docs:,} documents, {docs} per language, {n} queries per language) and "
        f"each {lang_name(big.spec.pivot)} + target pool give the same verdicts and rates — every one of the "
        f"{len(found)} below was computed both ways and compared by the script.", "",
        verdict_table(found, big, pairs, big.spec.pivot)])


def matrix_block(big: EvalResult) -> str:
    """The median-rank matrix of the demo's 7-language pool, and what it says, in figures."""
    langs = list(big.spec.langs)
    matrix = big.matrix_frame()
    median = matrix_pivot(matrix, "median_rank")
    share = matrix_pivot(matrix, "best_gold_share")
    head = ["| query ↓ / docs → | " + " | ".join(langs) + " |", "|---" * (len(langs) + 1) + "|"]
    rows = [f"| {q} | " + " | ".join(f"**{_num(median.loc[q, d])}**" if q == d else _num(median.loc[q, d])
                                     for d in langs) + " |" for q in langs]
    diag = [share.loc[x, x] for x in langs]
    zh_col = [median.loc[q, "zh"] for q in langs if q != "zh"]
    zh_row = [median.loc["zh", d] for d in langs if d != "zh"]
    hi_ur = (median.loc["hi", "ur"], median.loc["ur", "hi"])
    said = (f"Every language finds its own version first for most queries (`best_gold_share` "
            f"{min(diag):.1f}–{max(diag):.1f}% on the diagonal); Chinese translations sink for everyone (median rank "
            f"{_num(min(zh_col))}–{_num(max(zh_col))}) and Chinese queries find no other language before rank "
            f"~{_num(min(zh_row))}; Hindi and Urdu (one spoken language, two scripts) find each other at median "
            f"ranks {_num(min(hi_ur))}–{_num(max(hi_ur))}, and Urdu queries pick the Hindi version first for "
            f"{share.loc['ur', 'hi']:.1f}% of queries.")
    return "\n".join([*head, *rows, "", said])


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def compute(model: str = DEFAULT_MODEL_ID, precision: str = "fp32", xquad: Path = DEFAULT_XQUAD,
            cache: EmbeddingCache | None = None) -> dict[str, str]:
    """Every block, by name (the README's markers)."""
    encoder = SentenceTransformerEncoder(ModelSpec(model=model, device="cpu", precision=precision),
                                         cache=cache if cache is not None else EmbeddingCache())
    if encoder.precision != precision:
        sys.exit(f"asked for {precision}, the encoder uses {encoder.precision}")
    made = f"bundled multilingual-e5-small, {precision}, dedup pools" if model == DEFAULT_MODEL_ID else \
        f"{model}, {precision}, dedup pools"
    corpus, emb = _encode("demo", DEMO_LANGS, encoder)
    demo_big, demo_found, demo_pairs = _pair_check(corpus, emb, EvalSpec(data="demo", langs=DEMO_LANGS))
    if not (xquad / "xquad.en.json").exists():
        sys.exit(f"XQuAD not found at {xquad} (pass --xquad DIR)")
    xcorpus, xemb = _encode(f"{xquad}", XQUAD_LANGS, encoder)
    x_big, x_found, x_pairs = _pair_check(xcorpus, xemb, EvalSpec(data=str(xquad), langs=XQUAD_LANGS))
    return {
        "verdict-example": example_block(corpus, emb) + f"\n\n<sub>{made}; `python benchmarks/readme_figures.py`</sub>",
        "verdict-demo": pool_block(demo_found, demo_big, demo_pairs, f"Demo corpus ({made})"),
        "verdict-xquad": pool_block(x_found, x_big, x_pairs, f"XQuAD ({made})"),
        "matrix": matrix_block(demo_big),
    }


def readme_blocks(text: str) -> dict[str, str]:
    """The blocks README.md holds, by name."""
    return {m["name"]: m["body"] or "" for m in MARKER.finditer(text)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    missing = set(blocks) - set(readme_blocks(text))
    if missing:
        sys.exit(f"README.md has no markers for {sorted(missing)}")
    return MARKER.sub(lambda m: f"<!-- figures:{m['name']} -->\n{blocks.get(m['name'], m['body'] or '')}\n"
                                f"<!-- /figures:{m['name']} -->", text)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL_ID)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                    help="encoding precision (default fp32: the same figures on every CPU)")
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder (default: xlalign's)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the blocks into README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md differs")
    args = ap.parse_args(argv)
    cache = EmbeddingCache(args.cache_dir / "embeddings.sqlite") if args.cache_dir else None
    blocks = compute(args.model, args.precision, args.xquad, cache)
    text = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(replace_blocks(text, blocks), encoding="utf-8")
        print(f"wrote {len(blocks)} blocks into {README}")
        return 0
    if args.check:
        held = readme_blocks(text)
        wrong = [n for n, b in blocks.items() if held.get(n) != b]
        for n in wrong:
            print(f"README.md block {n!r} differs from the script's:\n{blocks[n]}\n", file=sys.stderr)
        return 1 if wrong else 0
    for name, body in blocks.items():
        print(f"<!-- figures:{name} -->\n{body}\n<!-- /figures:{name} -->\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    pd.set_option("display.width", 160)
    raise SystemExit(main())
