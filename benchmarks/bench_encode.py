"""Encoding: the paths a user could take, on the same texts, in the same process, interleaved.

    python benchmarks/bench_encode.py [--texts 480] [--repeat 3] [--quality-items 0] [--no-e2e]

Bundled multilingual-e5-small; XQuAD en+zh contexts and questions with their passage/query prompts.
Each path has its own loaded model (bf16 and int8 change the weights). Rows:

* ``SentenceTransformer.encode`` fp32: the plain peer a user runs (one call per role, batch 32);
* xlalign before issue 20 (fp32): one encode call per (language, role), chunks of 512, no padding buckets;
* xlalign fp32: one length-sorted list over every language and role, batches padded to a multiple of 32;
* xlalign ``auto``: bf16 where the CPU has bf16 units (bf16 weights, fp32 pooling), else fp32;
* bf16 autocast (xlalign's bf16 before issue 20), where the CPU has bf16 units;
* dynamic int8 (``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``), through xlalign's path;
* ONNX Runtime / OpenVINO through sentence-transformers' ``backend=``, where they load.

For each: texts/s (median and best of ``repeat``), the ratio to the peer, the minimum cosine to the peer's
fp32 embeddings. Then the end-to-end cold ``evaluate`` on XQuAD en+zh (Multi + Mono-Same) per path:
wall time, Mono-Same NDCG@10 and Multi Max@R and their change from fp32. Then the floor: FLOPs of one
encode pass (padding included and excluded) against the CPU's peak, and oneDNN's kernel creations.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
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
from xlalign.core.loaders import load_squad_folder
from xlalign.models.bundled import bundled_model_dir
from xlalign.models.cache import EmbeddingCache
from xlalign.models.device import resolve_precision
from xlalign.models.encoders import CachedEncoder, SentenceTransformerEncoder, st_encode, token_lengths
from xlalign.specs import EvalSpec, ModelSpec

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"
LANGS = ("en", "zh")
PROMPTS = {"passage": "passage: ", "query": "query: "}
BATCH = 32


def speed_requests(xquad: Path, n: int) -> list[EncodeRequest]:
    """About n texts: a third passages, the rest questions, half en and half zh."""
    corpus = load_squad_folder(xquad, list(LANGS))
    first = corpus.passage_first_items()
    per = max(1, n // 3 // len(LANGS))
    reqs = [EncodeRequest([corpus.passages[x][i] for i in first[:per]], x, "passage") for x in LANGS]
    q = max(1, (n - per * len(LANGS)) // len(LANGS))
    return reqs + [EncodeRequest(list(corpus.questions[x][:q]), x, "query") for x in LANGS]


class LegacyEncoder(SentenceTransformerEncoder):
    """xlalign's encode path before issue 20: per (language, role) call, longest first by characters, chunks
    of 512 texts to one ``SentenceTransformer.encode`` (padding to the longest of each batch of 32),
    bf16 as autocast over fp32 weights."""

    def _encode_pieces(self, items):  # type: ignore[no-untyped-def]
        return CachedEncoder._encode_pieces(self, items)

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        return st_encode(self.model, texts, prompt=prompt, batch_size=self.batch_size, device="cpu",
                         precision=self.precision, autocast_bf16=True, pad_multiple=None)


def _st(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


def _encoder(model: Any, model_dir: Path, precision: str, cache: EmbeddingCache | None, kind: str = "xlalign"
             ) -> SentenceTransformerEncoder:
    cls = LegacyEncoder if kind == "legacy" else SentenceTransformerEncoder
    enc = cls(ModelSpec(str(model_dir), device="cpu", precision=precision), cache=cache)
    enc._model = model
    if kind == "autocast":
        enc._bf16_mode = "autocast"
    return enc


def _quantise(model: Any) -> Any:
    import warnings

    import torch

    with warnings.catch_warnings():  # torch.ao's deprecation notice for eager-mode quantisation (still supported)
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def paths(model_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every path that loads here: name → {model, precision, kind}; and name → why a path did not load."""
    fp32 = _st(model_dir)
    auto = resolve_precision("auto", "cpu")
    out: dict[str, dict[str, Any]] = {
        "st_fp32": {"label": "`SentenceTransformer.encode`, fp32 (the peer)", "model": fp32, "kind": "st"},
        "legacy_fp32": {"label": "xlalign before issue 20, fp32", "model": fp32, "kind": "legacy", "precision": "fp32"},
        "xl_fp32": {"label": "xlalign fp32", "model": fp32, "kind": "xlalign", "precision": "fp32"},
        "xl_auto": {"label": f"xlalign `auto` (= {auto}{', bf16 weights + fp32 pooling' if auto == 'bf16' else ''})",
                    "model": _st(model_dir) if auto == "bf16" else fp32, "kind": "xlalign", "precision": "auto"},
    }
    if auto == "bf16":
        out["bf16_autocast"] = {"label": "bf16 autocast over fp32 weights (xlalign's bf16 before issue 20)",
                                "model": _st(model_dir), "kind": "autocast", "precision": "bf16"}
    quantised = _quantise(fp32)
    out["int8"] = {"label": "dynamic int8 (`quantize_dynamic`, nn.Linear), xlalign path", "model": quantised,
                   "kind": "xlalign", "precision": "fp32"}
    failed: dict[str, str] = {}
    for backend in ("onnx", "openvino"):
        try:
            from sentence_transformers import SentenceTransformer

            out[backend] = {"label": f"sentence-transformers backend={backend}", "kind": "st",
                            "model": SentenceTransformer(str(model_dir), device="cpu", backend=backend)}
        except Exception as e:  # the measured reason goes into the report
            failed[backend] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    return out, failed


