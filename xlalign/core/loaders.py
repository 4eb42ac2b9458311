"""Corpus loaders: SQuAD-format JSON folders, XQuAD and Belebele (hub or local), long-format JSONL/CSV.

Every loader returns a :class:`~xlalign.core.corpus.ParallelCorpus` whose languages are ISO 639-1 codes
and raises :class:`~xlalign.errors.CorpusError` naming the file, line or id at fault.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from xlalign.core.corpus import ParallelCorpus, id_problem, text_problem
from xlalign.errors import CorpusError
from xlalign.policy import env_number

#: Package data (``[tool.setuptools.package-data]``): installed with xlalign, so ``--data demo`` works anywhere.
ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
DEMO_DIR = ASSETS_DIR / "demo"

#: ISO 639-1 → Belebele/FLORES-200 config names (the ones users ask for most; extend freely).
BELEBELE_CODES: dict[str, str] = {
    "en": "eng_Latn", "zh": "zho_Hans", "ar": "arb_Arab", "es": "spa_Latn", "de": "deu_Latn",
    "fr": "fra_Latn", "hi": "hin_Deva", "ur": "urd_Arab", "th": "tha_Thai", "vi": "vie_Latn",
    "el": "ell_Grek", "ro": "ron_Latn", "tr": "tur_Latn", "ru": "rus_Cyrl", "ja": "jpn_Jpan",
    "ko": "kor_Hang", "pt": "por_Latn", "it": "ita_Latn", "id": "ind_Latn", "bn": "ben_Beng",
    "sw": "swh_Latn", "fa": "pes_Arab", "nl": "nld_Latn", "pl": "pol_Latn", "uk": "ukr_Cyrl",
}
#: Languages of XQuAD on the hub (google/xquad configs ``xquad.<lang>``).
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")

LONG_COLUMNS = ("id", "lang", "passage", "question")
#: The largest data file read, in MB (``XLALIGN_MAX_DATA_MB`` overrides): a corpus is read whole into memory.
DEFAULT_MAX_DATA_MB = 1024


# --------------------------------------------------------------------------------------------
# Reading a data file: a regular file, within a size cap
# --------------------------------------------------------------------------------------------
def max_data_mb() -> float:
    """The most MB (2^20 bytes) a data file may have (``XLALIGN_MAX_DATA_MB``, default 1024)."""
    return env_number("XLALIGN_MAX_DATA_MB", DEFAULT_MAX_DATA_MB, minimum=1e-3)


def max_data_bytes() -> int:
    """:func:`max_data_mb` in bytes."""
    return int(max_data_mb() * 2**20)


@contextlib.contextmanager
def open_data_file(path: str | Path) -> Iterator[io.BufferedReader]:
    """``path`` opened for reading in binary, if it is a regular file of at most :func:`max_data_bytes` bytes. A
    pipe, device or socket is refused before anything is read (a FIFO would block forever, ``/dev/zero`` never
    ends): the file is opened without waiting for a writer and checked on the open descriptor."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from None
    with open(fd, "rb", closefd=True) as f:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CorpusError(f"{path}: is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise CorpusError(f"{path}: not a regular file (a pipe, device or socket); pass a data file")
        if info.st_size > max_data_bytes():
            raise _too_large(path)
        yield f


def _too_large(path: Path) -> CorpusError:
    return CorpusError(f"{path}: larger than {max_data_mb():g} MB, the most a data file may have here "
                       "(XLALIGN_MAX_DATA_MB)")


def read_data_bytes(path: str | Path) -> bytes:
    """The bytes of the data file ``path`` (:func:`open_data_file`), counted as read: a file that grows past the
    cap while it is read is refused too."""
    cap = max_data_bytes()
    with open_data_file(path) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise _too_large(Path(path))
    return data


def read_data_text(path: str | Path) -> str:
    """:func:`read_data_bytes` as UTF-8 text (a byte-order mark is dropped)."""
    try:
        return read_data_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not UTF-8 text") from None


# --------------------------------------------------------------------------------------------
# Generic builder: per-language records keyed by item id
# --------------------------------------------------------------------------------------------
def _build(
    name: str,
    records: Mapping[str, Mapping[str, dict[str, str]]],
    source: Mapping[str, str],
    order: Sequence[str] | None = None,
) -> ParallelCorpus:
    """Assemble a corpus from ``records[lang][item_id] = {passage, question, group?, passage_key?}``.

    Items must be present in every language; the error names the ids that are not.
    ``source[lang]`` names the file or dataset each language came from, for messages.
    """
    langs = list(records)
    if not langs:
        raise CorpusError(f"{name}: no languages found")
    ref = langs[0]
    ids = list(order) if order is not None else list(records[ref])
    if not ids:
        raise CorpusError(f"{name}: {source[ref]} has no items")
    ref_ids = set(records[ref])
    for lang in langs[1:]:
        other = set(records[lang])
        missing, extra = sorted(ref_ids - other), sorted(other - ref_ids)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing ids {_few(missing)} (present in {source[ref]})")
            if extra:
                parts.append(f"unexpected ids {_few(extra)} (absent from {source[ref]})")
            raise CorpusError(f"{name}: {source[lang]} is not parallel to {source[ref]}: " + "; ".join(parts))
    groups, keys = [], []
    for i in ids:
        rec = records[ref][i]
        groups.append(rec.get("group") or rec.get("passage_key") or i)
        keys.append(rec.get("passage_key") or _content_key(records, i))
    # Items that share a passage key must agree on it in every language (checked by the corpus).
    return ParallelCorpus(
        name=name,
        item_ids=tuple(ids),
        groups=tuple(groups),
        passage_keys=tuple(keys),
        passages={lang: tuple(records[lang][i]["passage"] for i in ids) for lang in langs},
        questions={lang: tuple(records[lang][i]["question"] for i in ids) for lang in langs},
        meta={"source": ", ".join(f"{lang}={source[lang]}" for lang in langs)},
    )


def _content_key(records: Mapping[str, Mapping[str, dict[str, str]]], item_id: str) -> str:
    """Items whose passages are identical in every language share a passage."""
    return "\x1f".join(records[lang][item_id]["passage"] for lang in records)


def _few(ids: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(map(repr, ids[:n]))
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


# --------------------------------------------------------------------------------------------
# SQuAD-format JSON (XQuAD / MLQA layout)
# --------------------------------------------------------------------------------------------
_SQUAD_NAME = re.compile(r"^(?P<stem>.+)\.(?P<lang>[a-z]{2,3}(?:[-_][A-Za-z]+)?)\.json$")


def squad_files(folder: str | Path) -> dict[str, Path]:
    """Map language → file for a folder of ``<name>.<lang>.json`` SQuAD files; a folder with two files for one
    language (two sets, ``a.en.json`` and ``b.en.json``) is refused rather than one of them silently used."""
    folder = Path(folder)
    found: dict[str, list[Path]] = {}
    for p in sorted(folder.glob("*.json")):
        m = _SQUAD_NAME.match(p.name)
        if m:
            found.setdefault(m["lang"], []).append(p)
    several = {lang: paths for lang, paths in found.items() if len(paths) > 1}
    if several:
        lang, paths = next(iter(sorted(several.items())))
        raise CorpusError(f"{folder}: several SQuAD files for language {lang!r} ({', '.join(p.name for p in paths)}); "
                          "keep one set of <name>.<lang>.json files per folder")
    return {lang: paths[0] for lang, paths in found.items()}


def load_squad_folder(folder: str | Path, langs: Sequence[str] | None = None) -> ParallelCorpus:
    """SQuAD-format JSON, one file per language (``xquad.<lang>.json``).

    Questions are paired by question id across languages; a context is identified by its position
    (article index, paragraph index), and every question must sit at the same position in every
    language. The article title of the first language is the group (XQuAD titles are English).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: not a folder")
    files = squad_files(folder)
    if not files:
        raise CorpusError(f"{folder}: no SQuAD files named <name>.<lang>.json")
    wanted = list(langs) if langs else sorted(files, key=lambda x: (x != "en", x))
    missing = [lang for lang in wanted if lang not in files]
    if missing:
        raise CorpusError(f"{folder}: no file for language(s) {', '.join(missing)}; found {', '.join(sorted(files))}")
    records: dict[str, dict[str, dict[str, str]]] = {}
    positions: dict[str, dict[str, tuple[int, int]]] = {}
    order: list[str] = []
    for lang in wanted:
        path = files[lang]
        recs, pos = _squad_records(path, _read_json(path), lang, collect_order=order if lang == wanted[0] else None)
        records[lang], positions[lang] = recs, pos
    ref = wanted[0]
    for lang in wanted[1:]:
        moved = [q for q, ap in positions[ref].items() if q in positions[lang] and positions[lang][q] != ap]
        if moved:
            raise CorpusError(
                f"{files[lang]}: questions sit under different paragraphs than in {files[ref]}: {_few(moved)}"
            )
    # Group and passage key come from the reference language in every language.
    for lang in wanted[1:]:
        for qid, rec in records[lang].items():
            if qid in records[ref]:
                rec["group"] = records[ref][qid]["group"]
    return _build(folder.name, records, {lang: str(files[lang]) for lang in wanted}, order)


def _squad_records(path: Path, data: Any, lang: str, collect_order: list[str] | None
                   ) -> tuple[dict[str, dict[str, str]], dict[str, tuple[int, int]]]:
    """Records and (article, paragraph) positions of the SQuAD file of ``lang``; every shape, type and text is
    checked (:func:`~xlalign.core.corpus.text_problem`)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise CorpusError(f"{path}: not SQuAD format (expected an object with a 'data' list)")
    recs: dict[str, dict[str, str]] = {}
    pos: dict[str, tuple[int, int]] = {}
    for a, article in enumerate(data["data"]):
        if not isinstance(article, dict):
            raise CorpusError(f"{path}: data[{a}] is not an object")
        title = _text_or_id(article.get("title", f"article-{a}"), f"{path}: data[{a}].title")
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            raise CorpusError(f"{path}: article {a} ({title!r}) has no 'paragraphs' list")
        for p, para in enumerate(paragraphs):
            where = f"{path}: article {a} paragraph {p}"
            if not isinstance(para, dict):
                raise CorpusError(f"{where} is not an object")
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise CorpusError(f"{where} has an empty or missing context")
            if text_problem(context) is not None:
                raise CorpusError(f"{where}: the context (language {lang!r}) {text_problem(context)}")
            qas = para.get("qas", [])
            if not isinstance(qas, list):
                raise CorpusError(f"{where}: 'qas' is not a list")
            for j, qa in enumerate(qas):
                if not isinstance(qa, dict):
                    raise CorpusError(f"{where}: qas[{j}] is not an object")
                if qa.get("id") in (None, "") or not isinstance(qa.get("question"), str) or not qa["question"].strip():
                    raise CorpusError(f"{where}: qas[{j}] lacks an 'id' or a non-empty 'question' string")
                qid = _text_or_id(qa["id"], f"{where}: qas[{j}].id")
                problem = id_problem(qid) or text_problem(qa["question"])
                if problem is not None:
                    what = "id" if id_problem(qid) else f"question {qid!r} (language {lang!r})"
                    raise CorpusError(f"{where}: qas[{j}]: the {what} {problem}")
                if qid in recs:
                    raise CorpusError(f"{path}: question id {qid!r} occurs twice")
                recs[qid] = {"passage": context, "question": qa["question"], "group": title, "passage_key": f"{a}:{p}"}
                pos[qid] = (a, p)
                if collect_order is not None:
                    collect_order.append(qid)
    return recs, pos


def _text_or_id(value: Any, where: str) -> str:
    """Ids and group keys may be strings or integers; anything else (lists, objects, floats, booleans) is an error."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CorpusError(f"{where} must be a string, got {type(value).__name__}")
    return str(value)


def _read_json(path: Path) -> Any:
    text = read_data_text(path)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except CorpusError as e:
        raise CorpusError(f"{path}: {e}") from None
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise CorpusError(f"{path}: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer longer than Python's int/str conversion limit
        raise CorpusError(f"{path}: invalid JSON ({str(e).split(';')[0]})") from None


# --------------------------------------------------------------------------------------------
# Long format: id, lang, passage, question[, group]
# --------------------------------------------------------------------------------------------
def read_long_rows(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of one JSONL or CSV file with their 1-based line numbers (read by :func:`read_data_text`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv", ".tsv"):
        raise CorpusError(f"{path}: unsupported file type {suffix!r} (use .jsonl or .csv)")
    text = read_data_text(path)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(path, io.StringIO(text, newline=None))
    try:
        return _csv_rows(path, io.StringIO(text, newline=""), "\t" if suffix == ".tsv" else ",")
    except csv.Error as e:
        raise CorpusError(f"{path}: malformed CSV ({e})") from None


def _jsonl_rows(path: Path, lines: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    rows: list[tuple[int, dict[str, str]]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys)
        except CorpusError as e:
            raise CorpusError(f"{path}:{n}: {e}") from None
        except (ValueError, RecursionError) as e:  # ValueError: also integers over Python's digit limit
            reason = getattr(e, "msg", None) or ("nested too deeply" if isinstance(e, RecursionError)
                                                 else str(e).split(";")[0])
            raise CorpusError(f"{path}:{n}: invalid JSON ({reason})") from None
        if not isinstance(obj, dict):
            raise CorpusError(f"{path}:{n}: expected a JSON object")
        rows.append((n, obj))
    return rows


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (``json`` would silently keep the last of two)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        twice = sorted({k for k, _ in pairs if [key for key, _ in pairs].count(k) > 1})
        raise CorpusError(f"the object names {', '.join(map(repr, twice))} more than once")
    return obj


def _csv_rows(path: Path, text: io.StringIO, delimiter: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV/TSV; a header that names a column twice is refused (a reader would keep only the last)."""
    reader = csv.DictReader(text, delimiter=delimiter)
    header = [str(h).strip() for h in reader.fieldnames or []]
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise CorpusError(f"{path}:1: the header names column(s) {', '.join(map(repr, twice))} more than once")
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if None in row:
            raise CorpusError(f"{path}:{reader.line_num}: more fields than the header has columns")
        rows.append((reader.line_num, row))
    return rows


def _check_long_row(path: Path, n: int, row: dict[str, Any]) -> None:
    """Columns present and non-empty; texts are strings; id/group strings or integers (never stringified objects)."""
    absent = [c for c in LONG_COLUMNS if row.get(c) is None or (isinstance(row.get(c), str) and not row[c].strip())]
    if absent:
        raise CorpusError(f"{path}:{n}: missing or empty {', '.join(absent)}")
    for c in ("passage", "question", "lang"):
        if not isinstance(row[c], str):
            raise CorpusError(f"{path}:{n}: {c} must be a string, got {type(row[c]).__name__}")
    lang = row["lang"].strip()
    for c in ("lang", "id", "group", "passage_id"):
        if row.get(c) is not None and row.get(c) != "":
            value = _text_or_id(row[c], f"{path}:{n}: {c}")
            problem = id_problem(value)
            if problem is not None:
                raise CorpusError(f"{path}:{n}: {c} {value[:60]!r} {problem}")
    for c in ("passage", "question"):
        problem = text_problem(row[c])
        if problem is not None:
            raise CorpusError(f"{path}:{n}: the {c} (language {lang!r}) {problem}")


def load_long(paths: str | Path | Iterable[str | Path], langs: Sequence[str] | None = None,
              name: str | None = None) -> ParallelCorpus:
    """Long-format corpus: one row per (item, language) with ``id, lang, passage, question[, group]``.

    ``paths`` is a file, a folder (every .jsonl/.csv inside, sorted) or a list of files. An optional
    ``passage_id`` column marks items that share a passage; otherwise items whose passages are
    identical in every language share one.
    """
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        if p.is_dir():
            files = sorted(x for x in p.iterdir() if x.suffix.lower() in (".jsonl", ".ndjson", ".csv", ".tsv"))
            if not files:
                raise CorpusError(f"{p}: no .jsonl or .csv files")
        else:
            files = [p]
        name = name or p.stem
    else:
        files = [Path(x) for x in paths]
        name = name or "corpus"
    records: dict[str, dict[str, dict[str, str]]] = {}
    where: dict[tuple[str, str], str] = {}
    order: list[str] = []
    seen_ids: set[str] = set()
    for path in files:
        rows = read_long_rows(path)
        if not rows:
            raise CorpusError(f"{path}: no rows")
        for n, row in rows:
            _check_long_row(path, n, row)
            item, lang = str(row["id"]).strip(), str(row["lang"]).strip()
            if (item, lang) in where:
                raise CorpusError(f"{path}:{n}: id {item!r} appears twice for language {lang!r} (first at {where[item, lang]})")
            where[item, lang] = f"{path}:{n}"
            rec = {"passage": str(row["passage"]), "question": str(row["question"])}
            if str(row.get("group") or "").strip():
                rec["group"] = str(row["group"]).strip()
            if str(row.get("passage_id") or "").strip():
                rec["passage_key"] = str(row["passage_id"]).strip()
            records.setdefault(lang, {})[item] = rec
            if item not in seen_ids:
                seen_ids.add(item)
                order.append(item)
    if langs:
        missing = [lang for lang in langs if lang not in records]
        if missing:
            raise CorpusError(f"{name}: no rows for language(s) {', '.join(missing)}; found {', '.join(sorted(records))}")
        records = {lang: records[lang] for lang in langs}
    ordered = dict(sorted(records.items(), key=lambda kv: (kv[0] != "en", kv[0])))
    ref = next(iter(ordered))
    # Items that appear in no selected language are not an error of the selection.
    order = [i for i in order if any(i in r for r in ordered.values())]
    absent_ref = [i for i in order if i not in ordered[ref]]
    if absent_ref:
        raise CorpusError(f"{name}: not parallel: language {ref!r} lacks ids {_few(absent_ref)}")
    return _build(name, ordered, {lang: f"{name}[{lang}]" for lang in ordered}, order)


# --------------------------------------------------------------------------------------------
# Hub datasets (and local copies in the same row schema)
# --------------------------------------------------------------------------------------------
def _load_rows(dataset: str, config: str, split: str, local: Path | None) -> list[dict[str, Any]]:
    import datasets

    try:
        if local is None:
            with _offline_if_switched_off():
                ds = datasets.load_dataset(dataset, config, split=split)
        else:
            files = sorted(local.glob(f"{config}.*"))
            if not files:
                raise CorpusError(f"{local}: no local file for {config} ({config}.jsonl/.json/.parquet/.csv)")
            kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(files[0].suffix)
            if kind is None:
                raise CorpusError(f"{files[0]}: unsupported file type")
            with open_data_file(files[0]):  # a regular file within the cap, before datasets reads it
                pass
            ds = datasets.load_dataset(kind, data_files=str(files[0]), split="train")
    except CorpusError:
        raise
    except Exception as e:  # datasets raises many types (connection, missing config, schema)
        where = f"{dataset} ({config})" if local is None else str(local)
        raise CorpusError(f"could not load {where}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return list(ds)


_OFFLINE_LOCK = threading.Lock()


@contextlib.contextmanager
def _offline_if_switched_off() -> Iterator[None]:
    """While loading: if ``HF_HUB_OFFLINE`` was set after ``datasets`` was imported, honour it for this call
    (so a missing dataset fails at once instead of after the hub client's retries), then restore."""
    import datasets


    if not hub_offline() or datasets.config.HF_HUB_OFFLINE:
        yield
        return
    with _OFFLINE_LOCK:
        datasets.config.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            datasets.config.HF_HUB_OFFLINE = False


def _hub_text(r: dict[str, Any], col: str, where: str) -> str:
    if not isinstance(r.get(col), str) or not r[col].strip():
        raise CorpusError(f"{where}: column {col!r} must hold non-empty strings (row id {r.get('id', '?')!r})")
    problem = text_problem(r[col])
    if problem is not None:
        raise CorpusError(f"{where}: the {col} of row id {r.get('id', '?')!r} {problem}")
    return str(r[col])


def load_xquad(langs: Sequence[str], local: str | Path | None = None) -> ParallelCorpus:
    """XQuAD: ``datasets.load_dataset("google/xquad", "xquad.<lang>", split="validation")``.

    Rows have ``id, context, question, answers``; questions pair by ``id``, and questions with the
    same English context share a passage. The hub copy has no article titles, so each paragraph
    is its own group (use the SQuAD-JSON folder loader for article-level groups).
    ``local`` is a folder with files ``xquad.<lang>.{jsonl,json,parquet,csv}`` in the same schema.
    """
    bad = [lang for lang in langs if lang not in XQUAD_LANGS]
    if bad:
        raise CorpusError(f"XQuAD has no {', '.join(bad)}; it has {', '.join(XQUAD_LANGS)}")
    local_path = Path(local) if local is not None else None
    records: dict[str, dict[str, dict[str, str]]] = {}
    order: list[str] = []
    for lang in langs:
        rows = _load_rows("google/xquad", f"xquad.{lang}", "validation", local_path)
        recs: dict[str, dict[str, str]] = {}
        for r in rows:
            for col in ("id", "context", "question"):
                if col not in r:
                    raise CorpusError(f"XQuAD {lang}: rows lack column {col!r}")
            rid = _text_or_id(r["id"], f"XQuAD {lang}: id")
            recs[rid] = {"passage": _hub_text(r, "context", f"XQuAD {lang}"),
                         "question": _hub_text(r, "question", f"XQuAD {lang}")}
        records[lang] = recs
        if not order:
            order = [str(r["id"]) for r in rows]
    ref = langs[0]
    keys: dict[str, str] = {}
    for i in order:
        key = keys.setdefault(records[ref][i]["passage"], f"p{len(keys)}")
        for lang in langs:
            if i in records[lang]:
                records[lang][i]["passage_key"] = key
                records[lang][i]["group"] = key
    return _build("xquad", records, {lang: f"google/xquad[xquad.{lang}]" for lang in langs}, order)


def load_belebele(langs: Sequence[str], local: str | Path | None = None) -> ParallelCorpus:
    """Belebele: ``datasets.load_dataset("facebook/belebele", "<flores code>", split="test")``.

    The parallel key is ``(link, question_number)``; questions with the same ``link`` share the
    FLORES passage, and the link is the group. ``local`` is a folder with files
    ``<flores code>.{jsonl,json,parquet,csv}`` in the hub schema.
    """
    bad = [lang for lang in langs if lang not in BELEBELE_CODES and "_" not in lang]
    if bad:
        raise CorpusError(f"no Belebele code known for {', '.join(bad)}; pass a FLORES code such as zho_Hans")
    local_path = Path(local) if local is not None else None
    records: dict[str, dict[str, dict[str, str]]] = {}
    order: list[str] = []
    for lang in langs:
        code = BELEBELE_CODES.get(lang, lang)
        rows = _load_rows("facebook/belebele", code, "test", local_path)
        recs: dict[str, dict[str, str]] = {}
        for r in rows:
            for col in ("link", "question_number", "flores_passage", "question"):
                if col not in r:
                    raise CorpusError(f"Belebele {code}: rows lack column {col!r}")
            link = _text_or_id(r["link"], f"Belebele {code}: link")
            item = f"{link}#{_text_or_id(r['question_number'], f'Belebele {code}: question_number')}"
            recs[item] = {"passage": _hub_text(r, "flores_passage", f"Belebele {code}"),
                          "question": _hub_text(r, "question", f"Belebele {code}"),
                          "group": str(r["link"]), "passage_key": str(r["link"])}
        records[lang] = recs
        if not order:
            order = list(recs)
    return _build("belebele", records, {lang: f"facebook/belebele[{BELEBELE_CODES.get(lang, lang)}]" for lang in langs}, order)


def load_demo(langs: Sequence[str] | None = None) -> ParallelCorpus:
    """The bundled demo corpus (``xlalign/assets/demo``), written for this project (CC BY 4.0)."""
    if not DEMO_DIR.is_dir():
        raise CorpusError(f"the demo corpus is missing ({DEMO_DIR})")
    return load_long(DEMO_DIR, langs, name="demo")


def load_corpus(data: str, langs: Sequence[str] | None = None) -> ParallelCorpus:
    """Resolve ``--data``: ``demo``, ``xquad``, ``belebele`` (hub), a SQuAD folder, a long-format
    folder, or a JSONL/CSV file; ``xquad:PATH``/``belebele:PATH`` read local copies in hub schema."""
    kind, _, arg = data.partition(":")
    if data == "demo":
        corpus = load_demo(langs)
    elif kind in ("xquad", "belebele"):
        if not langs:
            raise CorpusError(f"--data {kind} needs --langs")
        loader = load_xquad if kind == "xquad" else load_belebele
        corpus = loader(langs, local=arg or None)
    else:
        p = Path(data)
        if not p.exists():
            raise CorpusError(f"{data}: no such file or folder (or use demo, xquad, belebele)")
        if p.is_dir() and squad_files(p):
            corpus = load_squad_folder(p, langs)
        else:
            corpus = load_long(p, langs)
    if langs:
        corpus = corpus.select_langs(langs)
    return corpus


def hub_offline() -> bool:
    """True when the Hugging Face Hub is switched off, read now (not only at import time)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return False

