"""The four judging forms (rate, compare, label, adjudicate): compact controls that each show their hotkey, what a
submission reads back from them, and the keys each page lists in its cheat sheet.

Every widget is keyed `{prefix}-{field}`: app/hotkeys.js finds the controls by those keys."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from app.spans import SEVERITY_KEYS, SPAN_KEYS, flag_name, read_spans
from core.moderation.labels import AdjudicationIn, LabelIn
from core.review.guidelines import rubric
from core.review.judgments import SIDES, ComparisonIn, RatingIn
from core.store.models import CATEGORIES, FLAGS, RUBRIC, STRENGTHS
from core.text import TEXT_LIMIT

CHOICES = {"left": "Left (1)", "right": "Right (2)", "tie": "Tie (3)", "both_bad": "Both bad (4)"}
SIDE_CHOICES = {side: CHOICES[side] for side in SIDES}  # a rubric dimension's preference: no "both bad"
STRENGTH_KEYS = {"slight": "q", "clear": "w", "strong": "e"}
LABELS = {"toxic": "Toxic", "not_toxic": "Not toxic"}
CATEGORY_NAMES = {
    "harassment": "Harassment",
    "hate": "Hate",
    "sexual": "Sexual",
    "violence": "Violence",
    "self_harm": "Self-harm",
    "spam": "Spam",
    "personal_data": "Personal data",
}
# A letter per category, none of them a key the page uses already (s skips, n focuses the note, r the reason).
CATEGORY_KEYS = dict(zip(CATEGORIES, "htxvemp", strict=True))

Judgment = RatingIn | ComparisonIn | LabelIn | AdjudicationIn
REFUSAL_KEY = "review_error"  # (form prefix, text): why the last submission of that form was refused
# Which field a refusal's problem concerns, by the words it uses: the first field whose words it holds, in this order
# (the text to write comes first: "a rationale is required when accuracy is 2 or less" is the rationale's).
FIELD_WORDS = (
    ("rationale", ("rationale",)),
    ("note", ("note",)),
    ("reason", ("reason",)),
    ("categories", ("categor",)),
    ("strength", ("strong", "strength")),
    *((f"dim_{name}", (f"for {name}",)) for name in RUBRIC),  # "choose left, right or tie for accuracy"
    ("choice", ("left, right",)),
    ("label", ("toxic or not toxic",)),
    ("helpfulness", ("helpfulness",)),
    ("harmlessness", ("harmlessness",)),
    ("accuracy", ("accuracy",)),
    ("flags", ("flag",)),
)


class Incomplete(Exception):
    """A submission that misses a required choice: the message says which; nothing is stored."""


@dataclass(frozen=True)
class Form:
    # (prefix, initial values or None, per_dimension): the fields, each with its problems under it; per_dimension:
    # the comparison queue asks a preference per rubric dimension too (the other forms ignore it)
    draw: Callable[[str, Any, bool], None]
    read: Callable[[str], Judgment]  # prefix -> what was entered; raises Incomplete
    keys: tuple[tuple[str, str], ...]  # the page's own keys for the cheat sheet: (key, what it does)
    fields: tuple[str, ...]  # the fields it draws (keys `{prefix}-{field}`)
    dimension_keys: tuple[tuple[str, str], ...] = ()  # the keys instead, when it asks per dimension (comparison)


def sentence(problem: str) -> str:
    """A problem as a sentence: capital first, full stop last."""
    problem = problem.strip()
    return problem[:1].upper() + problem[1:] + ("" if problem.endswith((".", "!", "?")) else ".")


def refusal(prefix: str, fields: tuple[str, ...]) -> tuple[dict[str, list[str]], list[str]]:
    """The form's last refusal as sentences: those about one of its `fields` (by FIELD_WORDS), and the rest."""
    refused = st.session_state.get(REFUSAL_KEY)
    if not refused or refused[0] != prefix:
        return {}, []
    by_field: dict[str, list[str]] = {}
    rest = []
    for problem in refused[1].split("; "):
        lowered = problem.lower()
        field = next((name for name, words in FIELD_WORDS if any(word in lowered for word in words)), None)
        if field not in fields:
            rest.append(sentence(problem))
        else:
            by_field.setdefault(field, []).append(sentence(problem))
    return by_field, rest


def problem_under(prefix: str, field: str) -> None:
    """The refusal's sentences about this field, right under it."""
    for text in refusal(prefix, (field,))[0].get(field, []):
        st.error(text, icon=":material/error:")