def encode_with(path: dict[str, Any], model_dir: Path, reqs: list[EncodeRequest],
                cache: EmbeddingCache | None = None) -> list[np.ndarray]:
    if path["kind"] == "st":
        return [np.asarray(path["model"].encode(list(r.texts), prompt=PROMPTS[r.role], batch_size=BATCH,
                                                normalize_embeddings=True, show_progress_bar=False)) for r in reqs]
    enc = _encoder(path["model"], model_dir, path["precision"], cache, path["kind"])
    return enc.encode_many(reqs)


def speed(model_dir: Path, reqs: list[EncodeRequest], repeat: int) -> dict[str, Any]:
    ps, failed = paths(model_dir)
    n = sum(len(r.texts) for r in reqs)
    times: dict[str, list[float]] = {k: [] for k in ps}
    emb: dict[str, np.ndarray] = {}
    for k, p in ps.items():  # one untimed pass each: model pages, thread pools, first kernels
        emb[k] = np.vstack(encode_with(p, model_dir, reqs))
    for _ in range(repeat):
        for k, p in ps.items():
            start = time.perf_counter()
            encode_with(p, model_dir, reqs)
            times[k].append(time.perf_counter() - start)
    ref = emb["st_fp32"]
    rows = {k: {"label": p["label"], "median_tps": n / statistics.median(times[k]), "best_tps": n / min(times[k]),
                "min_cos": float((emb[k] * ref).sum(1).min()), "times": times[k]} for k, p in ps.items()}
    return {"texts": n, "rows": rows, "failed": failed, "repeat": repeat}


def end_to_end(model_dir: Path, xquad: Path, items: int, names: tuple[str, ...]) -> dict[str, Any]:
    """Cold ``evaluate`` (Multi + Mono-Same) on XQuAD en+zh per path, in this order, one after the other."""
    corpus = load_squad_folder(xquad, list(LANGS))
    if items:  # the first questions, and at least enough of them to cover 3 passages (a pool needs 3 documents)
        _, passage = corpus.unique_passages()
        n = max(items, int(np.searchsorted(passage, 3)))
        corpus = corpus.subset(range(min(n, len(corpus))))
    ps, _ = paths(model_dir)
    out: dict[str, Any] = {"items": len(corpus), "passages": corpus.n_passages, "rows": {}}
    spec = EvalSpec(data="xquad", langs=LANGS, scenarios=("multi", "mono-same"))
    for name in names:
        if name not in ps:
            continue
        p = ps[name]
        with tempfile.TemporaryDirectory() as tmp:
            enc = _encoder(p["model"], model_dir, p["precision"], EmbeddingCache(Path(tmp) / "e.sqlite"), p["kind"])
            start = time.perf_counter()
            res = evaluate(corpus, enc, spec)
            seconds = time.perf_counter() - start
        out["rows"][name] = {"label": p["label"], "seconds": seconds,
                             "ndcg10": float(np.mean([res.value("mono-same", q, "ndcg@10") for q in LANGS])),
                             "max_r": float(np.mean([res.value("multi", q, "max_r") for q in LANGS]))}
    return out


