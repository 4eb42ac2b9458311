"""The two browser suites' shared set-up: the app served on loopback, and one headless Chromium page on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, import_or_skip, require_or_skip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TABS = ["Diagnose", "Drill-down", "Embedding map", "Languages", "Models", "Align", "Compare"]
#: The demo's targets beside the pivot en, and their names as the target menu shows them.
TARGETS = ["es", "de", "zh", "ar", "hi", "ur"]
NAMES = {"es": "Spanish", "de": "German", "zh": "Chinese", "ar": "Arabic", "hi": "Hindi", "ur": "Urdu"}


def serve_app(root: Path, cache_dir: Path, *, warm_up: bool) -> Iterator[tuple[str, Path]]:
    """Serve the app on a fresh :class:`Lab` in ``root/runs`` with the session's cache; yield (url, root).

    Skips (fails under ``XLALIGN_REQUIRE_ALL=1``) without Chromium or Playwright."""
    require_or_skip(CHROMIUM is not None, "chromium is not installed")
    import_or_skip("playwright.sync_api")
    mp = pytest.MonkeyPatch()
    mp.delenv("XLALIGN_DEFAULT_MODEL", raising=False)
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))  # public mode's run-model check reads it
    mp.setenv("XLALIGN_CACHE_DIR", str(cache_dir))  # the converted model and the session's embeddings
    if not warm_up:
        mp.setenv("XLALIGN_NO_WARMUP", "1")
    from xlalign.app import build_app, launch_options
    from xlalign.services.lab import Lab

    lab = Lab(root / "runs")
    port = free_port()
    blocks = build_app(lab)
    blocks.launch(prevent_thread_lock=True, quiet=True,
                  **{**launch_options(), "server_name": "127.0.0.1", "server_port": port})
    yield f"http://127.0.0.1:{port}", root
    blocks.close()
    lab.jobs.shutdown()
    mp.undo()


def open_page(url: str, root: Path, shots: Path) -> Iterator[object]:
    """One page in headless Chromium (a fresh user-data-dir in ``root``) on ``url``, once the app is ready."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(root / "chrome-profile"), executable_path=CHROMIUM, headless=True,
            viewport={"width": 1440, "height": 1000},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        pg = context.new_page()
        pg.goto(url, wait_until="load")
        pg.locator("#diagnose-btn").wait_for(timeout=120_000)
        yield pg
        context.close()


def no_error(page: Any) -> None:
    """No error toast and no component showing an error badge."""
    import re

    toasts = page.locator(".toast-item").filter(has_text="Error")
    assert toasts.count() == 0, toasts.first.inner_text()
    badges = page.locator(".validation-error:visible, .error:visible").filter(has_text=re.compile(r"\S"))
    assert badges.count() == 0, badges.first.inner_text()
