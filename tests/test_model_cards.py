"""Model cards that are true, portable and inert (issue 24 §3 and §10 "Code and markup in model cards").

* Every card's usage code runs on a machine where the folders of the machine that made it do not exist: the runs
  are made by one process (the "server") with a Hub id whose files sit in a private Hugging Face cache, the
  server's folders are then deleted, and one other process (the "user") runs every card's code with xlalign
  unimportable and only that Hub cache. The bundled model is named by the Hub id it was quantised from; the
  user's cache holds a copy of the bundled folder under that id.
* Hostile values (a model id that is Python code, a data file name with a newline, a heading, HTML, a
  ``javascript:`` link and a rule) stay data: the card is YAML front matter plus markdown whose rendering
  (markdown-it, CommonMark + tables) has no element the card did not put there, and whose code is a Python
  module in which the value is one string constant.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, import_or_skip
from fakes import BagOfCharsEncoder
from tiny_model import build_tiny_model

from xlalign.align.base import AlignSpec
from xlalign.core.loaders import DEMO_DIR, load_demo
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.export import card_for, export_run

TINY_ID = "xlalign-test/tiny-st"
E5_ID = "intfloat/multilingual-e5-small"

#: The model id of the issue (a run's config.json): Python code once pasted between double quotes.
HOSTILE_MODEL = 'x" if __import__("os").system("touch /tmp/xlalign-card-pwned") == 0 else "x'
#: The data file name of the issue: a newline, a markdown heading, an image with onerror, a javascript: link, a rule.
HOSTILE_DATA = "notes\n# Heading <img src=x onerror=alert(1)> [click](javascript:alert(1))\n---\n`x`.jsonl"


# ----------------------------------------------------------------------------- reading a card as a renderer would
def front_matter(card: str) -> dict:
    """The card's YAML front matter (it must open the card and parse)."""
    assert card.startswith("---\n"), card[:80]
    head, _, _ = card[4:].partition("\n---\n")
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta


def rendered(card: str) -> list:
    """The markdown after the front matter, parsed by markdown-it (CommonMark with GFM tables)."""
    from markdown_it import MarkdownIt

    body = card[4:].partition("\n---\n")[2]
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(body)


def code_blocks(card: str) -> list[str]:
    return [t.content for t in rendered(card) if t.type == "fence" and t.info.strip() == "python"]


def headings(card: str) -> list[str]:
    """Each heading as a reader sees it (its rendered text)."""
    tokens = rendered(card)
    return ["".join(c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline"))
            for i, t in enumerate(tokens) if t.type == "heading_open"]


def inline_kinds(card: str) -> set[str]:
    """Every kind of inline element the card renders to (links, images, HTML, emphasis, code spans …)."""
    return {child.type for t in rendered(card) if t.type == "inline" for child in t.children or []}


# ----------------------------------------------------------------------------- every card runs elsewhere
def _link_tree(src: Path, dst: Path) -> None:
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link)


