"""Views that read and never go stale (issue 24, §2, §5, §6), in headless Chromium on the bundled model and the
demo corpus: a failed model load is one message in one place; the Languages and Models tabs and the drill-down
caption follow exactly the settings they read; at 7 languages every rank column, the matrix's last language and
the documents above a gold are on screen, the Multi-pool chart's labels are upright and legible, the map's legend
hides a language and its hover shows the point's own text, uncut; the side-by-side has short headers and q values
that are never 0. Screenshots of every step go to ``screenshots/browser-views/`` (ignored by git).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_app import NAMES, TARGETS, open_page, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "screenshots" / "browser-views"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, bundled_dir, bundled_cache_dir):
    yield from serve_app(tmp_path_factory.mktemp("app"), bundled_cache_dir, warm_up=False)


@pytest.fixture(scope="module")
def page(app_url):
    yield from open_page(*app_url, SHOTS)


def _badges(page) -> list[str]:
    """Every error toast and every component's error badge on the page."""
    return page.evaluate("""() => [...document.querySelectorAll('.toast-item, .error, .validation-error')]
        .filter(e => e.offsetParent !== null && e.innerText.trim()).map(e => e.innerText.trim())""")


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(300)


def _set_targets(page, langs: list[str]) -> None:
    box = page.locator("#targets input")
    box.click()
    for _ in range(8):
        box.press("Backspace")
    for lang in langs:
        box.fill(lang)
        page.get_by_role("option", name=f"{lang} ({NAMES[lang]})", exact=True).click()
    page.get_by_text("cross-lingual alignment lab").first.click()  # close the menu, whichever tab is open
    page.wait_for_timeout(1500)


def _diagnose(page, expect: str) -> str:
    page.click("#diagnose-btn")
    verdict = page.locator("#verdict")
    page.wait_for_function("""(x) => { const t = document.querySelector('#verdict').innerText;
                                        return t.includes(x) || t.includes('Diagnose failed'); }""", arg=expect,
                           timeout=1_200_000)
    page.wait_for_timeout(800)
    text = verdict.inner_text()
    assert expect in text, text
    return text


def _header(page, elem_id: str) -> list[str]:
    """The column headers of a Dataframe, as text (without the column menu's icon)."""
    return [" ".join(h.replace("⋮", " ").split()) for h in
            page.locator(f"#{elem_id} [role=columnheader]").all_inner_texts()]


def _hidden_columns(page, elem_id: str) -> list[str]:
    """Headers of the Dataframe ``#elem_id`` that are cut off: outside its visible box, or their text truncated."""
    return page.evaluate("""(id) => {
        const root = document.querySelector('#' + id);
        const box = root.getBoundingClientRect();
        return [...root.querySelectorAll('[role=columnheader]')].filter(th => {
            const r = th.getBoundingClientRect();
            const text = th.querySelector('span, div') || th;
            return r.right > box.right + 1 || r.left < box.left - 1 || text.scrollWidth > text.clientWidth + 1;
        }).map(th => th.innerText.trim());
    }""", elem_id)


def test_1_a_failed_model_load_is_one_message_and_nothing_says_settings_changed_before_a_run(page):
    _set_targets(page, ["zh"])  # a change before anything ran: no "settings changed" anywhere
    _tab(page, "Languages")
    assert "settings changed" not in page.locator("#rank-plot").inner_text().lower()
    _tab(page, "Diagnose")
    model = page.locator("#model input")
    model.click()
    model.fill("/nonexistent/model-folder")
    model.press("Enter")
    page.locator("#verdict").click()
    page.wait_for_timeout(1000)
    page.click("#diagnose-btn")
    page.locator("#verdict").get_by_text("Diagnose failed").wait_for(timeout=300_000)
    page.wait_for_timeout(1500)
    verdict = page.locator("#verdict").inner_text()
    assert "could not load model" in verdict and "/nonexistent/model-folder" in verdict
    assert _badges(page) == []  # one message, in the verdict: no toast, no "Error" badge on the other panels
    assert page.locator("#summary-table [role=gridcell]").count() == 0  # the panels are empty
    _shot(page, "1-failed-model-load")
    model.click()
    model.fill("bundled:multilingual-e5-small")
    page.get_by_role("option", name="bundled:multilingual-e5-small", exact=True).click()
    page.get_by_text("cross-lingual alignment lab").first.click()
    page.wait_for_function("() => document.querySelector('#model input').value === 'bundled:multilingual-e5-small'",
                           timeout=60_000)
    page.locator("#verdict").get_by_text("Choose data, languages and a model").wait_for(timeout=60_000)


