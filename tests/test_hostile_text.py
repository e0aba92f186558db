"""Hostile texts render as text: no page lets HTML through, and an answer holding HTML, a script, a
100,000-character line and right-to-left overrides reaches the Rate page unchanged: the question in a Markdown element
(which Streamlit shows with HTML escaped), the answer escaped in the box where error spans are marked
(tests/test_browser_bad_input.py checks it in a real browser)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from core.accounts.users import create_user
from core.auth import UserPublic
from core.ingest import import_file
from core.review import settings
from core.store.db import session_scope
from tests.app_helpers import APP, REPO_ROOT

ANSWER = (
    "<script>window.__pwned = 1</script><img src=x onerror=alert(1)>\n\n"
    + "W" * 100_000
    + "\n\n\u202eevil.exe \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd"
)


# The only modules that draw HTML or run script of their own, none of it with a text from the store or a person: the
# judging pages' style and item marker (ids), the rubric's anchor lines (escaped), the keyboard listener and the
# redirect after signing in (a path of this app); and the answer with its error spans, every piece of it escaped.
RAW_HTML_ALLOWED = ["hotkeys.py", "review_forms.py", "review_page.py", "session.py", "spans.py"]


def test_no_page_or_widget_renders_raw_html():
    sources = [*Path(REPO_ROOT, "pages").glob("*.py"), *Path(REPO_ROOT, "app").glob("*.py")]
    found = [
        p.name for p in sources if any(s in p.read_text() for s in ("unsafe_allow_html", "st.html(", "components"))
    ]
    assert sources and sorted(found) == RAW_HTML_ALLOWED


def test_the_rate_page_shows_a_hostile_answer_exactly_as_imported(engine, tmp_path):
    st.cache_resource.clear()
    row = {
        "prompt_id": "p1",
        "prompt": "<b>Q</b>?",
        "responses": [{"response_id": "r1", "model": "m1", "text": ANSWER}],
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_file(tmp_path / "c.jsonl", "conversations", engine=engine)
    with session_scope(engine, write=True) as s:
        user = create_user(s, username="expert0", role="expert", password="long-enough-pass")
        settings.configure(s, queue="rating", actor_id=None, versions=["m1"], k=1)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = UserPublic(user.id, "expert0", "expert0", "expert", True)
    at.run()
    at.switch_page("../pages/rate.py").run()
    assert not at.exception
    shown = [m.value for m in at.markdown]
    assert "<b>Q</b>?" in shown
    assert not any(m.proto.allow_html for m in at.markdown)
    (answer,) = [h.proto.body for h in at.get("html") if "wb-spantext" in h.proto.body]
    answer = answer[answer.index('<div class="wb-spantext"') :]  # after the editor's style rule
    assert "<script" not in answer and "<img" not in answer and "<b>" not in answer
    assert html.unescape(re.sub(r"<[^>]*>", "", answer)) == ANSWER


def test_messages_that_repeat_typed_text_show_it_as_text(engine):
    """The month typed on the Audit sample page and the reference on the Audit trail page come back in a message;
    Markdown in them (emphasis, a link) was rendered."""
    st.cache_resource.clear()
    with session_scope(engine, write=True) as s:
        lead = create_user(s, username="lead", role="expert", password="long-enough-pass")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = UserPublic(lead.id, "lead", "lead", "expert", True)
    at.run()
    at.switch_page("../pages/audit_sample.py").run()
    at.text_input[0].input("**soon** [here](http://evil.example)")
    at.button[0].click().run()
    assert r"\*\*soon\*\* \[here\](http://evil.example)" in at.error[0].value
    at.switch_page("../pages/audit.py").run()
    next(t for t in at.text_input if t.label.startswith("Item:")).input("**p1** [x](http://evil.example)").run()
    assert r"\*\*p1\*\* \[x\](http://evil.example)" in at.warning[0].value
