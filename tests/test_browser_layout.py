"""One screen per judgment: at 1440x900 and 1280x800, the question, the answer(s) or comment, and Submit of each
judging page lie inside the window, the page itself does not scroll, and answers of about 1,200 characters are shown
whole; a longer one scrolls inside its own box."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.review import settings
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from tests.live_app import running_app, signed_in, wait_until_idle
from tests.moderation_store import PASSWORD, add_people, import_rows, label_row, score_row

pytestmark = pytest.mark.browser
SENTENCE = "The reduced rate applies to printed books, but not to e-books sold before 2021 in most member states. "
ANSWER = (SENTENCE * 12)[:1200]
QUESTION = "I sell printed books and e-books from Germany to customers in Austria and France. " * 3
COMMENT = ("You people never listen, and this thread proves it again and again. " * 9)[:600]
PAGES = {
    "/rate": ("wb-question", "wb-answer"),
    "/compare": ("wb-question", "wb-left", "wb-right"),
    "/moderation": ("wb-comment",),
    "/adjudicate": ("wb-comment", "wb-labels"),
}
VIEWPORTS = [(1440, 900), (1280, 800)]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("layout")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    add_people(engine)
    conversations = [
        {
            "prompt_id": f"p{n}",
            "prompt": QUESTION,
            "responses": [
                {"response_id": f"p{n}-1", "model": "bot-v1", "text": ANSWER},
                {"response_id": f"p{n}-2", "model": "bot-v2", "text": ANSWER if n < 3 else ANSWER * 4},
            ],
        }
        for n in range(6)
    ]
    import_rows(engine, folder, "conversations", conversations)
    import_rows(engine, folder, "moderation", [score_row(f"m{n}", "clf-v1", 0.5 + n / 100, COMMENT) for n in range(3)])
    import_rows(
        engine,
        folder,
        "labels",
        [label_row("m0", "ann0", "toxic", text=COMMENT), label_row("m0", "ann1", "not_toxic", text=COMMENT)],
    )
    with session_scope(engine, write=True) as s:
        for queue in ("rating", "comparison"):
            settings.configure(s, queue=queue, actor_id=None, versions=["bot-v1", "bot-v2"], k=1)
    dispose_engines()
    with running_app(url) as base:
        yield base


def boxes(page, keys: tuple[str, ...]) -> dict[str, dict]:
    return page.evaluate(
        """(keys) => Object.fromEntries(keys.map((key) => {
            const box = document.querySelector(`.st-key-${key}`);
            const rect = box.getBoundingClientRect();
            return [key, {top: rect.top, bottom: rect.bottom, whole: box.scrollHeight <= box.clientHeight + 1}];
        }))""",
        list(keys),
    )


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_each_judging_page_fits_the_window(base_url, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{base_url}/rate")
    page.get_by_role("textbox", name="Username").fill("lead")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    signed_in(page)
    for path, keys in PAGES.items():
        page.goto(f"{base_url}{path}")
        page.wait_for_function("Boolean(document.body.dataset.wbItem)", timeout=30_000)
        wait_until_idle(page)
        found = boxes(page, keys)
        submit = page.get_by_role("button", name="Submit (Enter)").bounding_box()
        scrolls = page.evaluate(
            "(() => { const main = document.querySelector('[data-testid=stMain]');"
            " return main.scrollHeight > main.clientHeight + 1; })()"
        )
        assert not scrolls, path
        for key, box in found.items():
            assert box["top"] >= 0 and box["bottom"] <= height, (path, key, box)
        assert submit["y"] >= 0 and submit["y"] + submit["height"] <= height, (path, submit)
        if path == "/rate":
            assert found["wb-answer"]["whole"], "a 1,200-character answer is shown whole"
    context.close()
