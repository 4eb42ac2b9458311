"""The README's diagnosis, verdict and matrix figures are exactly what ``benchmarks/readme_figures.py`` prints for its
stated options (bundled model, fp32, dedup pools, the demo corpus and XQuAD). Slow: it encodes both corpora."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import XQUAD_DIR

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "benchmarks" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_readme_has_a_marker_for_every_block_and_nothing_else_between_them():
    figures = _script()
    held = figures.readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(held) == {"verdict-example", "verdict-demo", "verdict-xquad", "matrix"}
    assert figures.replace_blocks("<!-- figures:x -->\nold\n<!-- /figures:x -->", {"x": "new"}) == \
        "<!-- figures:x -->\nnew\n<!-- /figures:x -->"


@pytest.mark.slow
def test_the_readme_figures_are_the_scripts_output(bundled_dir, bundled_cache_dir):
    if not (XQUAD_DIR / "xquad.en.json").exists():  # CI has it; a missing copy is a failure, not a skip
        pytest.fail(f"XQuAD is needed at {XQUAD_DIR} (the README's XQuAD figures come from it)")
    from xlalign.models.cache import EmbeddingCache

    figures = _script()
    blocks = figures.compute(precision="fp32", xquad=XQUAD_DIR, cache=EmbeddingCache(bundled_cache_dir /
                                                                                     "embeddings.sqlite"))
    held = figures.readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    for name, body in blocks.items():
        assert held.get(name) == body, f"README block {name!r} is not the script's output; run " \
                                       f"`python benchmarks/readme_figures.py --write`"
