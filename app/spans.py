"""Error spans on the judging pages: the answer's exact text with its spans marked (escaped HTML: an answer's <script>
stays text), and the editor that marks them, by mouse or by keyboard (app/spans.js: select a stretch of the answer,
then the flag's key, then m for minor or M for major). Offsets reach Python as code points; the editor's spans live
in `st.session_state["{prefix}-spans"]` until the form is submitted."""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import streamlit as st

from app.widgets import escape_markdown
from core.review.guidelines import rubric
from core.review.spans import Span, span_problems
from core.store.models import FLAGS

# A key per flag, none of them a key the rating page uses already (f flags, r rationale, s skip, u change last)
SPAN_KEYS = dict(zip(FLAGS, "ixchp", strict=True))
SEVERITY_KEYS = {"minor": "m", "major": "M"}
# the editor's buttons: short, so that they fit one line above the answer (the full name is their tooltip)
SHORT = {
    "incorrect": "Incorrect",
    "unsafe": "Unsafe",
    "non_compliant": "Non-compliant",
    "hallucinated_source": "Hallucinated",
    "personal_data": "Personal data",
}
COLOURS = {"minor": "#fff3b0", "major": "#ffc9c9"}
_component = st.components.v2.component(
    "workbench_spans", js=Path(__file__).with_name("spans.js").read_text(encoding="utf-8"), isolate_styles=False
)


def flag_name(flag: str) -> str:
    return rubric()["flags"][flag].split(":")[0]


def marked_html(text: str, spans: Sequence[Mapping[str, Any]], item: str = "") -> str:
    """The text exactly as stored (white space kept, nothing rendered), each stretch a span covers in a <mark> that
    names its flags; every piece of text is escaped."""
    cuts = sorted({0, len(text), *(s["start"] for s in spans), *(s["end"] for s in spans)})
    pieces = []
    for start, end in itertools.pairwise(cuts):
        piece = html.escape(text[start:end]).replace("\r", "&#13;")  # the HTML parser would turn a CR into LF
        covering = [s for s in spans if s["start"] <= start and end <= s["end"]]
        if covering:
            severity = "major" if any(s["severity"] == "major" for s in covering) else "minor"
            title = html.escape("; ".join(_describe(s) for s in covering), quote=True)
            style = f"background: {COLOURS[severity]}"
            piece = f'<mark class="wb-mark wb-{severity}" style="{style}" title="{title}">{piece}</mark>'
        pieces.append(piece)
    return (
        f'<div class="wb-spantext" data-wb-item="{html.escape(item, quote=True)}" '
        f'style="white-space: pre-wrap; overflow-wrap: anywhere">{"".join(pieces)}</div>'
    )


def _describe(span: Mapping[str, Any]) -> str:
    note = f": {span['note']}" if span.get("note") else ""
    return f"{flag_name(span['label'])}, {span['severity']}{note}"


def show_marked(
    text: str, spans: Sequence[Mapping[str, Any]], key: str | None = None, item: str = "", style: str = ""
) -> None:
    """An answer with its error spans marked, in a bordered box (the judging pages cap heights by `key`)."""
    with st.container(border=True, key=key):
        st.html(style + marked_html(text, spans, item))


def span_list(text: str, spans: Sequence[Mapping[str, Any]]) -> str:
    """The spans as Markdown lines (the stretch quoted as code, so that nothing in it renders)."""
    return "\n".join(f"- `{_quoted(text[s['start'] : s['end']])}` {escape_markdown(_describe(s))}" for s in spans)


def flagged_sentence_list(sentences: Sequence[tuple[str, Sequence[str]]]) -> str:
    """An answer's flagged sentences as Markdown lines, each with its flags (the sentence escaped: shown as text)."""
    return "\n".join(
        f"- {escape_markdown(sentence)} ({', '.join(flag_name(flag) for flag in flags)})"
        for sentence, flags in sentences
    )


def _quoted(stretch: str) -> str:
    stretch = " ".join(stretch.split()).replace("`", "'")
    return stretch if len(stretch) <= 60 else stretch[:57] + "..."


def spans_key(prefix: str) -> str:
    return f"{prefix}-spans"


def read_spans(prefix: str) -> tuple[Span, ...]:
    return tuple(st.session_state.get(spans_key(prefix)) or ())


def span_editor(text: str, prefix: str, initial: Sequence[Span] = (), key: str | None = None) -> None:
    """The answer with its spans marked, a bar to mark a selected stretch, and the spans with a remove button each."""
    st.session_state.setdefault(spans_key(prefix), list(initial))
    spans: list[Span] = st.session_state[spans_key(prefix)]
    keys = {flag: {"key": SPAN_KEYS[flag], "name": flag_name(flag), "short": SHORT[flag]} for flag in FLAGS}
    _component(
        key=f"{prefix}-spanner",
        data={"item": prefix, "flags": keys, "severities": SEVERITY_KEYS},
        on_span_change=partial(_add, text, prefix),
        height="content",
    )
    if refused := st.session_state.pop(f"{prefix}-span_refused", None):
        st.error(refused, icon=":material/error:")
    if spans:
        with st.container(horizontal=True, gap="small", key=f"{prefix}-span-list"):
            for number, span in enumerate(spans):
                st.button(
                    escape_markdown(
                        f"{_quoted(text[span.start : span.end])[:24]} · {SHORT[span.label]}, {span.severity}"
                    ),
                    key=f"{prefix}-span-remove-{number}",
                    icon=":material/close:",
                    help=f"Remove this span: {escape_markdown(_describe(span.stored()))}",
                    on_click=_remove,
                    args=(prefix, number),
                )
    # the editor's own element draws nothing in place (its bar floats): it takes no room, not even the gap after it
    style = f"<style>.st-key-{prefix}-spanner {{ margin-bottom: -1rem; }}</style>"
    show_marked(text, [span.stored() for span in spans], key=key, item=prefix, style=style)


def _add(text: str, prefix: str) -> None:
    """A span the editor sent: kept if it fits the answer and the other spans, else refused with the reason."""
    state = st.session_state.get(f"{prefix}-spanner") or {}
    sent = state.get("span") if isinstance(state, Mapping) else getattr(state, "span", None)
    if not isinstance(sent, Mapping):
        return
    try:
        span = Span(
            int(sent["start"]), int(sent["end"]), str(sent["label"]), str(sent["severity"]), str(sent.get("note") or "")
        )
    except (KeyError, TypeError, ValueError):
        st.session_state[f"{prefix}-span_refused"] = "The span was not marked: select a stretch of the answer first."
        return
    spans = st.session_state.setdefault(spans_key(prefix), [])
    if problems := span_problems([*spans, span], text):
        st.session_state[f"{prefix}-span_refused"] = "The span was not marked: " + "; ".join(problems) + "."
        return
    spans.append(span)
    spans.sort()


def _remove(prefix: str, number: int) -> None:
    spans = st.session_state.get(spans_key(prefix)) or []
    if 0 <= number < len(spans):
        del spans[number]
