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


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m xlalign.services.prewarm", description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated (default: fp32,bf16)")
    args = parser.parse_args(argv)
    warm(tuple(p.strip() for p in args.precisions.split(",") if p.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
