"""Encoding: the paths a performance-minded user could take, on the same texts, in one process, interleaved.

    python benchmarks/bench_encode.py [--data PATH[,PATH...]] [--texts 400] [--repeat 3] [--quality-items 100]
                                      [--no-e2e] [--extra]

Texts (``--data``): a SQuAD/XQuAD folder (default ``../shared/data/xquad``, languages ``--langs``; a third
passages, the rest questions, with their ``passage: ``/``query: `` prompts), or text files, one text per
line (a file whose name contains "query" or "question" is encoded as queries, any other as passages; the
language code is the file's stem). Model: the bundled multilingual-e5-small. Paths, each its own model object,
timed in turn within every round (interleaved), best of ``repeat`` rounds after one untimed round:

* ``SentenceTransformer.encode`` fp32: the plain peer (one call per language and role, batch 32);
* **ONNX Runtime fp32**: the same model exported with ``torch.onnx`` (``dynamo=False``), one
  ``InferenceSession`` (all usable cores), per language and role length-sorted batches of 32 padded to their
  longest, mean pooling and normalisation in numpy: what embedding servers and fastembed-style libraries do;
* xlalign fp32 and xlalign ``auto`` (bf16 weights with fp32 pooling where the CPU has bf16 units, else fp32);
* with ``--extra``: xlalign fp32 through its opt-in ONNX Runtime backend (``XLALIGN_BACKEND=onnx``).

Reported: tokens/s and texts/s, × ONNX Runtime fp32, minimum cosine to xlalign fp32; useful GFLOP/s (the
products of the real tokens, padding not counted) against the **measured** GEMM roofline of this machine (fp32
and bf16 ``torch.matmul`` at the model's FFN shape, 2,048 × 384 by 384 × 1,536, best of 30); padding share of
each batching on these texts, the demo and the whole XQuAD; then the cold end-to-end ``evaluate`` fp32 vs
``auto`` (Multi + Mono-Same on XQuAD en+zh) with its quality deltas. Every figure comes with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import machine
import numpy as np

from xlalign.core.encoder import EncodeRequest
from xlalign.core.evaluate import evaluate
from xlalign.core.loaders import load_demo, load_squad_folder
from xlalign.models.bundled import bundled_model_dir
from xlalign.models.cache import EmbeddingCache
from xlalign.models.device import configure_cpu_threads, resolve_precision
from xlalign.models.encoders import SentenceTransformerEncoder, plan_batches, token_lengths
from xlalign.specs import EvalSpec, ModelSpec

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"
LANGS = ("en", "zh")
PROMPTS = {"passage": "passage: ", "query": "query: "}
BATCH = 32  # the peers' batch size (sentence-transformers' default)
ROOFLINE_SHAPE = (2048, 384, 1536)


# --------------------------------------------------------------------------------------------------------------
# texts
# --------------------------------------------------------------------------------------------------------------
def speed_requests(xquad: Path, n: int, langs: tuple[str, ...] = LANGS) -> list[EncodeRequest]:
    """About n texts from a SQuAD-format folder: a third passages, the rest questions, split over ``langs``."""
    corpus = load_squad_folder(xquad, list(langs))
    first = corpus.passage_first_items()
    per = max(1, n // 3 // len(langs))
    reqs = [EncodeRequest([corpus.passages[x][i] for i in first[:per]], x, "passage") for x in langs]
    q = max(1, (n - per * len(langs)) // len(langs))
    return reqs + [EncodeRequest(list(corpus.questions[x][:q]), x, "query") for x in langs]


def file_requests(paths: list[Path], n: int) -> list[EncodeRequest]:
    """Text files, one text per line (blank lines skipped), at most ``n`` texts in all, split evenly."""
    out = []
    per = max(1, n // len(paths)) if n else None
    for p in paths:
        texts = [t.strip() for t in p.read_text(encoding="utf-8").splitlines() if t.strip()][:per]
        if not texts:
            raise SystemExit(f"{p}: no text lines")
        role = "query" if any(w in p.name.lower() for w in ("query", "question")) else "passage"
        out.append(EncodeRequest(texts, p.stem, role))
    return out


def load_requests(data: str | None, n: int, langs: tuple[str, ...]) -> tuple[list[EncodeRequest], str]:
    """The requests of ``--data`` (a SQuAD folder or text files) and a line saying what they are."""
    if not data:
        return speed_requests(DEFAULT_XQUAD, n, langs), f"XQuAD {'+'.join(langs)}"
    paths = [Path(p) for p in data.split(",")]
    if len(paths) == 1 and paths[0].is_dir():
        return speed_requests(paths[0], n, langs), f"{paths[0].name} {'+'.join(langs)}"
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"--data: not a folder or file: {', '.join(missing)}")
    return file_requests(paths, n), "text files " + ", ".join(p.name for p in paths)


# --------------------------------------------------------------------------------------------------------------
# the ONNX Runtime peer
# --------------------------------------------------------------------------------------------------------------
class OrtPeer:
    """The model's transformer exported with ``torch.onnx`` as it stands (no optimiser, SDPA attention), run by
    one ``InferenceSession`` with ONNX Runtime's default graph optimisations, batches of 32 per language and
    role sorted by length and padded to their longest; mean pooling and L2 normalisation in numpy."""

    def __init__(self, st_model: Any, folder: Path, threads: int, spin: bool = True) -> None:
        import onnxruntime as ort
        import torch

        hf = st_model[0].auto_model
        self.tokenizer = st_model[0].tokenizer
        self.max_len = st_model.max_seq_length
        path = folder / "peer.onnx"

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.hf = hf

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        ids = torch.ones(2, 8, dtype=torch.long)
        axes = {n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "h")}
        if not path.exists():
            with torch.no_grad():
                torch.onnx.export(Wrapped().eval(), (ids, ids), str(path), dynamo=False, opset_version=17,
                                  input_names=["input_ids", "attention_mask"], output_names=["h"], dynamic_axes=axes)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], prompt: str) -> np.ndarray:
        full = [prompt + t for t in texts]
        lengths = [len(x) for x in self.tokenizer(full, truncation=True, max_length=self.max_len)["input_ids"]]
        order = np.argsort([-x for x in lengths], kind="stable")
        out = np.empty((len(texts), self.session.get_outputs()[0].shape[-1] or 384), dtype=np.float32)
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            enc = self.tokenizer([full[i] for i in idx], padding=True, truncation=True, max_length=self.max_len,
                                 return_tensors="np")
            feed = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}
            h = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            e = (h * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            out[idx] = e / np.linalg.norm(e, axis=1, keepdims=True)
        return out


# --------------------------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------------------------
def _st(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


def _encoder(model: Any, model_dir: Path, precision: str, cache: EmbeddingCache | None, kind: str = "xlalign"
             ) -> SentenceTransformerEncoder:
    enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision=precision), cache=cache)
    enc._model = model
    if kind == "autocast":
        enc._bf16_mode = "autocast"
    if kind == "torch":
        enc._backend = "torch"
    if kind == "onnx":
        enc._backend = "onnx"
    return enc


def paths(model_dir: Path, folder: Path, extra: bool) -> dict[str, dict[str, Any]]:
    """name → {label, kind, model, precision}: the peers, and with ``extra`` the other candidates."""
    auto = resolve_precision("auto", "cpu")
    threads = configure_cpu_threads()
    fp32 = _st(model_dir)
    out: dict[str, dict[str, Any]] = {
        "st_fp32": {"label": "`SentenceTransformer.encode`, fp32, batch 32", "model": fp32, "kind": "st"},
        "ort_fp32": {"label": "**ONNX Runtime fp32** (torch.onnx export, sorted batches of 32)", "kind": "ort",
                     "model": OrtPeer(fp32, folder, threads)},
        "ort_fp32_nospin": {"label": "ONNX Runtime fp32, the same, its threads not spinning", "kind": "ort",
                            "model": OrtPeer(fp32, folder, threads, spin=False)},
        "xl_fp32": {"label": "xlalign fp32", "model": _st(model_dir), "kind": "xlalign", "precision": "fp32"},
        "xl_auto": {"label": f"xlalign `auto` (= {auto}{', bf16 weights + fp32 pooling' if auto == 'bf16' else ''})",
                    "model": _st(model_dir), "kind": "xlalign", "precision": "auto"},
    }
    if extra:
        out["xl_fp32_onnx"] = {"label": "xlalign fp32, ONNX Runtime backend (opt-in)", "model": fp32, "kind": "onnx",
                               "precision": "fp32"}
    return out


def encode_with(path: dict[str, Any], model_dir: Path, reqs: list[EncodeRequest],
                cache: EmbeddingCache | None = None) -> list[np.ndarray]:
    if path["kind"] == "st":
        return [np.asarray(path["model"].encode(list(r.texts), prompt=PROMPTS[r.role], batch_size=BATCH,
                                                normalize_embeddings=True, show_progress_bar=False)) for r in reqs]
    if path["kind"] == "ort":
        return [path["model"].encode(list(r.texts), PROMPTS[r.role]) for r in reqs]
    if "encoder" not in path or cache is not None:
        enc = _encoder(path["model"], model_dir, path["precision"], cache, path["kind"])
        if cache is not None:
            return enc.encode_many(reqs)
        path["encoder"] = enc
    return path["encoder"].encode_many(reqs)  # type: ignore[no-any-return]


def speed(model_dir: Path, reqs: list[EncodeRequest], repeat: int, extra: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ps = paths(model_dir, Path(tmp), extra)
        n = sum(len(r.texts) for r in reqs)
        times: dict[str, list[float]] = {k: [] for k in ps}
        cpu: dict[str, list[float]] = {k: [] for k in ps}
        emb = {k: np.vstack(encode_with(p, model_dir, reqs)) for k, p in ps.items()}  # untimed: pages, pools, kernels
        loads = [os.getloadavg()[0]]
        for _ in range(repeat):
            for k, p in ps.items():
                start, cpu0 = time.perf_counter(), time.process_time()
                encode_with(p, model_dir, reqs)
                times[k].append(time.perf_counter() - start)
                cpu[k].append(time.process_time() - cpu0)
            loads.append(os.getloadavg()[0])
    ref = emb["xl_fp32"]
    rows = {k: {"label": p["label"], "median_s": statistics.median(times[k]), "best_s": min(times[k]),
                "cpu_s": min(cpu[k]), "min_cos": float((emb[k] * ref).sum(1).min()),
                "max_abs": float(np.abs(emb[k] - ref).max()), "times": times[k]} for k, p in ps.items()}
    return {"texts": n, "rows": rows, "repeat": repeat, "loads": loads}


# --------------------------------------------------------------------------------------------------------------
# roofline, FLOPs, padding
# --------------------------------------------------------------------------------------------------------------
def gemm_roofline(dtype_name: str, repeat: int = 30) -> dict[str, float]:
    """Best GFLOP/s of ``torch.matmul`` at :data:`ROOFLINE_SHAPE` in this dtype, all usable cores: per wall
    second and per CPU second (the latter barely moved by other processes on a shared machine)."""
    import torch

    configure_cpu_threads()
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    m, k, n = ROOFLINE_SHAPE
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    out = torch.empty(m, n, dtype=dtype)
    torch.matmul(a, b, out=out)
    best = best_cpu = float("inf")
    for _ in range(repeat):
        start, cpu0 = time.perf_counter(), time.process_time()
        torch.matmul(a, b, out=out)
        best, best_cpu = min(best, time.perf_counter() - start), min(best_cpu, time.process_time() - cpu0)
    return {"wall": 2.0 * m * k * n / best / 1e9, "cpu": 2.0 * m * k * n / best_cpu / 1e9}


def layer_flops(length: int, d: int, d_ff: int) -> float:
    """One encoder layer on one sequence: Q, K, V, O and the two FFN products, and the two attention products."""
    return 2.0 * length * (4 * d * d + 2 * d * d_ff) + 4.0 * length * length * d


def useful_gflop(model: Any, reqs: list[EncodeRequest]) -> dict[str, float]:
    """FLOPs of one pass over the real tokens (no padding), and the token count."""
    cfg = model[0].auto_model.config
    lengths = [x for r in reqs for x in token_lengths(model, [PROMPTS[r.role] + t for t in r.texts])]
    flops = cfg.num_hidden_layers * sum(layer_flops(x, cfg.hidden_size, cfg.intermediate_size) for x in lengths)
    return {"gflop": flops / 1e9, "tokens": float(sum(lengths)), "layers": cfg.num_hidden_layers,
            "d": cfg.hidden_size, "d_ff": cfg.intermediate_size}


def padding(model: Any, reqs: list[EncodeRequest]) -> dict[str, tuple[int, int]]:
    """(real tokens, tokens computed) for the peers' batching and xlalign's plan on a CPU."""
    peer_real = peer_padded = 0
    for r in reqs:
        lengths = sorted(token_lengths(model, [PROMPTS[r.role] + t for t in r.texts]), reverse=True)
        peer_real += sum(lengths)
        peer_padded += sum(lengths[i] * len(lengths[i : i + BATCH]) for i in range(0, len(lengths), BATCH))
    enc = SentenceTransformerEncoder(ModelSpec("bundled:multilingual-e5-small", device="cpu"), cache=None)
    items = list(dict.fromkeys((PROMPTS[r.role], r.lang, t) for r in reqs for t in r.texts))
    plan = plan_batches(model, items, enc.batch_size, enc.batch_tokens)
    return {"peer": (peer_real, peer_padded), "xlalign": (plan.tokens, plan.padded_tokens)}


def corpus_requests(corpus: Any) -> list[EncodeRequest]:
    first = corpus.passage_first_items()
    return ([EncodeRequest([corpus.passages[x][i] for i in first], x, "passage") for x in corpus.langs]
            + [EncodeRequest(list(corpus.questions[x]), x, "query") for x in corpus.langs])


# --------------------------------------------------------------------------------------------------------------
# end to end
# --------------------------------------------------------------------------------------------------------------
def end_to_end(model_dir: Path, xquad: Path, items: int) -> dict[str, Any]:
    """Cold ``evaluate`` (Multi + Mono-Same) on XQuAD en+zh: xlalign fp32, then ``auto``, then fp32 and ``auto``
    again (best of two each), fresh caches; quality from the first runs."""
    corpus = load_squad_folder(xquad, list(LANGS))
    if items:  # the first questions, and at least enough of them to cover 3 passages (a pool needs 3 documents)
        _, passage = corpus.unique_passages()
        n = max(items, int(np.searchsorted(passage, 3)))
        corpus = corpus.subset(range(min(n, len(corpus))))
    spec = EvalSpec(data="xquad", langs=LANGS, scenarios=("multi", "mono-same"))
    models = {"xl_fp32": ("fp32", _st(model_dir)), "xl_auto": ("auto", _st(model_dir))}
    rows: dict[str, Any] = {}
    for _ in range(2):
        for name, (precision, model) in models.items():
            with tempfile.TemporaryDirectory() as tmp:
                enc = _encoder(model, model_dir, precision, EmbeddingCache(Path(tmp) / "e.sqlite"))
                start = time.perf_counter()
                res = evaluate(corpus, enc, spec)
                seconds = time.perf_counter() - start
            row = rows.setdefault(name, {"label": "xlalign fp32" if precision == "fp32" else "xlalign `auto`",
                                         "times": [], "load": os.getloadavg()[0],
                                         "ndcg10": float(np.mean([res.value("mono-same", q, "ndcg@10") for q in LANGS])),
                                         "max_r": float(np.mean([res.value("multi", q, "max_r") for q in LANGS]))})
            row["times"].append(seconds)
    for row in rows.values():
        row["seconds"] = min(row["times"])
    return {"items": len(corpus), "passages": corpus.n_passages, "rows": rows}


# --------------------------------------------------------------------------------------------------------------
# run and report
# --------------------------------------------------------------------------------------------------------------
def run(data: str | None = None, texts: int = 400, repeat: int = 3, quality_items: int = 100, e2e: bool = True,
        extra: bool = False, langs: tuple[str, ...] = LANGS, progress: Callable[[str], None] = print,
        xquad: Path = DEFAULT_XQUAD) -> dict[str, Any]:
    model_dir = bundled_model_dir()
    reqs, what = load_requests(data, texts, langs)
    out: dict[str, Any] = {"machine": machine.info(), "auto": resolve_precision("auto", "cpu"), "what": what}
    progress("encode: roofline")
    out["roofline"] = {}
    for k in ("fp32", "bf16"):
        runs = [gemm_roofline(k) for _ in range(2)]
        out["roofline"][k] = {x: max(r[x] for r in runs) for x in ("wall", "cpu")}
    progress("encode: speed (interleaved)")
    out["speed"] = speed(model_dir, reqs, repeat, extra)
    model = _st(model_dir)
    out["work"] = useful_gflop(model, reqs)
    out["padding"] = {"these texts": padding(model, reqs)}
    if xquad.is_dir():
        out["padding"]["XQuAD, 5 languages, every text"] = padding(
            model, corpus_requests(load_squad_folder(xquad, ["en", "zh", "es", "ar", "de"])))
    out["padding"]["demo, every text"] = padding(model, corpus_requests(load_demo()))
    if e2e and xquad.is_dir():
        progress("encode: end-to-end cold evaluate")
        out["e2e"] = end_to_end(model_dir, xquad, quality_items)
    return out


def _speed_md(r: dict[str, Any]) -> list[str]:
    s, w = r["speed"], r["work"]
    peer = s["rows"]["ort_fp32"]
    lines = ["| path | tokens/s (best) | texts/s (best) | × ONNX Runtime fp32 (best; median) | useful GFLOP per wall s "
             "(of the roofline) | useful GFLOP per CPU s (of the roofline) | min cosine to xlalign fp32 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k, x in s["rows"].items():
        gfs, gfc = w["gflop"] / x["best_s"], w["gflop"] / x["cpu_s"]
        bf16 = k in ("xl_auto", "bf16_autocast") and r["auto"] == "bf16"
        roof = r["roofline"]["bf16" if bf16 else "fp32"]
        kind = "bf16" if bf16 else "fp32"
        lines.append(f"| {x['label']} | {w['tokens'] / x['best_s']:,.0f} | {s['texts'] / x['best_s']:.1f} | "
                     f"{peer['best_s'] / x['best_s']:.2f}; {peer['median_s'] / x['median_s']:.2f} | {gfs:.0f} "
                     f"({100 * gfs / roof['wall']:.0f} % {kind}) | {gfc:.0f} ({100 * gfc / roof['cpu']:.0f} % {kind}) | "
                     f"{x['min_cos']:.6f} |")
    return lines


def _padding_md(r: dict[str, Any]) -> list[str]:
    lines = ["", "Padding: the share of the tokens sent to the model that are padding.", "",
             "| texts | tokens | peers: batches of 32 per language and role, padded to their longest | xlalign "
             "(one sorted list, ≤ 2,048 padded tokens a batch, padded to its longest) |", "|---|---:|---:|---:|"]
    for name, p in r["padding"].items():
        (real, peer), (_, ours) = p["peer"], p["xlalign"]
        lines.append(f"| {name} | {real:,} | {100 * (1 - real / peer):.1f} % | {100 * (1 - real / ours):.1f} % |")
    return lines


def _e2e_md(e: dict[str, Any]) -> list[str]:
    rows = e.get("rows", {})
    if "xl_fp32" not in rows:
        return []
    base = rows["xl_fp32"]
    lines = ["", f"End to end: `evaluate` (Multi + Mono-Same) on XQuAD en+zh, {e['items']} questions × {e['passages']} "
             "passages per language, cold embedding cache, fp32 and `auto` alternating, best of 2:", "",
             "| path | wall s (best; both) | × xlalign fp32 | Mono-Same NDCG@10 (Δ points) | Multi Max@R (Δ %) |",
             "|---|---:|---:|---:|---:|"]
    for x in rows.values():
        lines.append(f"| {x['label']} | {x['seconds']:.1f} ({', '.join(f'{t:.1f}' for t in x['times'])}) | "
                     f"{base['seconds'] / x['seconds']:.2f} | {x['ndcg10']:.2f} ({x['ndcg10'] - base['ndcg10']:+.2f}) | "
                     f"{x['max_r']:.2f} ({100 * (x['max_r'] / base['max_r'] - 1):+.2f}) |")
    return lines


def _targets_md(r: dict[str, Any]) -> list[str]:
    s, w = r["speed"]["rows"], r["work"]
    bf16 = r["auto"] == "bf16"
    ort = min(s[k]["best_s"] for k in ("ort_fp32", "ort_fp32_nospin") if k in s)  # the faster ONNX Runtime
    fp32, auto = ort / s["xl_fp32"]["best_s"], ort / s["xl_auto"]["best_s"]
    roof = r["roofline"]["bf16" if bf16 else "fp32"]
    share = 100 * w["gflop"] / s["xl_auto"]["best_s"] / roof["wall"]
    share_cpu = 100 * w["gflop"] / s["xl_auto"]["cpu_s"] / roof["cpu"]
    pads = {k: 100 * (1 - v["xlalign"][0] / v["xlalign"][1]) for k, v in r["padding"].items()}
    kind = "bf16" if bf16 else "fp32"
    rows = [("xlalign fp32 ≥ 1.0× ONNX Runtime fp32 (the faster of its two rows)", f"{fp32:.2f}×", fp32 >= 1.0),
            (f"`auto` ≥ {'2.0' if bf16 else '1.0'}× ONNX Runtime fp32 (the faster of its two rows)", f"{auto:.2f}×",
             auto >= (2.0 if bf16 else 1.0)),
            (f"`auto` ≥ 50 % of the measured {kind} GEMM roofline (useful FLOPs per wall second)", f"{share:.0f} %",
             share >= 50),
            ("the same per CPU second (the load taken out)", f"{share_cpu:.0f} %", share_cpu >= 50),
            ("min cosine of `auto` to fp32 ≥ 0.9999", f"{s['xl_auto']['min_cos']:.6f}", s["xl_auto"]["min_cos"] >= 0.9999)]
    rows += [(f"padding ≤ 15 % ({k})", f"{v:.1f} %", v <= 15) for k, v in pads.items()]
    e = r.get("e2e", {}).get("rows", {})
    if "xl_auto" in e and "xl_fp32" in e:
        a, f = e["xl_auto"], e["xl_fp32"]
        d_ndcg, d_max = a["ndcg10"] - f["ndcg10"], 100 * (a["max_r"] / f["max_r"] - 1)
        target = 2.0 if bf16 else 0.97
        rows += [(f"`auto` ≥ {target}× fp32, cold `evaluate`", f"{f['seconds'] / a['seconds']:.2f}×",
                  f["seconds"] / a["seconds"] >= target),
                 ("Mono-Same NDCG@10 within 0.5 points", f"{d_ndcg:+.2f}", abs(d_ndcg) <= 0.5),
                 ("Multi Max@R within 3 %", f"{d_max:+.2f} %", abs(d_max) <= 3)]
    return ["", "| target | measured | met |", "|---|---|---|",
            *[f"| {t} | {m} | {'met' if ok else '**NOT met**'} |" for t, m, ok in rows]]


def markdown(r: dict[str, Any]) -> str:
    s, w, roof = r["speed"], r["work"], r["roofline"]
    m, k, n = ROOFLINE_SHAPE
    loads = ", ".join(f"{x:.1f}" for x in s["loads"])
    lines = [f"{s['texts']} texts ({r['what']}, with their prompts; {w['tokens']:,.0f} tokens), bundled "
             f"multilingual-e5-small, no embedding cache, each path its own model object, interleaved, best of "
             f"{s['repeat']} rounds after one untimed round; 1-minute load average at each round: {loads}. "
             f"`auto` = **{r['auto']}** here.", "",
             f"Measured GEMM roofline (`torch.matmul`, {m:,} × {k} by {k} × {n:,}, best of 2 × 30, all usable cores): "
             f"**fp32 {roof['fp32']['wall']:.0f} GFLOP/s, bf16 {roof['bf16']['wall']:.0f} GFLOP/s** per wall second; "
             f"per CPU second (both threads' time: what a core-second of this CPU does) fp32 {roof['fp32']['cpu']:.0f}, "
             f"bf16 {roof['bf16']['cpu']:.0f}. Useful FLOPs: the products of "
             f"{w['layers']} layers (Q, K, V, O, FFN, attention; d = {w['d']}, d_ff = {w['d_ff']}) over the real "
             f"tokens, {w['gflop']:.0f} GFLOP a pass; padding, embeddings, norms and softmax not counted.", ""]
    lines += _speed_md(r) + _padding_md(r) + _e2e_md(r.get("e2e", {})) + _targets_md(r)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="a SQuAD/XQuAD folder, or comma-separated text files (one text a line)")
    ap.add_argument("--langs", default=",".join(LANGS), help="languages of a SQuAD folder")
    ap.add_argument("--texts", type=int, default=400, help="texts timed per path (0: every line of the files)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quality-items", type=int, default=100, help="XQuAD questions in the end-to-end run (0: all)")
    ap.add_argument("--no-e2e", action="store_true")
    ap.add_argument("--extra", action="store_true", help="also time xlalign fp32 through PyTorch")
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD, help="XQuAD folder (padding shares, end to end)")
    args = ap.parse_args()
    r = run(args.data, args.texts, args.repeat, args.quality_items, not args.no_e2e, args.extra,
            tuple(args.langs.split(",")), progress=lambda m: print(m, file=sys.stderr, flush=True), xquad=args.xquad)
    print(f"Machine: {machine.line(r['machine'])}.\n")
    print(markdown(r))


if __name__ == "__main__":
    main()


GPU_NOTE = """No GPU on this machine: encoding and fine-tuning on a GPU are **not measured** here.