def hub_cache_copy(hub: Path, repo_id: str, folder: Path) -> None:
    """``folder`` laid out in the Hugging Face cache ``hub`` as ``repo_id``'s main revision (what a download leaves)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    _link_tree(folder, repo / "snapshots" / commit)


_SERVER = r'''
import sys
from pathlib import Path
from fakes import BagOfCharsEncoder
from xlalign.align.base import AlignSpec
from xlalign.models.cache import EmbeddingCache
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, FinetuneOptions, ModelSpec
from xlalign.store.export import card_for, export_run

server, user = Path(sys.argv[1]), Path(sys.argv[2])
evaluation, cache = EvalSpec(langs=("en", "es")), EmbeddingCache(server / "embeddings.sqlite")
for method in ("centering", "procrustes", "lsar", "finetune"):
    options = FinetuneOptions(batch_size=8, max_steps=1, max_seq_length=32) if method == "finetune" else None
    run = server / "runs" / method
    run_alignment(ModelSpec(sys.argv[3], device="cpu", precision="fp32"), evaluation,
                  AlignSpec(method=method, options=options), run, cache=cache)
    export_run(run, user / method)
# The bundled model, with a 384-dimensional stand-in encoder (the cards need its id, not its embeddings).
for method in ("centering", "procrustes", "lsar"):
    run = server / "runs" / f"bundled-{method}"
    run_alignment(ModelSpec("bundled:multilingual-e5-small"), evaluation, AlignSpec(method=method), run,
                  encoder=BagOfCharsEncoder(dim=380), cache=cache)
    if method == "lsar":  # its export holds the whole bundled model: the card is enough here
        (user / "bundled-lsar.md").write_text(card_for(run, True, "bundled-lsar"), encoding="utf-8")
    else:
        export_run(run, user / f"bundled-{method}")
'''

_USER = r'''
import json, os, sys
sys.modules["xlalign"] = None  # the user has no xlalign
for card in json.loads(open(sys.argv[1]).read()):
    os.chdir(card["cwd"])
    sys.path.insert(0, card["cwd"])
    exec(compile(card["code"], card["name"], "exec"), {"__name__": "__card__"})
    sys.path.pop(0)
    sys.modules.pop("xlalign_apply", None)
    print("RAN", card["name"], flush=True)
'''


def _environment(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {**keep, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **extra}


@pytest.mark.slow
def test_every_cards_usage_code_runs_where_the_servers_folders_do_not_exist(tmp_path, bundled_dir):
    import_or_skip("markdown_it")
    server, user, hub = tmp_path / "server", tmp_path / "user", tmp_path / "hub"
    demo = load_demo(["en", "es"])
    tiny = build_tiny_model(server / "tiny", [t for lang in demo.langs for t in (*demo.passages[lang],
                                                                                *demo.questions[lang])])
    hub_cache_copy(hub, TINY_ID, tiny)
    hub_cache_copy(hub, E5_ID, bundled_dir)
    user.mkdir()
    made = subprocess.run([sys.executable, "-c", _SERVER, str(server), str(user), TINY_ID], cwd=tmp_path,
                          env=_environment(PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}", HF_HUB_CACHE=str(hub),
                                           XLALIGN_CACHE_DIR=str(server / "cache")),
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-3000:]
    shutil.rmtree(server)  # the server's runs, caches and model folders are gone

    cards = {p.parent.name: p.read_text(encoding="utf-8") for p in user.glob("*/README.md")}
    cards["bundled-lsar"] = (user / "bundled-lsar.md").read_text(encoding="utf-8")
    assert sorted(cards) == ["bundled-centering", "bundled-lsar", "bundled-procrustes", "centering", "finetune",
                             "lsar", "procrustes"]
    for name, card in cards.items():
        assert str(tmp_path) not in card and str(bundled_dir.parent) not in card, name  # no path of the server
        assert len(code_blocks(card)) == 1, name
        base = E5_ID if name.startswith("bundled") else TINY_ID
        assert front_matter(card)["base_model"] == base and f"- Base model: `{base}`" in card, name
    exported_text = [p for p in user.rglob("*") if p.suffix in (".json", ".md", ".py", ".txt") and p.is_file()]
    assert not [p for p in exported_text if str(tmp_path) in p.read_text(encoding="utf-8", errors="replace")]
    assert "bundled_model_dir" in cards["bundled-centering"] and "bundled:multilingual-e5-small" in cards["bundled-lsar"]
    what = {name: card.split("## What it is\n\n", 1)[1].split("\n", 1)[0] for name, card in cards.items()}
    assert "fine-tuned with" in what["finetune"] and "linear map" not in what["finetune"]
    assert "linear map" in what["lsar"] and "fine-tuned" not in what["lsar"]

    runnable = [{"name": name, "code": code_blocks(card)[0],
                 "cwd": str(user / name if (user / name / "xlalign_apply.py").exists() else user)}
                for name, card in sorted(cards.items()) if (user / name).is_dir()]
    (tmp_path / "cards.json").write_text(json.dumps(runnable), encoding="utf-8")
    ran = subprocess.run([sys.executable, "-c", _USER, str(tmp_path / "cards.json")], cwd=tmp_path,
                         env=_environment(HF_HUB_CACHE=str(hub), XLALIGN_CACHE_DIR=str(tmp_path / "nowhere")),
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
    assert [line.split()[1] for line in ran.stdout.splitlines() if line.startswith("RAN ")] == \
        [card["name"] for card in runnable]
    printed = re.split(r"^RAN \S+$", ran.stdout, flags=re.M)[:-1]  # what each card printed before its RAN line
    assert len(printed) == len(runnable) and all("[[" in out for out in printed)  # each printed its scores


# ----------------------------------------------------------------------------- hostile values stay data
def _fake_run(root: Path, model: str, data: str = "demo", method: str = "centering") -> Path:
    run_alignment(ModelSpec(model), EvalSpec(data=data, langs=("en", "de")), AlignSpec(method=method), root / "run",
                  encoder=BagOfCharsEncoder(lang_offset={"en": 2.0}))
    return root / "run"


def _assert_inert(card: str, expected_headings: int = 6) -> None:
    front_matter(card)
    assert len(headings(card)) == expected_headings, headings(card)  # the title and the five sections, no more
    kinds = inline_kinds(card)
    assert not kinds & {"html_inline", "image", "link_open"}, kinds
    assert not [t for t in rendered(card) if t.type in ("html_block", "hr")]


def test_a_model_id_that_is_code_stays_one_string_in_the_cards_code(tmp_path):
    import_or_skip("markdown_it")
    run = _fake_run(tmp_path, HOSTILE_MODEL)
    card = export_run(run, tmp_path / "export") / "README.md"
    text = card.read_text(encoding="utf-8")
    _assert_inert(text)
    (code,) = code_blocks(text)
    tree = ast.parse(code)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert HOSTILE_MODEL in strings  # the id is one string constant ...
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "__import__" not in names and not [n for n in ast.walk(tree) if isinstance(n, ast.IfExp)]  # ... not code
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls == {"SentenceTransformer", "xlalign_apply.load", "transform.apply", "model.encode", "print", "len",
                     "faiss.IndexFlatIP", "transform.faiss_index", "transform.faiss_index(index, doc_lang, 'passage').add",
                     "transform.faiss_index(index, query_lang, 'query').search"}
    assert "base_model" not in front_matter(text)  # not a Hub id: left out of the metadata


def test_a_data_file_name_with_markup_is_plain_text_in_the_card(tmp_path):
    import_or_skip("markdown_it")
    data = tmp_path / HOSTILE_DATA
    data.write_text("".join((DEMO_DIR / f"demo.{lang}.jsonl").read_text(encoding="utf-8") for lang in ("en", "de")),
                    encoding="utf-8")
    run = _fake_run(tmp_path, "fake", data=str(data))
    text = (export_run(run, tmp_path / "export") / "README.md").read_text(encoding="utf-8")
    _assert_inert(text)
    assert len([line for line in text.splitlines() if line.startswith("- Data: ")]) == 1  # one line, as written
    plain = "".join(c.content for t in rendered(text) if t.type == "inline" for c in t.children or []
                    if c.type == "text")
    assert "# Heading <img src=x onerror=alert(1)> [click](javascript:alert(1)) --- `x`.jsonl" in plain  # shown as is


def test_a_language_agnostic_card_quotes_a_hostile_model_id(tmp_path):
    """The card of a language-agnostic run (its own "What it is", the ST usage) keeps a hostile id inert too."""
    import_or_skip("markdown_it")
    run = _fake_run(tmp_path, HOSTILE_MODEL, method="lsar")
    text = card_for(run, True, "export")
    _assert_inert(text)
    assert ast.parse(code_blocks(text)[0])
    assert headings(text)[0].endswith(f" — {HOSTILE_MODEL}")  # the title shows the id as text
