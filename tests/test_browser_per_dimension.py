"""Compare with per-dimension questions, in a real browser and by keyboard alone: the digits answer the overall choice
and then each dimension in turn, and the pair is stored with its choices per dimension in its own a/b order."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.review import settings
from core.store.db import dispose_engines, get_engine, session_scope
from core.store.models import Comparison, User
from tests.live_app import REPO_ROOT, next_item_shown, running_app, shown_item, sign_in, wait_until_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('per-dimension') / 'store.db'}"
    env = os.environ | {"DATABASE_URL": url}
    for command in (["init"], ["demo", "--if-empty"]):
        subprocess.run(
            [sys.executable, "-m", "core", *command], cwd=REPO_ROOT, env=env, check=True, capture_output=True
        )
    with session_scope(get_engine(url), write=True) as s:
        settings.configure(s, queue="comparison", actor_id=None, per_dimension=True)
    dispose_engines()
    with running_app(url) as base_url:
        yield url, base_url
    dispose_engines()


def test_a_comparison_per_dimension_made_by_keys_is_stored_in_a_b_order(demo, page):
    url, base_url = demo
    sign_in(page, base_url, "expert", "expert-demo")
    page.goto(f"{base_url}/compare")
    shown = shown_item(page)
    wait_until_idle(page)
    for key in ("1", "w", "1", "2", "3"):  # overall left, clear; helpfulness left, harmlessness right, accuracy tie
        page.keyboard.press(key)
        page.wait_for_timeout(150)
    page.keyboard.press("?")
    page.get_by_text("then each dimension (helpfulness, harmlessness, accuracy): left, right, tie").wait_for()
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    next_item_shown(page, shown)
    with session_scope(get_engine(url)) as s:
        expert = s.execute(select(User.id).where(User.username == "expert")).scalar_one()
        stored = s.execute(
            select(Comparison).where(Comparison.user_id == expert).order_by(Comparison.id.desc()).limit(1)
        ).scalar_one()
    left, right = ("a", "b") if stored.left_response_id == stored.response_a_id else ("b", "a")
    assert (stored.choice, stored.strength) == (left, "clear")
    assert stored.dimensions == {"helpfulness": left, "harmlessness": right, "accuracy": "tie"}
