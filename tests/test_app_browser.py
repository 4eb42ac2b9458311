"""The Gradio app in headless Chromium, as a user drives it, on the bundled default model and the demo corpus.

Diagnose en+zh and read the verdict; change the target and see no stale zh result; upload an en+fr
file and diagnose it; run centering and open its comparison; visit every tab and see no error.
Screenshots of every step go to ``screenshots/browser/`` at the repository root (ignored by git).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_app import TABS, open_page, serve_app
from conftest import demo_upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "screenshots" / "browser"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, bundled_dir, bundled_cache_dir):
    yield from serve_app(tmp_path_factory.mktemp("app"), bundled_cache_dir, warm_up=True)


@pytest.fixture(scope="module")
def page(app_url):
    yield from open_page(*app_url, SHOTS)


def _no_error(page) -> None:
    errors = page.locator(".toast-item").filter(has_text="Error")
    assert errors.count() == 0, errors.first.inner_text()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _set_targets(page, langs: list[str]) -> None:
    box = page.locator("#targets input")
    box.click()
    for _ in range(6):
        box.press("Backspace")
    for lang in langs:
        box.fill(lang)
        page.get_by_role("option", name=lang, exact=False).first.click()
    page.locator("#verdict").click()  # close the menu


def _diagnose(page, expect: str) -> str:
    page.click("#diagnose-btn")
    verdict = page.locator("#verdict")
    verdict.get_by_text(expect).first.wait_for(timeout=600_000)
    return verdict.inner_text()


def test_1_diagnose_demo_en_zh_states_the_verdict(page):
    text = _diagnose(page, "Chinese queries:")
    assert "Finding — Chinese: same-language clustering" in text
    assert "irrelevant Chinese documents outrank their English translations in" in text  # the preference
    assert "an irrelevant Chinese document outranks the English gold" in text and "Mono-Cross" in text  # impact, quality
    summary = page.locator("#summary-table").inner_text()
    assert "complete@10" in summary and "own_preference" in summary and "displaced_by_own@10" in summary
    _no_error(page)
    _shot(page, "1-diagnose-en-zh")


def test_2_drill_down_and_every_tab_render(page):
    page.locator("#per-query").get_by_role("gridcell").nth(5).click()  # a row opens its drill-down
    page.locator("#dd-docs table").first.wait_for(timeout=60_000)  # one table per language above the gold, then it
    html = page.locator("#dd-docs").inner_html()
    assert "dir=\"auto\"" in html and "✔ gold" in html
    _shot(page, "2-drill-down")
    for name in TABS:
        page.get_by_role("tab", name=name).click()
        page.wait_for_timeout(400)
        _no_error(page)
        _shot(page, f"tab-{name.lower().replace(' ', '-')}")
    page.get_by_role("tab", name="Embedding map").click()
    page.get_by_role("button", name="Draw UMAP").click()
    page.locator("#umap-before .js-plotly-plot").wait_for(timeout=120_000)
    _no_error(page)
    _shot(page, "3-embedding-map")
    page.get_by_role("tab", name="Diagnose").click()


def test_3_changing_the_target_leaves_no_stale_result(page):
    _set_targets(page, ["hi"])
    verdict = page.locator("#verdict")
    verdict.get_by_text("Settings changed").wait_for(timeout=30_000)
    assert "Chinese" not in verdict.inner_text()
    assert "complete@10" not in page.locator("#summary-table").inner_text()
    text = _diagnose(page, "Hindi queries:")
    assert "Chinese" not in text
    _no_error(page)
    _shot(page, "4-diagnose-en-hi")


def test_4_upload_en_fr_and_diagnose(page, tmp_path):
    path = demo_upload(tmp_path, "my-data.jsonl", {"en": "en", "fr": "es"}, n_items=40)  # French: Spanish texts
    page.set_input_files("#upload input[type=file]", str(path))
    page.locator("#data-note").get_by_text("2 languages").wait_for(timeout=60_000)
    text = _diagnose(page, "French queries:")
    assert "Hindi" not in text
    _no_error(page)
    _shot(page, "5-diagnose-upload-en-fr")
    page.locator("#upload").get_by_label("Clear").first.click()
    page.locator("#data-note").get_by_text("7 languages").wait_for(timeout=60_000)


def test_5_centering_run_and_its_comparison(page):
    """Submit from the Align tab: the run is preselected, its comparison opens by itself when it has finished,
    and the runs list needs no sideways scrolling at 1400 px."""
    _set_targets(page, ["zh"])
    page.get_by_role("tab", name="Align").click()
    page.click("#submit-btn")
    page.get_by_text("Submitted").first.wait_for(timeout=60_000)
    from playwright.sync_api import expect

    run_id = page.locator("#run-pick input").input_value()
    assert run_id.startswith("20") and "-centering-zh-" in run_id  # the run just submitted is preselected
    page.locator("#cmp-header").get_by_text("centering · subtract · queries own").wait_for(timeout=600_000)
    assert page.get_by_role("tab", name="Compare").get_attribute("aria-selected") == "true"  # opened by itself
    table = page.locator("#cmp-table").inner_text()
    assert "complete@10" in table and "zh" in table
    header = page.locator("#cmp-header").inner_text()
    assert "Finding" in header and "Chinese queries: same-language clustering → " in header  # the verdict before → after
    assert "Multi Complete@10" in header and "changed significantly" in header
    _no_error(page)
    _shot(page, "7-compare")
    page.get_by_role("tab", name="Align").click()
    expect(page.locator("#runs-table")).to_contain_text("succeeded", timeout=60_000)
    assert "centering · subtract · queries own" in page.locator("#runs-table").inner_text()
    _shot(page, "6-align-runs")


def test_6_runs_list_fits_1400_px_and_survives_a_reload(page):
    """Progress, time left and message are on screen without scrolling sideways; after a reload the browser's
    visitor token still finds the run."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.reload(wait_until="load")
    page.locator("#diagnose-btn").wait_for(timeout=120_000)
    page.get_by_role("tab", name="Align").click()
    from playwright.sync_api import expect

    expect(page.locator("#runs-table")).to_contain_text("succeeded", timeout=60_000)
    widths = page.evaluate("""() => {
        const root = document.querySelector('#runs-table');
        const boxes = [...root.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1
            && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX));
        const heads = [...root.querySelectorAll('th')].map(th => [th.innerText.trim(), th.getBoundingClientRect().right]);
        return {scrolling: boxes.length, heads, page: document.documentElement.scrollWidth, view: window.innerWidth};
    }""")
    assert widths["scrolling"] == 0, widths
    assert widths["page"] <= widths["view"], widths
    shown = {name: right for name, right in widths["heads"] if name}
    for column in ("state", "progress", "time left", "message"):
        assert column in shown and shown[column] <= 1400, widths
    _no_error(page)
    _shot(page, "8-runs-list-1400px")
