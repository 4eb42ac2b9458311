"""The encode path of issue 20: one length-sorted list over languages and roles, padding buckets, bf16
weights with fp32 pooling, progress per batch, thread settings. Behaviour only: no timings."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_model import build_tiny_model

from xlalign.core.encoder import EncodeRequest, encode_requests
from xlalign.core.evaluate import encode_corpus
from xlalign.models import device as D
from xlalign.models.encoders import (
    CPU_BATCH_TOKENS,
    PAD_MULTIPLE,
    SentenceTransformerEncoder,
    _cut,
    bf16_weights,
    pad_multiple,
    plan_batches,
    st_encode,
    token_lengths,
)
from xlalign.specs import ModelSpec

WORDS = ["cats", "purr", "when", "content", "katzen", "schnurren", "wenn", "sie", "zufrieden", "sind", "the", "nile",
         "is", "long", "der", "nil", "ist", "lang"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), [" ".join(WORDS[i:] + WORDS[:i]) for i in range(8)])


def _texts(n: int, seed: int = 0) -> list[str]:
    """Texts of very different lengths (1 to 60 words)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 60)))) for _ in range(n)]


def _encoder(model_dir: Path, precision: str = "fp32", batch_size: int = 4) -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision=precision,
                                                batch_size=batch_size), cache=None)


def test_padding_to_a_bucket_gives_the_unpadded_embeddings(tiny):
    model = _encoder(tiny).model
    texts = _texts(12)
    assert pad_multiple(model) == PAD_MULTIPLE == 8  # max_seq_length 128 is a multiple of 8 (GPU batches)
    plain = st_encode(model, texts, prompt="query: ", batch_size=4, device="cpu", precision="fp32")
    padded = st_encode(model, texts, prompt="query: ", batch_size=4, device="cpu", precision="fp32", pad_multiple=32)
    np.testing.assert_allclose(padded, plain, atol=2e-6)  # fp32: the padding is masked out exactly, up to summation order


def test_bf16_weights_keep_fp32_pooling_and_stay_close_to_fp32(tiny):
    fp32 = _encoder(tiny, "fp32")
    bf16 = _encoder(tiny, "bf16")
    pooled: list[torch.dtype] = []
    bf16.model[1].register_forward_pre_hook(lambda m, args: pooled.append(args[0]["token_embeddings"].dtype))
    texts = _texts(10, seed=1)
    a = fp32.encode(texts, lang="en", role="passage")
    b = bf16.encode(texts, lang="en", role="passage")
    first = bf16.model[0]
    assert next(first.parameters()).dtype == torch.bfloat16 and bf16._bf16_mode == "weights"
    assert pooled and set(pooled) == {torch.float32}  # the mean over tokens is taken in fp32
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    assert float((a * b).sum(1).min()) > 0.999 and not np.array_equal(a, b)
    assert "precision=bf16-cpu" in bf16.fingerprint  # not the key of the former autocast entries
    hooks = len(first._forward_hooks)
    assert bf16_weights(bf16.model) and len(first._forward_hooks) == hooks  # preparing twice adds nothing


def test_one_sorted_list_over_languages_and_roles_keeps_every_row_in_place(tiny):
    enc = _encoder(tiny, batch_size=3)
    reqs = [EncodeRequest(_texts(7, 2), "en", "passage"), EncodeRequest(_texts(5, 3), "de", "query"),
            EncodeRequest(_texts(6, 4), "de", "passage"), EncodeRequest([], "en", "query")]
    many = enc.encode_many(reqs)
    assert [len(x) for x in many] == [7, 5, 6, 0] and many[3].shape == (0, enc.dimension)
    model = enc.model
    for r, got in zip(reqs, many, strict=True):
        for text, row in zip(r.texts, got, strict=True):  # each text alone: no batch, no padding, no sorting
            alone = model.encode([enc.prompt_for(r.role) + text], normalize_embeddings=True)[0]
            np.testing.assert_allclose(row, alone, atol=2e-6)


