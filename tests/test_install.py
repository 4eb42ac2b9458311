"""xlalign as an installed package (issue 24 §8): the README's install line, run in a fresh environment, gives an
``xlalign`` command that works from any folder, package data (the demo corpus) included; so does ``pip install -e .``.

Each test copies the working tree (as a fresh clone would have it) into a temporary folder, makes a virtual
environment that sees this interpreter's packages (``--system-site-packages``: torch and the rest are not
downloaded again), installs there, and runs the command from a folder outside the copy with no ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from tiny_model import build_tiny_model

#: What a clone does not have (or what does not matter to an install): build outputs, caches, results.
_NOT_IN_A_CLONE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", ".venv", "runs", "out", "screenshots",
                                         "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")


def quick_start_install() -> list[str]:
    """The ``pip install`` line of the README's Quick start, as arguments (its comment removed)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the Quick start has no bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    installs = [shlex.split(line) for line in lines if line.startswith("pip install")]
    assert len(installs) == 1, lines
    return installs[0]


def _clone(tmp: Path) -> Path:
    clone = tmp / "clone"
    shutil.copytree(ROOT, clone, ignore=_NOT_IN_A_CLONE)
    return clone


def _venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    return venv


def _env() -> dict[str, str]:
    """This environment without PYTHONPATH (which would import the source tree instead of the install)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _pip(venv: Path, args: list[str], cwd: Path) -> None:
    assert args[:2] == ["pip", "install"], args
    _run([venv / "bin" / "python", "-m", *args], cwd)


def test_the_quick_start_install_line_is_pins_then_the_package():
    assert quick_start_install() == ["pip", "install", "-r", "requirements.txt", "."]


@pytest.mark.slow
def test_the_quick_start_install_gives_an_xlalign_command_that_works_from_any_folder(tmp_path):
    from xlalign.core.loaders import load_demo

    clone, venv = _clone(tmp_path), _venv(tmp_path)
    _pip(venv, quick_start_install(), clone)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([venv / "bin" / "python", "-c", "import xlalign; print(xlalign.__file__)"], elsewhere).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not the source tree
    shutil.rmtree(clone)  # nothing may be read from the source any more
    helped = _run([venv / "bin" / "xlalign", "--help"], elsewhere).stdout
    assert helped.startswith("usage: xlalign ") and "evaluate" in helped and "parse, call, print" not in helped
    demo = load_demo(["en", "es"])
    tiny = build_tiny_model(tmp_path / "tiny", list(demo.passages["en"]) + list(demo.passages["es"]))
    out = _run([venv / "bin" / "xlalign", "evaluate", "--data", "demo", "--langs", "en,es", "--model", tiny,
                "--out", "result"], elsewhere)
    assert "wrote result/summary.csv" in out.stdout
    assert (elsewhere / "result" / "summary.csv").is_file() and (elsewhere / "result" / "per_query.csv").is_file()


@pytest.mark.slow
def test_an_editable_install_gives_the_same_command(tmp_path):
    clone, venv = _clone(tmp_path), _venv(tmp_path)
    _pip(venv, ["pip", "install", "-e", "."], clone)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import xlalign\nfrom xlalign.core.loaders import load_demo\n"
            "print(xlalign.__file__)\nprint(len(load_demo(['en', 'zh'])))")
    where, n = _run([venv / "bin" / "python", "-c", code], elsewhere).stdout.split()
    assert Path(where).is_relative_to(clone / "xlalign") and int(n) == 168
    assert _run([venv / "bin" / "xlalign", "--help"], elsewhere).stdout.startswith("usage: xlalign ")
