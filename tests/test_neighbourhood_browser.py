"""The neighbourhood panels in headless Chromium, on the bundled model and the demo corpus (English + Chinese):
bitext mining beside the verdict, the Neighbourhoods section, the visitor's own index, purity under the map, and a
centering run's before/after on Compare. Screenshots go to ``screenshots/neighbourhoods/`` (ignored by git)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_app import no_error, open_page, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "screenshots" / "neighbourhoods"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, bundled_dir, bundled_cache_dir):
    yield from serve_app(tmp_path_factory.mktemp("app"), bundled_cache_dir, warm_up=False)


@pytest.fixture(scope="module")
def page(app_url):
    yield from open_page(*app_url, SHOTS)


def _shot(page, name: str, elem_id: str | None = None) -> None:
    if elem_id is None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    else:
        page.locator(f"#{elem_id}").screenshot(path=str(SHOTS / f"{name}.png"))


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)


def test_1_bitext_mining_stands_beside_the_verdict(page):
    page.click("#diagnose-btn")
    page.locator("#verdict").get_by_text("Chinese queries:").first.wait_for(timeout=1_200_000)
    mining = page.locator("#nb-mining")
    mining.get_by_text("Bitext mining, Chinese ↔ English passages").first.wait_for(timeout=60_000)
    text = mining.inner_text()
    assert "top-1" in text and "margin xsim error" in text
    assert "It mines bitext well, yet clusters in a mixed pool" in text  # zh: mined at ~99%, clustering at ~98%
    no_error(page)
    _shot(page, "1-diagnose")


def test_2_the_neighbourhood_section_on_demand(page):
    page.locator("#nb-btn").scroll_into_view_if_needed()
    page.click("#nb-btn")
    page.locator("#nb-text").get_by_text("Language-identity probe").first.wait_for(timeout=300_000)
    text = page.locator("#nb-text").inner_text()
    assert "Neighbourhood purity (passages" in text and "a language-blind space gives 50%" in text
    headers = [h.strip() for h in page.locator("#nb-bitext [role=columnheader]").all_inner_texts()]
    assert headers[:3] == ["texts", "direction", "top-1 %"] and "xsim error %" in headers
    no_error(page)
    _shot(page, "2-neighbourhoods", "nb-section")


def test_3_the_visitors_own_index(page):
    page.locator("#idx-section").get_by_text("Your own index (faiss)").first.click()
    box = page.locator("#opt-IndexSpec-index textarea, #opt-IndexSpec-index input").first
    box.fill("HNSW32")
    page.click("#idx-btn")
    page.locator("#idx-text").get_by_text("Your index HNSW32").first.wait_for(timeout=300_000)
    assert "trained on the pool's 336 passages (seed 1234)" in page.locator("#idx-text").inner_text()
    no_error(page)
    _shot(page, "3-your-index", "idx-section")


def test_4_purity_beside_the_embedding_map(page):
    _tab(page, "Embedding map")
    page.click("#umap-btn")
    page.locator("#umap-purity-before").get_by_text("Neighbourhood purity").first.wait_for(timeout=600_000)
    assert re.search(r"zh [\d.]+% \(", page.locator("#umap-purity-before").inner_text())
    no_error(page)
    _shot(page, "4-map-purity")


def test_5_a_centering_runs_neighbourhoods_before_and_after(page):
    _tab(page, "Align")
    page.click("#submit-btn")
    page.locator("#cmp-nb-text").get_by_text("Neighbourhood purity of passages, before → after").first.wait_for(
        timeout=900_000)  # the finished run opens on Compare by itself
    assert "Language-identity probe" in page.locator("#cmp-nb-text").inner_text()
    headers = [h.strip() for h in page.locator("#cmp-nb-table [role=columnheader]").all_inner_texts()]
    assert headers[:2] == ["figure", "before"] and "change" in headers
    no_error(page)
    _shot(page, "5-compare")