def test_a_request_list_found_whole_in_the_cache_never_loads_the_model(tiny, tmp_path):
    """A fresh encoder on a filled cache (a restarted server, the Space image): the rows come back from the
    cache and the weights are never read."""
    from xlalign.models.cache import EmbeddingCache

    reqs = [EncodeRequest(_texts(5, 7), "en", "passage"), EncodeRequest(_texts(4, 8), "de", "query")]
    spec = ModelSpec(str(tiny), device="cpu", precision="fp32", batch_size=4)
    first = SentenceTransformerEncoder(spec, cache=EmbeddingCache(tmp_path / "e.sqlite")).encode_many(reqs)
    fresh = SentenceTransformerEncoder(spec, cache=EmbeddingCache(tmp_path / "e.sqlite"))
    again = fresh.encode_many(reqs)
    assert fresh._model is None and (fresh.n_model_calls, fresh.n_texts_encoded) == (0, 0)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_plan_sorts_all_items_by_tokens_and_prepends_prompts_when_pooling_includes_them(tiny):
    enc = _encoder(tiny)
    model = enc.model
    items = [("query: ", "en", "cats"), ("passage: ", "de", " ".join(WORDS)), ("query: ", "de", "der nil ist lang")]
    lengths = token_lengths(model, [p + t for p, _, t in items])
    assert lengths[1] > lengths[2] > lengths[0]
    plan = plan_batches(model, items, 2)  # no token budget (GPU): batches of 2, padded to a multiple of 8
    assert plan.pad_multiple == 8 and plan.batches == [(None, [1, 2]), (None, [0])]
    rounded = [-(-lengths[i] // 8) * 8 for i in (1, 0)]
    assert (plan.tokens, plan.padded_tokens) == (sum(lengths), 2 * rounded[0] + rounded[1])
    plan = plan_batches(model, items, 512, max_tokens=3 * lengths[1])  # CPU: a token budget, padded to the longest,
    assert plan.pad_multiple is None and plan.batches == [(None, [1]), (None, [2]), (None, [0])]  # no text < 85 %
    assert plan.padded_tokens == plan.tokens == sum(lengths)
    # A pooling that leaves the prompt out needs the prompt's length: one list per prompt, each sorted.
    fake = [types.SimpleNamespace(), types.SimpleNamespace(include_prompt=False)]
    plan = plan_batches(fake, items, 2)
    assert plan.pad_multiple is None and plan.batches == [("passage: ", [1]), ("query: ", [2, 0])]


def test_a_token_budget_cuts_batches_by_rows_times_the_longest_row():
    # lengths hand-made, longest first: width 10 → 20 // 10 = 2 rows; then width 5 → 4 rows, but 1 < 0.85 · 5
    batches = list(_cut([0, 1, 2, 3, 4], [10, 9, 5, 5, 1], 512, 20, 1))
    assert batches == [([0, 1], 10), ([2, 3], 5), ([4], 1)]
    assert list(_cut([0, 1, 2], [20, 17, 16], 512, 100, 1)) == [([0, 1], 20), ([2], 16)]  # 16 < 0.85 · 20 = 17
    assert list(_cut([0, 1], [50, 3], 512, 20, 1)) == [([0], 50), ([1], 3)]  # one text over the budget goes alone
    assert list(_cut([0, 1, 2], [3, 3, 3], 2, None, 8)) == [([0, 1], 8), ([2], 8)]  # rows cap, rounded to 8


def test_cpu_batches_hold_a_token_budget_and_match_the_unbatched_embeddings(tiny):
    enc = _encoder(tiny, batch_size=512)
    assert enc.batch_tokens == CPU_BATCH_TOKENS
    enc._backend = "torch"
    texts = _texts(40, seed=9)
    calls: list[int] = []
    original = enc._call_model
    enc._call_model = lambda m, t, *a: calls.append(len(t)) or original(m, t, *a)  # type: ignore[method-assign]
    got = enc.encode(texts, lang="en", role="passage")
    assert sum(calls) == 40 and len(calls) > 1  # batches end where a text is under 85 % of the longest
    ref = enc.model.encode(["passage: " + t for t in texts], batch_size=1, normalize_embeddings=True)
    np.testing.assert_allclose(got, ref, atol=2e-6)


def test_progress_moves_per_batch_and_names_queries(tiny):
    enc = _encoder(tiny, batch_size=3)
    texts = _texts(10, 5)
    sizes: list[int] = []
    original = enc._call_model
    enc._call_model = lambda m, t, *a: sizes.append(len(t)) or original(m, t, *a)  # type: ignore[method-assign]
    seen: list[tuple[str, float, float]] = []
    enc.encode(texts, lang="en", role="query", progress=lambda s, d=0, t=None, **k: seen.append((s, d, t)))
    assert max(sizes) <= 3 and sum(sizes) == 10  # batches of at most batch_size texts (fewer where lengths drop)
    assert seen == [("encoding en queries", d, 10) for d in np.cumsum([0, *sizes])]  # one report per batch
    seen.clear()
    sizes.clear()
    reqs = [EncodeRequest(_texts(4, 6), "en", "passage"), EncodeRequest(_texts(4, 7), "de", "query")]
    enc.encode_many(reqs, progress=lambda s, d=0, t=None, **k: seen.append((s, d, t)))
    assert {s for s, _, _ in seen} == {"encoding en, de passages and queries"}
    assert [d for _, d, _ in seen] == list(np.cumsum([0, *sizes])) and seen[-1][1] == 8


def test_encode_corpus_makes_one_request_list_and_plain_encoders_still_work(tiny, squad_folder):
    from fakes import TableEncoder

    from xlalign.core.loaders import load_squad_folder

    corpus = load_squad_folder(squad_folder)
    enc = _encoder(tiny)
    calls: list[list[EncodeRequest]] = []
    original = enc.encode_many
    enc.encode_many = lambda reqs, progress=None: calls.append(list(reqs)) or original(reqs, progress)  # type: ignore
    emb = encode_corpus(corpus, enc, ["en", "de"])
    assert len(calls) == 1 and [(r.lang, r.role) for r in calls[0]] == [("en", "passage"), ("de", "passage"),
                                                                          ("en", "query"), ("de", "query")]
    assert emb.queries["de"].shape[0] == len(corpus)
    texts = ["a", "b"]
    table = TableEncoder({"a": [1.0, 0.0], "b": [0.0, 2.0]})
    out = encode_requests(table, [EncodeRequest(texts, "en", "query")])
    np.testing.assert_array_equal(out[0], [[1.0, 0.0], [0.0, 1.0]])


def test_threads_follow_the_cgroup_quota_and_the_users_choice(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert D.usable_cpus(str(tmp_path)) == min(2, D.usable_cpus(str(tmp_path / "none")))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert D.usable_cpus(str(tmp_path)) == D.usable_cpus(str(tmp_path / "none")) >= 1
    before = torch.get_num_threads()
    monkeypatch.setenv("XLALIGN_THREADS", "1")
    D.configure_cpu_threads.cache_clear()
    try:
        assert D.configure_cpu_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
        D.configure_cpu_threads.cache_clear()