def layer_flops(length: int, d: int, d_ff: int) -> float:
    """One encoder layer on one sequence: Q, K, V, O and the two FFN products, and the two attention products."""
    return 2.0 * length * (4 * d * d + 2 * d * d_ff) + 4.0 * length * length * d


def floor(model_dir: Path, reqs: list[EncodeRequest]) -> dict[str, Any]:
    """Tokens and FLOPs of one pass, as xlalign batches them and as the peer does (padding included and not)."""
    cfg = json.loads((model_dir / "config.json").read_text())
    d, d_ff, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    model = _st(model_dir)
    lengths_by_req = [token_lengths(model, [PROMPTS[r.role] + t for t in r.texts]) for r in reqs]

    def cost(batches: list[list[int]], pad_to: int) -> tuple[int, int, float, float]:
        real = padded = 0
        f_real = f_pad = 0.0
        for b in batches:
            width = max(b)
            width = -(-width // pad_to) * pad_to if pad_to > 1 else width
            real += sum(b)
            padded += width * len(b)
            f_real += layers * sum(layer_flops(x, d, d_ff) for x in b)
            f_pad += layers * len(b) * layer_flops(width, d, d_ff)
        return real, padded, f_real, f_pad

    def batched(lengths: list[int]) -> list[list[int]]:
        s = sorted(lengths, reverse=True)
        return [s[i : i + BATCH] for i in range(0, len(s), BATCH)]

    peer = [b for lengths in lengths_by_req for b in batched(lengths)]
    ours = batched([x for lengths in lengths_by_req for x in lengths])
    r = {"layers": layers, "d": d, "d_ff": d_ff}
    for name, batches, pad in (("peer", peer, 1), ("xlalign", ours, 32)):
        real, padded, f_real, f_pad = cost(batches, pad)
        r[name] = {"tokens": real, "padded_tokens": padded, "gflop": f_real / 1e9, "gflop_padded": f_pad / 1e9}
    return r


def kernel_probe(model_dir: Path, xquad: Path, n: int) -> dict[str, Any]:
    """In a fresh process with ONEDNN_VERBOSE=profile_create: two auto-precision passes over the texts; how many
    oneDNN primitives were created (cache misses) and how long that took, and each pass's wall time."""
    env = {**__import__("os").environ, "ONEDNN_VERBOSE": "profile_create"}
    proc = subprocess.run([sys.executable, __file__, "--probe", "--texts", str(n), "--xquad", str(xquad)],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).parent, timeout=3600)
    creates = [ln.split(",") for ln in proc.stdout.splitlines() if ",create:" in ln]
    passes = [float(x.split()[1]) for x in proc.stderr.splitlines() if x.startswith("PASS ")]
    misses = [c for c in creates if "cache_miss" in c[3]]
    return {"misses": len(misses), "hits": len(creates) - len(misses),
            "create_ms": sum(float(c[-1]) for c in creates), "passes": passes, "rc": proc.returncode,
            "shapes": len({c[-2] for c in misses})}


def _probe(xquad: Path, n: int) -> None:
    reqs = speed_requests(xquad, n)
    model_dir = bundled_model_dir()
    enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision="auto"), cache=None)
    for i in range(2):
        start = time.perf_counter()
        enc.encode_many(reqs)
        print(f"PASS {time.perf_counter() - start:.3f} {i}", file=sys.stderr, flush=True)


def run(xquad: Path = DEFAULT_XQUAD, texts: int = 480, repeat: int = 3, quality_items: int = 0, e2e: bool = True,
        probe: bool = True, progress: Callable[[str], None] = print) -> dict[str, Any]:
    model_dir = bundled_model_dir()
    reqs = speed_requests(xquad, texts)
    out: dict[str, Any] = {"machine": machine.info(), "auto": resolve_precision("auto", "cpu")}
    progress("encode: speed")
    out["speed"] = speed(model_dir, reqs, repeat)
    out["floor"] = floor(model_dir, reqs)
    if probe:
        progress("encode: kernel creation probe")
        out["probe"] = kernel_probe(model_dir, xquad, texts)
    if e2e:
        progress("encode: end-to-end cold evaluate")
        out["e2e"] = end_to_end(model_dir, xquad, quality_items,
                                ("xl_fp32", "xl_auto", "legacy_fp32", "bf16_autocast", "int8"))
    return out


