"""Build-time warm-up of the Space image: ``python -m xlalign.services.prewarm``.

The Dockerfile runs this once, so that a visitor's first request waits for nothing that could have
been done before: the bundled model is converted into the cache folder, the whole demo corpus is
encoded with it into the embedding cache, and the ranking and UMAP kernels are compiled (numba caches
them on disk).

The demo corpus is encoded at both precisions (``fp32`` and ``bf16``): the app's default precision
``auto`` resolves on the machine that *serves* the image, which may have bf16 units when the build
machine has none (or the other way round), and the cache is keyed by the precision actually used.
The printed summary is one line per step, for the build log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")


def warm(precisions: Sequence[str] = PRECISIONS, langs: Sequence[str] | None = None) -> dict[str, int]:
    """Convert the bundled model, encode the demo corpus per precision into the default cache, compile the
    kernels. Returns the texts the model encoded per precision (0 when the cache already held them)."""
    from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
    from xlalign.core.loaders import load_demo
    from xlalign.models.bundled import bundled_model_dir
    from xlalign.models.cache import EmbeddingCache
    from xlalign.models.encoders import SentenceTransformerEncoder
    from xlalign.report.figures import warm_up
    from xlalign.specs import EvalSpec, ModelSpec

    started = time.monotonic()
    print(f"prewarm: bundled model in {bundled_model_dir()} ({time.monotonic() - started:.0f} s)", flush=True)
    corpus = load_demo(list(langs) if langs else None)
    cache = EmbeddingCache()
    encoded: dict[str, int] = {}
    for precision in precisions:
        t0 = time.monotonic()
        encoder = SentenceTransformerEncoder(ModelSpec(precision=precision), cache=cache)
        emb = encode_corpus(corpus, encoder, corpus.langs)
        encoded[precision] = encoder.n_texts_encoded
        print(f"prewarm: demo corpus ({len(corpus.langs)} languages) at {precision}: {encoder.n_texts_encoded} texts "
              f"encoded in {time.monotonic() - t0:.0f} s", flush=True)
    t0 = time.monotonic()
    pair = (corpus.langs[0], corpus.langs[1]) if "en" not in corpus.langs else ("en", next(x for x in corpus.langs
                                                                                        if x != "en"))
    evaluate_embeddings(corpus.select_langs(pair), emb.select(pair), EvalSpec(data="demo", langs=pair))
    warm_up()
    print(f"prewarm: ranking and UMAP kernels compiled in {time.monotonic() - t0:.0f} s; cache {cache.path} holds "
          f"{len(cache)} embeddings", flush=True)
    return encoded


def at_start_up(lab: Any = None, model: str | None = None) -> None:
    """What a server does in the background as it starts, so that its first request waits for none of it:
    import torch and pick the device (the cache is keyed by the precision resolved on it), load the ranking
    kernels from numba's on-disk cache, draw each diagnosis figure once, compile UMAP's kernels, and (with
    ``lab``) fingerprint ``model``'s encoder, so that a first diagnosis from the cache only reads the cache.
    Never raises (a failure here shows up, with its traceback, in the request that needs the same step)."""
    import logging

    import numpy as np

    try:
        from xlalign.core.evaluate import CorpusEmbeddings, evaluate_embeddings
        from xlalign.core.loaders import load_demo
        from xlalign.models.device import best_device
        from xlalign.report import figures
        from xlalign.specs import EvalSpec, ModelSpec

        best_device()
        corpus = load_demo(["en", "zh"])  # every scenario once, on random vectors: every ranking kernel loads
        rng = np.random.default_rng(0)
        n_passages = len(corpus.passage_first_items())
        emb = CorpusEmbeddings({x: rng.normal(size=(n_passages, 8)).astype(np.float32) for x in corpus.langs},
                               {x: rng.normal(size=(len(corpus), 8)).astype(np.float32) for x in corpus.langs})
        result = evaluate_embeddings(corpus, emb, EvalSpec(data="demo", langs=("en", "zh")))
        figures.multi_overview(result.summary_frame(), "en")
        figures.rank_cdf(result.per_query, "multi")
        figures.bias_matrix(result.matrix_frame(), "best_gold_share")
        if lab is not None and model:
            encoder = lab.encoder(ModelSpec(model=model))
            _ = encoder.fingerprint, encoder.prompt_for("query"), encoder.prompt_for("passage")
        figures.warm_up()
    except Exception:  # a warm-up must never take the server down
        logging.getLogger(__name__).warning("start-up warm-up failed", exc_info=True)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m xlalign.services.prewarm", description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated (default: fp32,bf16)")
    args = parser.parse_args(argv)
    warm(tuple(p.strip() for p in args.precisions.split(",") if p.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
