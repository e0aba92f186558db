"""A product owner opens the KPI dashboard in a real browser and sees the numbers and the charts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.accounts.users import create_user
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import utcnow
from tests import audit_store as store
from tests.live_app import open_page, running_app, sign_in, wait_until_idle

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An owner, and two experts' ratings and comparisons of the last days."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-kpi') / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    now = utcnow()
    with session_scope(engine, write=True) as s:
        create_user(s, username="olivia", role="product_owner", password=PASSWORD, display_name="Olivia Park")
        people = store.users(s, "rita", "bert")
        old, new = (store.version(s, n, created=now - timedelta(days=d)) for n, d in (("bot-v1", 20), ("bot-v2", 5)))
        for i, answer in enumerate(store.answers(s, old, 6, created=now - timedelta(days=3))):
            when = now - timedelta(hours=30 - i)
            ratings = [(people[n], store.rate(s, people[n], answer, (4, 4, 3), when=when), when) for n in people]
            store.work_item(s, "rating", answer, arrived=now - timedelta(days=3), k=2, judged=ratings)
            store.compare(s, people["rita"], answer, store.second_answer(s, answer, new), "b", when=when)
    dispose_engines()
    with running_app(url) as base:
        yield base


def test_a_product_owner_opens_the_kpi_dashboard(base_url, page):
    sign_in(page, base_url, "olivia", PASSWORD)
    links = page.locator('[data-testid="stPageLink-NavLink"]').all_inner_texts()
    titles = [link.split("\n")[-1] for link in links]
    assert "KPIs" in titles and "Audit trail" not in titles
    open_page(page, "KPIs")
    page.get_by_role("heading", name="KPIs").wait_for(timeout=60_000)  # the home page's heading goes first
    wait_until_idle(page)
    judgments = page.locator('[data-testid="stMetric"]', has_text="Judgments")
    assert judgments.locator('[data-testid="stMetricValue"]').inner_text() == "18"
    assert page.get_by_text("bot-v2 against bot-v1").is_visible()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 4
    assert page.get_by_text("Moderation score drift").is_visible()