def _value(prefix: str, field: str) -> Any:
    return st.session_state.get(f"{prefix}-{field}")


def _anchor_line(dimension: str, prefix: str) -> None:
    """One line under a dimension's buttons: app/hotkeys.js writes the anchor of the hovered or chosen level here."""
    anchors = json.dumps(rubric()[dimension]["anchors"])
    st.html(
        f'<div class="wb-anchor" data-for="{prefix}-{dimension}" data-anchors="{html.escape(anchors, quote=True)}">'
        "&nbsp;</div>"
    )


def _rating_fields(prefix: str, initial: RatingIn | None, _per_dimension: bool = False) -> None:
    for dimension in RUBRIC:
        st.segmented_control(
            f"**{dimension.title()}**",
            options=[1, 2, 3, 4, 5],
            help=rubric()[dimension]["question"],
            default=getattr(initial, dimension) if initial else None,
            key=f"{prefix}-{dimension}",
        )
        _anchor_line(dimension, prefix)
        problem_under(prefix, dimension)
    st.multiselect(
        "Flags (f)",
        options=list(FLAGS),
        default=list(initial.flags) if initial else [],
        format_func=lambda flag: rubric()["flags"][flag].split(":")[0],
        placeholder="None: type to find one, Enter to add it",
        select_all=False,
        wrap=False,
        key=f"{prefix}-flags",
    )
    problem_under(prefix, "flags")
    _free_text(
        "Rationale (r): needed when accuracy is 2 or less or a flag is set",
        prefix,
        "rationale",
        initial.rationale if initial else "",
    )


def _read_rating(prefix: str) -> RatingIn:
    scores = {dimension: _value(prefix, dimension) for dimension in RUBRIC}
    missing = [dimension for dimension, score in scores.items() if score is None]
    if missing:
        names = " and ".join(missing) if len(missing) < 3 else "helpfulness, harmlessness and accuracy"
        raise Incomplete(f"Score every dimension: {names} {'is' if len(missing) == 1 else 'are'} missing.")
    flags = tuple(_value(prefix, "flags") or ())
    return RatingIn(**scores, flags=flags, rationale=_value(prefix, "rationale") or "", spans=read_spans(prefix))


def _comparison_fields(prefix: str, initial: ComparisonIn | None, per_dimension: bool = False) -> None:
    st.segmented_control(
        "**Which answer would you rather give the user?**",
        options=list(CHOICES),
        format_func=CHOICES.get,
        default=initial.preferred if initial else None,
        key=f"{prefix}-choice",
    )
    problem_under(prefix, "choice")
    st.segmented_control(
        "How strong is the preference? (for left or right)",
        options=list(STRENGTHS),
        format_func=lambda strength: f"{strength.title()} ({STRENGTH_KEYS[strength]})",
        default=initial.strength if initial else None,
        key=f"{prefix}-strength",
    )
    problem_under(prefix, "strength")
    if per_dimension:
        _dimension_fields(prefix, initial)
    _free_text("Rationale (r)", prefix, "rationale", initial.rationale if initial else "")


def _dimension_fields(prefix: str, initial: ComparisonIn | None) -> None:
    """Left, right or tie for each rubric dimension: after the overall choice, digits answer the next one (▸)."""
    for dimension in RUBRIC:
        st.segmented_control(
            f"{dimension.title()}: the better answer",
            options=list(SIDE_CHOICES),
            format_func=SIDE_CHOICES.get,
            help=rubric()[dimension]["question"],
            default=initial.dimensions.get(dimension) if initial else None,
            key=f"{prefix}-dim_{dimension}",
        )
        problem_under(prefix, f"dim_{dimension}")


def _read_comparison(prefix: str) -> ComparisonIn:
    preferred = _value(prefix, "choice")
    if preferred is None:
        raise Incomplete("Choose left, right, tie or both bad.")
    # only the dimensions answered: the write path refuses a missing one, naming it, when the queue asks for them
    dimensions = {name: side for name in RUBRIC if (side := _value(prefix, f"dim_{name}")) is not None}
    spans = (read_spans(f"{prefix}-left"), read_spans(f"{prefix}-right"))
    return ComparisonIn(preferred, _value(prefix, "strength"), _value(prefix, "rationale") or "", dimensions, spans)