What the code does on CUDA: `auto` resolves to bf16 where `torch.cuda.is_bf16_supported()`; encoding then runs under
`torch.autocast("cuda", bfloat16)` over fp32 weights (the bf16-weights path is CPU-only), batches of 256 texts halved
on out-of-memory, length-sorted over every language and role and padded to multiples of 8 tokens; the fine-tune trains
in bf16 mixed precision. `python benchmarks/run_all.py --only gpu` on a CUDA machine writes a table (fp32, bf16
autocast, `.half()`) from `gpu_speed`."""


def gpu_speed(reqs: list[EncodeRequest], repeat: int = 3) -> dict[str, float]:
    """CUDA only: texts/s of xlalign fp32, bf16 autocast, and the model cast with ``.half()`` (best of repeat)."""
    import torch

    model_dir = bundled_model_dir()
    n = sum(len(r.texts) for r in reqs)
    out: dict[str, float] = {}
    for name, precision, half in (("fp32", "fp32", False), ("bf16 autocast", "bf16", False), (".half()", "fp32", True)):
        enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cuda", precision=precision), cache=None)
        if half:
            enc.model.half()
        enc.encode_many(reqs)  # warm
        best = float("inf")
        for _ in range(repeat):
            torch.cuda.synchronize()
            start = time.perf_counter()
            enc.encode_many(reqs)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        out[name] = n / best
    return out


