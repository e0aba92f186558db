"""A product owner opens the A/B reports in a real browser and downloads the HTML report."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from core.accounts.users import create_user
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from tests.ab_store import build_ab_store
from tests.live_app import open_page, running_app, sign_in, wait_until_idle

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-ab') / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    build_ab_store(engine)
    with session_scope(engine, write=True) as session:
        create_user(session, username="olivia", role="product_owner", password=PASSWORD, display_name="Olivia")
    dispose_engines()
    with running_app(url) as base:
        yield base


def test_a_product_owner_downloads_the_html_report_with_its_verdict(base_url, page, tmp_path):
    sign_in(page, base_url, "olivia", PASSWORD)
    open_page(page, "A/B reports")
    page.get_by_text("Verdict").first.wait_for()
    wait_until_idle(page)  # a click on the download button while the script still runs can be lost
    shown = page.locator('[data-testid="stMarkdownContainer"]', has_text="Verdict").first.inner_text()
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name="Download the report (HTML)").click()
    download = download_info.value
    assert download.suggested_filename == "ab-bot-b-vs-bot-c.html"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    report = saved.read_text(encoding="utf-8")
    lines = [line.strip() for line in shown.split("\n") if line.strip()]
    assert lines[0] == "Verdict" and lines[1].startswith("Comparisons: no difference shown: bot-c wins")
    first_line = lines[1]  # the verdict's first sentence as the page shows it
    assert first_line and first_line in html.unescape(report)
    assert report.startswith("<!doctype html>") and "<h1>A/B report: bot-c against bot-b</h1>" in report
    for viewport in ({"width": 1280, "height": 800}, {"width": 1440, "height": 900}):
        every_label_inside_its_chart(page, saved, viewport)


# Per chart: its box, the boxes of its tick labels and axis titles (each with its text), as the browser laid them out.
LABEL_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(chart => {
  const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  const of = selector => [...chart.querySelectorAll(selector)]
      .filter(e => e.textContent.trim() && e.getBoundingClientRect().width > 0)  // hidden ones have no box
      .map(e => ({text: e.textContent, ...box(e.getBoundingClientRect())}));
  return {chart: box(chart.getBoundingClientRect()), ticks: of('.xtick text, .ytick text'),
          xticks: of('.xtick text'), xtitles: of('.g-xtitle text')};
})"""


def every_label_inside_its_chart(page, report, viewport) -> None:
    """Opened as a downloaded file: every tick label lies inside its chart, and no x-axis title overlaps a tick
    label (the charts' margins once cut the y labels to "cs", "AT", "ns")."""
    page.set_viewport_size(viewport)
    page.goto(report.as_uri())
    page.locator(".js-plotly-plot .xtick").first.wait_for()
    charts = page.evaluate(LABEL_BOXES)
    assert len(charts) == 3
    for chart in charts:
        frame = chart["chart"]
        for label in chart["ticks"]:
            inside = frame["left"] - 0.5 <= label["left"] and label["right"] <= frame["right"] + 0.5
            assert inside and frame["top"] - 0.5 <= label["top"] and label["bottom"] <= frame["bottom"] + 0.5, (
                viewport,
                label,
                frame,
            )
        for title in chart["xtitles"]:
            assert all(title["top"] >= tick["bottom"] - 0.5 for tick in chart["xticks"]), (viewport, title)
