"""The Gradio app in headless Chromium: diagnose the demo corpus, then run and show an alignment."""

from __future__ import annotations

import importlib
import shutil
import socket
from pathlib import Path

import pytest
from tiny_model import build_tiny_model

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    from xlalign.loaders import load_demo

    root = tmp_path_factory.mktemp("app")
    demo = load_demo(["en", "zh"])
    model = build_tiny_model(root, list(demo.passages["en"]) + list(demo.passages["zh"]) + list(demo.questions["en"]))
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_DEFAULT_MODEL", str(model))
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))
    mp.setenv("XLALIGN_CACHE_DIR", str(root / "cache"))
    import app

    app = importlib.reload(app)
    port = _free_port()
    blocks = app.build_app()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", root
    blocks.close()
    mp.undo()


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    url, root = app_url
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(root / "chrome-profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM, headless=True, viewport={"width": 1400, "height": 1000},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        pg = context.new_page()
        pg.goto(url, wait_until="load")
        pg.locator("#diagnose-btn").wait_for(timeout=60_000)
        yield pg
        context.close()


def test_diagnose_shows_summary_and_figures(page, tmp_path):
    page.click("#diagnose-btn")
    table = page.locator("#summary-table")
    table.get_by_text("complete@10").first.wait_for(timeout=240_000)
    text = table.inner_text()
    assert "multi" in text and "max_r" in text and "english_over_gold" in text
    assert page.get_by_text("queries** per language").count() == 0  # markdown rendered, not raw
    assert page.get_by_text("pool sizes").first.is_visible()
    page.screenshot(path=str(tmp_path / "diagnose.png"), full_page=True)
    assert Path(tmp_path / "diagnose.png").stat().st_size > 10_000


def test_alignment_run_completes_in_the_background(page):
    page.get_by_role("tab", name="Align").click()
    page.get_by_role("button", name="Start alignment run").click()
    page.get_by_text("Submitted").first.wait_for(timeout=60_000)
    runs = page.locator("#runs-table")
    runs.get_by_text("succeeded").first.wait_for(state="attached", timeout=240_000)
    assert "centering" in runs.inner_text()