def test_2_seven_languages_every_rank_column_the_matrix_and_the_chart_read(page):
    _set_targets(page, TARGETS)
    _diagnose(page, "Urdu queries")
    assert _hidden_columns(page, "per-query") == []  # "click a rank": every rank column is there to click
    header = _header(page, "per-query")
    assert header[:9] == ["lang", "query_id", "en", *TARGETS]
    assert _hidden_columns(page, "matrix-table") == []  # ur included
    chart = page.evaluate("""() => document.querySelector('#overview .js-plotly-plot').data
        .filter(t => t.type === 'bar').map(t => ({angle: t.textangle, size: (t.textfont || {}).size,
                                                  orientation: t.orientation}))""")
    assert chart and all(t["angle"] in (None, 0, "auto") and t["size"] >= 11 and t["orientation"] == "h"
                         for t in chart)
    page.locator("#overview").screenshot(path=str(SHOTS / "2-multi-pool-7.png"))
    page.locator("#per-query").screenshot(path=str(SHOTS / "2-per-query-7.png"))
    page.locator("#matrix-table").screenshot(path=str(SHOTS / "2-matrix-7.png"))
    assert _badges(page) == []
    _shot(page, "2-diagnose-7")


def test_3_the_drill_down_shows_the_documents_above_and_forgets_its_pair_when_the_targets_change(page):
    column = _header(page, "per-query").index("zh")
    page.locator("#per-query [role=row]").filter(has=page.locator("[role=gridcell]")).nth(1) \
        .locator("[role=gridcell]").nth(column).click()
    page.locator("#dd-docs table").first.wait_for(timeout=120_000)
    assert _hidden_columns(page, "dd-table") == []  # "irrelevant documents above it" is on screen
    counts = page.evaluate("""() => [...document.querySelectorAll('#dd-table [role=row]')].slice(1, 4).map(r =>
        [...r.querySelectorAll('[role=gridcell]')].pop()).map(c => c.scrollWidth <= c.clientWidth + 1)""")
    assert counts and all(counts)
    caption = page.locator("#dd-table").inner_text()
    assert "English queries by the rank of the Chinese gold" in caption and "of 168" in caption
    page.locator("#dd-table").screenshot(path=str(SHOTS / "3-drill-down-table.png"))
    _tab(page, "Languages")
    page.locator("#rank-btn").click()
    page.locator("#rank-text").get_by_text("Urdu queries").first.wait_for(timeout=1_200_000)
    _tab(page, "Diagnose")
    _set_targets(page, ["es", "de", "zh", "ar", "hi"])  # ur out: the drill-down's pair and count are gone
    _tab(page, "Drill-down")
    caption = page.locator("#dd-table").inner_text()
    assert "of 168" not in caption and "Chinese gold" not in caption
    _tab(page, "Languages")  # the targets are not what the Languages tab reads: its result stays
    assert "Urdu queries" in page.locator("#rank-text").inner_text()
    assert _hidden_columns(page, "rank-table") == []
    assert "settings changed" not in page.locator("#rank-plot").inner_text().lower()
    assert _badges(page) == []
    _shot(page, "3-languages-after-a-target-change")