def _label_fields(prefix: str, initial: LabelIn | AdjudicationIn | None, question: str) -> None:
    st.segmented_control(
        f"**{question}**",
        options=list(LABELS),
        format_func=lambda option: f"{LABELS[option]} ({list(LABELS).index(option) + 1})",
        default=initial.label if initial else None,
        key=f"{prefix}-label",
    )
    problem_under(prefix, "label")
    st.pills(
        "Categories (for a toxic item: every one that applies)",
        options=list(CATEGORIES),
        selection_mode="multi",
        format_func=lambda category: f"{CATEGORY_NAMES[category]} ({CATEGORY_KEYS[category]})",
        default=list(initial.categories) if initial else [],
        key=f"{prefix}-categories",
    )
    problem_under(prefix, "categories")


def _moderation_fields(prefix: str, initial: LabelIn | None, _per_dimension: bool = False) -> None:
    _label_fields(prefix, initial, "Is this comment toxic?")
    _free_text("Note (n): optional, why, when the case is close", prefix, "note", initial.note if initial else "")


def _free_text(label: str, prefix: str, name: str, value: str = "") -> None:
    """A rationale, note or reason: at most TEXT_LIMIT characters, with Streamlit's counter as the limit nears."""
    st.text_area(label, value=value, height=68, max_chars=TEXT_LIMIT, key=f"{prefix}-{name}")
    problem_under(prefix, name)


def _read_label(prefix: str) -> LabelIn:
    return LabelIn(_value(prefix, "label"), tuple(_value(prefix, "categories") or ()), _value(prefix, "note") or "")


def _adjudication_fields(prefix: str, initial: AdjudicationIn | None, _per_dimension: bool = False) -> None:
    _label_fields(prefix, initial, "Final label")
    _free_text("Reason (r): required, it is kept with the decision", prefix, "reason")


def _read_adjudication(prefix: str) -> AdjudicationIn:
    return AdjudicationIn(
        _value(prefix, "label"), tuple(_value(prefix, "categories") or ()), _value(prefix, "reason") or ""
    )


_CATEGORY_KEY_LINE = (
    " ".join(CATEGORY_KEYS.values()),
    "toggle a category: " + ", ".join(f"{key} {CATEGORY_NAMES[c].lower()}" for c, key in CATEGORY_KEYS.items()),
)

_SPAN_KEY_LINE = (
    " ".join(SPAN_KEYS.values()),
    "mark the stretch selected in an answer: " + ", ".join(f"{k} {flag_name(f).lower()}" for f, k in SPAN_KEYS.items()),
)
_SEVERITY_KEY_LINE = (
    " ".join(SEVERITY_KEYS.values()),
    "then its severity: minor, major (n: a note first, Esc: cancel)",
)

FORMS: dict[str, Form] = {
    "rating": Form(
        _rating_fields,
        _read_rating,
        (
            ("1 – 5", "score the active dimension (▸) and move to the next"),
            ("↑ ↓", "change the active dimension"),
            ("f", "open the flags"),
            ("r", "write the rationale"),
            _SPAN_KEY_LINE,
            _SEVERITY_KEY_LINE,
        ),
        (*RUBRIC, "flags", "rationale"),
    ),
    "comparison": Form(
        _comparison_fields,
        _read_comparison,
        (
            ("1 2 3 4", "left is better, right is better, tie, both bad"),
            ("q w e", "slight, clear, strong preference"),
            ("r", "write the rationale"),
            _SPAN_KEY_LINE,
            _SEVERITY_KEY_LINE,
        ),
        ("choice", "strength", *(f"dim_{name}" for name in RUBRIC), "rationale"),
        (
            ("1 2 3 4", "answer the active question (▸), then move to the next: overall left, right, tie, both bad"),
            ("1 2 3", "then each dimension (helpfulness, harmlessness, accuracy): left, right, tie"),
            ("↑ ↓", "change the active question"),
            ("q w e", "slight, clear, strong preference"),
            ("r", "write the rationale"),
        ),
    ),
    "moderation": Form(
        _moderation_fields,
        _read_label,
        (("1 2", "toxic, not toxic"), _CATEGORY_KEY_LINE, ("n", "write the note")),
        ("label", "categories", "note"),
    ),
    "adjudication": Form(
        _adjudication_fields,
        _read_adjudication,
        (("1 2", "toxic, not toxic"), _CATEGORY_KEY_LINE, ("r", "write the reason")),
        ("label", "categories", "reason"),
    ),
}

COMMON_KEYS = (
    ("Enter", "submit"),
    ("Ctrl/⌘ + Enter", "submit, even while typing"),
    ("s", "skip"),
    ("u", "change my last judgment"),
    ("Esc", "leave a text field"),
    ("?", "show these keys"),
)