def _speed_md(s: dict[str, Any]) -> list[str]:
    peer = s["rows"]["st_fp32"]
    lines = ["| path | texts/s (median) | texts/s (best) | × peer (median) | × peer (best) | min cosine to peer fp32 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in s["rows"].values():
        lines.append(f"| {r['label']} | {r['median_tps']:.1f} | {r['best_tps']:.1f} | "
                     f"{r['median_tps'] / peer['median_tps']:.2f} | {r['best_tps'] / peer['best_tps']:.2f} | "
                     f"{r['min_cos']:.6f} |")
    for backend, why in s["failed"].items():
        lines.append(f"| sentence-transformers backend={backend} | did not load: `{why}` | | | | |")
    return lines


def _e2e_md(e: dict[str, Any]) -> list[str]:
    rows = e["rows"]
    if "xl_fp32" not in rows:
        return []
    base, old = rows["xl_fp32"], rows.get("legacy_fp32")
    lines = ["", f"End to end: `evaluate` (Multi + Mono-Same) on XQuAD en+zh, {e['items']} questions × "
             f"{e['passages']} passages per language, cold embedding cache, each path in turn:", "",
             "| path | wall s | × xlalign fp32 | × before issue 20 (fp32) | Mono-Same NDCG@10 (Δ points) | "
             "Multi Max@R (Δ %) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows.values():
        vs_old = f"{old['seconds'] / r['seconds']:.2f}" if old else "–"
        lines.append(f"| {r['label']} | {r['seconds']:.1f} | {base['seconds'] / r['seconds']:.2f} | {vs_old} | "
                     f"{r['ndcg10']:.2f} ({r['ndcg10'] - base['ndcg10']:+.2f}) | {r['max_r']:.2f} "
                     f"({100 * (r['max_r'] / base['max_r'] - 1):+.2f}) |")
    return lines


def _targets_md(r: dict[str, Any]) -> list[str]:
    e = r.get("e2e", {}).get("rows", {})
    if "xl_auto" not in e or "xl_fp32" not in e:
        return []
    auto, fp32 = e["xl_auto"], e["xl_fp32"]
    speedup = fp32["seconds"] / auto["seconds"]
    d_ndcg = auto["ndcg10"] - fp32["ndcg10"]
    d_max = 100 * (auto["max_r"] / fp32["max_r"] - 1)
    bf16 = r["auto"] == "bf16"
    target = "≥ 2×" if bf16 else "≥ 1× (never slower: `auto` is fp32 here)"
    met = speedup >= 2 if bf16 else speedup >= 0.97  # fp32 vs fp32: the same path, equal within noise
    return ["", "| target | measured | met |", "|---|---|---|",
            f"| `auto` {target} xlalign fp32, cold `evaluate` | {speedup:.2f}× | {'met' if met else 'NOT met'} |",
            f"| Mono-Same NDCG@10 within 0.5 points | {d_ndcg:+.2f} | {'met' if abs(d_ndcg) <= 0.5 else 'NOT met'} |",
            f"| Multi Max@R within 3 % | {d_max:+.2f} % | {'met' if abs(d_max) <= 3 else 'NOT met'} |"]


def _floor_md(r: dict[str, Any]) -> list[str]:
    f, m, s = r["floor"], r["machine"], r["speed"]["rows"]
    peak32, peak16 = machine.peak_gflops(m, "fp32"), machine.peak_gflops(m, "bf16")
    lines = ["", f"The floor: one pass over these texts, {f['layers']} layers, d = {f['d']}, d_ff = {f['d_ff']} "
             "(FLOPs = products of Q, K, V, O, FFN and attention; embeddings, softmax, norms not counted). Peaks: "
             f"{m['usable_cpus']} cores × {m['mhz'] / 1000 if m['mhz'] else float('nan'):.2f} GHz (reported clock) × 2 "
             f"FMA pipes: fp32 {peak32 or float('nan'):.0f} GFLOP/s, bf16 "
             f"{f'{peak16:.0f} GFLOP/s' if peak16 else 'no bf16 units'} (upper bounds).", "",
             "| batching | tokens | tokens with padding | padding share | GFLOP without / with padding |",
             "|---|---:|---:|---:|---:|"]
    for name, label in (("peer", "peer: per call, each batch padded to its longest"),
                        ("xlalign", "xlalign: one sorted list, batches padded to a multiple of 32")):
        x = f[name]
        lines.append(f"| {label} | {x['tokens']:,} | {x['padded_tokens']:,} | "
                     f"{100 * (1 - x['tokens'] / x['padded_tokens']):.1f} % | {x['gflop']:.0f} / {x['gflop_padded']:.0f} |")
    lines += ["", "| path | achieved GFLOP/s (best pass, padded work) | of the fp32 peak | of the bf16 peak |",
              "|---|---:|---:|---:|"]
    n = r["speed"]["texts"]
    for key, work in (("st_fp32", "peer"), ("xl_fp32", "xlalign"), ("xl_auto", "xlalign"), ("bf16_autocast", "xlalign"),
                      ("int8", "xlalign")):
        if key not in s:
            continue
        gfs = f[work]["gflop_padded"] / (n / s[key]["best_tps"])
        lines.append(f"| {s[key]['label']} | {gfs:.0f} | {100 * gfs / peak32 if peak32 else float('nan'):.0f} % | "
                     f"{f'{100 * gfs / peak16:.0f} %' if peak16 else '–'} |")
    p = r.get("probe")
    if p:
        passes = ", ".join(f"{x:.1f} s" for x in p["passes"])
        lines += ["", f"Kernel creation (fresh process, `auto`, ONEDNN_VERBOSE=profile_create, two passes): "
                  f"{p['misses']} oneDNN primitives created ({p['shapes']} distinct problem shapes), {p['hits']} cache "
                  f"hits, {p['create_ms']:.0f} ms creating in all; passes took {passes}."]
    return lines


def markdown(r: dict[str, Any]) -> str:
    s = r["speed"]
    lines = [f"{s['texts']} texts (XQuAD en+zh: a third passages, the rest questions, with their prompts), bundled "
             f"multilingual-e5-small, batch {BATCH}, no embedding cache, each path its own model object, "
             f"interleaved, {s['repeat']} timed passes after one untimed pass. `auto` = **{r['auto']}** here.", ""]
    lines += _speed_md(s) + _e2e_md(r.get("e2e", {})) + _targets_md(r) + _floor_md(r)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--texts", type=int, default=480)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quality-items", type=int, default=0, help="XQuAD questions in the end-to-end run (0: all)")
    ap.add_argument("--no-e2e", action="store_true")
    ap.add_argument("--no-probe", action="store_true")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        _probe(args.xquad, args.texts)
        return
    print(markdown(run(args.xquad, args.texts, args.repeat, args.quality_items, not args.no_e2e, not args.no_probe)))


if __name__ == "__main__":
    main()


GPU_NOTE = """No GPU on this machine: the GPU figures of issue 20 §6 (encode texts/s fp32 vs bf16, the fine-tune step,
the ablations on a GPU) are **not measured** here.

What the code does on CUDA: `auto` resolves to bf16 where `torch.cuda.is_bf16_supported()`; encoding then runs under
`torch.autocast("cuda", bfloat16)` over fp32 weights (the bf16-weights path above is CPU-only), batch 256, halved on
out-of-memory; batches are still length-sorted over every language and role and padded to multiples of 32 tokens;
the fine-tune trains in bf16 mixed precision. `python benchmarks/run_all.py --only encode` on a CUDA machine adds a
table (fp32, bf16 autocast, `.half()`) from `gpu_speed`.

Why `.half()` was slower than fp32 on an H200 in an earlier measurement — a hypothesis, **unmeasured**: the bundled
model is small (d = 384, 12 layers), so at these batch sizes a forward pass is a few hundred short kernels and the GPU
waits on kernel launches, tokenisation and host-device copies rather than on arithmetic; halving the arithmetic
then saves little, while `.half()` adds dtype casts around the fp32 parts and, with unsorted or unbucketed lengths,
new padded shapes make cuBLAS/SDPA pick kernels again. The table from `gpu_speed` (with texts/s per path at batch
256) is the check."""


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