def test_4_models_tab_names_each_metric_keeps_an_error_out_of_the_table_and_clears_its_csv(page, tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    _set_targets(page, ["zh"])
    _tab(page, "Models")
    extra = page.locator("#lb-extra textarea, #lb-extra input").first
    extra.fill(str(broken))
    page.click("#lb-btn")
    page.locator("#lb-note").get_by_text("could not be evaluated").first.wait_for(timeout=1_200_000)
    page.wait_for_function("() => document.querySelector('#leaderboard').innerText.includes('not evaluated')",
                           timeout=60_000)
    page.wait_for_timeout(800)
    page.locator("#leaderboard").screenshot(path=str(SHOTS / "4-models-table.png"))
    _shot(page, "4-models")
    header = ["".join(h.split()) for h in _header(page, "leaderboard")]  # long headers wrap
    assert {"multimax_r_norm", "multimax_r_norm_of_mean", "multicomplete@10"} <= set(header), header  # §2
    assert "error" not in header and "could not load model" in page.locator("#lb-note").inner_text()
    visible = page.evaluate(r"""() => {
        const root = document.querySelector('#leaderboard'), box = root.getBoundingClientRect();
        const heads = [...root.querySelectorAll('[role=columnheader]')];
        const i = heads.findIndex(h => h.innerText.replace(/\s/g, '') === 'multicomplete@10');
        return heads[i].getBoundingClientRect().right <= box.right + 1;
    }""")
    assert visible  # the good rows' numbers stay on screen
    from playwright.sync_api import expect

    expect(page.locator("#lb-file [aria-label='leaderboard.csv']")).to_have_count(1, timeout=60_000)
    _set_targets(page, ["de"])  # the pairs changed: the previous leaderboard and its CSV go
    expect(page.locator("#lb-file [aria-label='leaderboard.csv']")).to_have_count(0, timeout=60_000)
    assert "settings changed" in page.locator("#lb-plot").inner_text()
    extra.fill("")


def test_5_the_map_legend_hides_a_language_and_its_hover_shows_the_points_own_text(page):
    _set_targets(page, ["zh"])
    _tab(page, "Diagnose")
    _diagnose(page, "Chinese queries")
    _tab(page, "Embedding map")
    page.locator("#umap-btn").click()
    page.locator("#umap-before path.point").first.wait_for(timeout=300_000)
    page.wait_for_timeout(1500)
    red = "rgb(214, 39, 40)"  # Chinese, in every figure
    chinese = """(c) => [...document.querySelectorAll('#umap-before path.point')]
        .map((p, i) => getComputedStyle(p).fill === c ? i : -1).filter(i => i >= 0)"""
    hover = page.locator("#umap-before .hoverlayer .hovertext").first
    for index in page.evaluate(chinese, red)[:20]:  # a point may lie under another one: hover until one answers
        box = page.locator("#umap-before path.point").nth(index).bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(400)
        if hover.count() and re.search(r"[\u4e00-\u9fff]", (hover.text_content() or "")):
            break
    hover.wait_for(timeout=30_000)
    text = (hover.text_content() or "")
    assert re.search(r"[\u4e00-\u9fff]", text), text  # a Chinese point shows Chinese text
    plot, tip = page.locator("#umap-before .main-svg").first.bounding_box(), hover.bounding_box()
    assert tip["x"] >= plot["x"] - 1 and tip["x"] + tip["width"] <= plot["x"] + plot["width"] + 1  # not clipped
    page.locator("#umap-before").screenshot(path=str(SHOTS / "5-map-hover.png"))
    assert len(page.evaluate(chinese, red)) > 0
    page.mouse.move(0, 0)
    page.locator("#umap-before .traces").filter(has_text="zh (Chinese)").locator(".legendtoggle").click()
    page.wait_for_timeout(1000)
    assert page.evaluate(chinese, red) == []  # a click on the legend hides the language's points
    page.locator("#umap-before").screenshot(path=str(SHOTS / "5-map-without-zh.png"))
    assert _badges(page) == []


def test_6_the_side_by_side_has_short_headers_a_legend_and_readable_q_values(page, monkeypatch):
    # the product's 2,000 resamples: with the suite's 200 the two-sided permutation p is at least 2/201 ≈ 0.00995,
    # and BH lifts nearly every q to 0.01 or more, leaving no small q value to show
    monkeypatch.setenv("XLALIGN_RESAMPLES", "2000")
    _tab(page, "Align")
    runs = []
    for method in ("centering", "lsar"):
        page.locator("#opt-AlignSpec-method").get_by_label(method, exact=True).check()
        page.click("#submit-btn")
        page.wait_for_function("""(m) => document.querySelector('#submit-msg').innerText.includes(m)""",
                               arg=f"-{method}-zh-", timeout=60_000)
        runs.append(re.search(r"\((\d{8}-\d{6}-[^)]+)\)", page.locator("#submit-msg").inner_text()).group(1))
        page.wait_for_function("(id) => document.querySelector('#runs-table').innerText.includes(id)", arg=runs[-1],
                               timeout=60_000)
    for _ in range(300):
        _tab(page, "Align")
        if page.locator("#runs-table").inner_text().count("succeeded") >= 2:
            break
        page.wait_for_timeout(3000)
    _tab(page, "Compare")
    pick = page.locator("#sbs-pick input")
    for run in runs:
        pick.click()
        page.get_by_role("option", name=run).click()
    page.get_by_text("cross-lingual alignment lab").first.click()  # close the menu
    page.click("#sbs-btn")
    page.locator("#sbs-legend").get_by_text("R2").first.wait_for(timeout=120_000)
    page.wait_for_timeout(800)
    header = _header(page, "sbs-table")
    assert {"R1 after", "R2 after", "R1 q", "R2 q"} <= set(header) and not any(r in " ".join(header) for r in runs)
    assert _hidden_columns(page, "sbs-table") == []  # both runs fit
    legend = page.locator("#sbs-legend").inner_text()
    assert all(run in legend for run in runs)
    q_cells = page.evaluate("""() => {
        const heads = [...document.querySelectorAll('#sbs-table [role=columnheader]')].map(h => h.innerText.trim());
        const cols = heads.map((h, i) => h.endsWith(' q') ? i : -1).filter(i => i >= 0);
        return [...document.querySelectorAll('#sbs-table [role=row]')].slice(1).flatMap(r => {
            const cells = [...r.querySelectorAll('[role=gridcell]')];
            return cols.map(i => cells[i] ? cells[i].innerText.trim() : '');
        });
    }""")
    assert q_cells and not any(re.fullmatch(r"0(\.0+)?", q) for q in q_cells)  # never a 0 that is not one
    shown = [q for q in q_cells if q not in ("", "n/a", "–")]
    assert all(("e-" in q) == (0 < float(q) < 0.01) for q in shown), shown  # 2 decimals from 0.01 up
    assert any("e-" in q for q in q_cells)  # the small ones in scientific notation
    page.locator("#sbs-table").screenshot(path=str(SHOTS / "6-side-by-side.png"))
    assert _badges(page) == []
    _shot(page, "6-compare")
