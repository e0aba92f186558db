"""One pydantic model per import row: the field names are fixed by ../shared/FORMATS.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.review.spans import Span, span_problems
from core.store.models import CATEGORIES, FLAGS, RUBRIC
from core.text import TEXT_LIMIT

Text = Annotated[str, Field(min_length=1)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
Score = Annotated[int, Field(ge=1, le=5)]
Bit = Annotated[int, Field(ge=0, le=1)]
Note = Annotated[str, Field(max_length=TEXT_LIMIT)]  # a rationale or note: the limit of the app's forms
# Metadata is the user's own, stored as given: stripping its keys merged " language" into "language" (one value lost).
Meta = dict[Annotated[str, StringConstraints(strip_whitespace=False)], Any]


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC) if value is not None else None


When = Annotated[datetime | None, AfterValidator(_as_utc)]


def _known(allowed: tuple[str, ...]) -> Any:
    known = frozenset(allowed)

    def check(values: list[str]) -> list[str]:
        if not known.issuperset(values):
            unknown = sorted(set(values) - known)
            raise ValueError(f"unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        return sorted(set(values))

    return AfterValidator(check)


Flags = Annotated[list[str], _known(FLAGS)]
Categories = Annotated[list[str], _known(CATEGORIES)]


def _known_dimensions(values: dict[str, str]) -> dict[str, str]:
    if unknown := sorted(set(values) - set(RUBRIC)):
        raise ValueError(f"unknown dimension(s) {', '.join(unknown)}; allowed: {', '.join(RUBRIC)}")
    return values


# A comparison's preference per rubric dimension, in the row's a/b order as `choice` (no "both_bad": that is overall)
Dimensions = Annotated[dict[str, Literal["a", "b", "tie"]], AfterValidator(_known_dimensions)]


class Row(BaseModel):
    """Mutable defaults are `default_factory`: pydantic deep-copies a literal `[]` or `{}` default for every row,
    which cost about a quarter of the validation time of a large file."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ResponseIn(Row):
    response_id: Id
    model: Id
    text: Text


class Turn(Row):
    role: Literal["user", "assistant"]
    text: Text


def turns_problem(turns: list[Turn] | None, prompt: str) -> str | None:
    """Why `turns` (None: a one-turn conversation) do not end with the user's question that `prompt` holds."""
    last = turns[-1] if turns else None
    if turns is not None and (last is None or last.role != "user" or last.text != prompt):
        return (
            "the last turn must be the user's question that `prompt` holds "
            '({"role": "user", "text": <the prompt>}); leave turns out for a one-turn conversation'
        )
    return None


class ConversationRow(Row):
    prompt_id: Id
    prompt: Text
    topic: str | None = None
    turns: list[Turn] | None = None  # the conversation up to the judged answer, ending with the user's `prompt`
    responses: list[ResponseIn] = Field(min_length=1)
    created_at: When = None

    @model_validator(mode="after")
    def _turns_end_with_the_prompt(self) -> ConversationRow:
        if problem := turns_problem(self.turns, self.prompt):
            raise ValueError(f"turns: {problem}")
        return self

    def earlier_turns(self) -> list[dict[str, str]]:
        """The turns before the question, as the store keeps them."""
        return [turn.model_dump() for turn in (self.turns or [])[:-1]]


class ModerationRow(Row):
    item_id: Id
    text: Text
    model: Id
    score: float = Field(ge=0, le=1, allow_inf_nan=False)
    predicted_label: Literal["toxic", "not_toxic"]
    categories: Categories = Field(default_factory=list)
    meta: Meta = Field(default_factory=dict)
    created_at: When = None


class SpanIn(Row):
    """An error span as a file holds it; core.review.spans checks it (the same rules as the app's form)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)
    start: int
    end: int
    label: str
    severity: str
    note: Note = ""


class RatingRow(Row):
    prompt_id: Id
    prompt: Text
    model: Id
    response: Text
    reviewer: Id
    helpfulness: Score
    harmlessness: Score
    accuracy: Score
    flags: Flags = Field(default_factory=list)
    rationale: Note = ""
    spans: list[SpanIn] = Field(default_factory=list)  # code-point offsets into `response` as stored
    created_at: When = None

    @field_validator("spans")
    @classmethod
    def _spans_fit_the_response(cls, spans: list[SpanIn], info: ValidationInfo) -> list[SpanIn]:
        if problems := span_problems(cls.span_values(spans), info.data.get("response")):
            raise ValueError("; ".join(problems))
        return spans

    @staticmethod
    def span_values(spans: list[SpanIn]) -> tuple[Span, ...]:
        return tuple(Span(s.start, s.end, s.label, s.severity, s.note) for s in spans)


class ComparisonRow(Row):
    prompt_id: Id
    prompt: Text
    model_a: Id
    response_a: Text
    model_b: Id
    response_b: Text
    choice: Literal["a", "b", "tie", "both_bad"]
    reviewer: Id
    strength: Literal["slight", "clear", "strong"] | None = None
    dimensions: Dimensions = Field(default_factory=dict)
    rationale: Note = ""
    created_at: When = None


class LabelRow(Row):
    item_id: Id
    text: Text
    annotator: Id
    label: Literal["toxic", "not_toxic"]
    categories: Categories = Field(default_factory=list)
    note: Note = ""
    created_at: When = None


HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):")
HH_ROLES = {"Human": "user", "Assistant": "assistant"}


class HHRow(Row):
    """Anthropic HH-RLHF: two transcripts that share every turn but the last Assistant turn."""

    model_config = ConfigDict(str_strip_whitespace=False)  # the turn markers start with blank lines
    chosen: Text
    rejected: Text

    @field_validator("chosen", "rejected")
    @classmethod
    def _has_assistant_turn(cls, value: str) -> str:
        if "\n\nAssistant:" not in value or "Human:" not in value:
            raise ValueError("expected a transcript of '\\n\\nHuman: ...' and '\\n\\nAssistant: ...' turns")
        return value

    @model_validator(mode="after")
    def _same_prompt(self) -> HHRow:
        self.split()
        return self

    def conversation(self) -> tuple[list[dict[str, str]], str]:
        """The shared transcript as (the turns before the last Human turn, that turn's text); a transcript that does
        not end with a Human turn stays one question."""
        transcript = self.split()[0]
        marks = HH_TURN.split(transcript)  # [text before the first mark, role, text, role, text, ...]
        pairs = zip(marks[1::2], marks[2::2], strict=True)  # re.split gives a text after every mark
        turns = [{"role": HH_ROLES[role], "text": text.strip()} for role, text in pairs]
        if marks[0].strip() or not turns or turns[-1]["role"] != "user":
            return [], transcript
        return turns[:-1], turns[-1]["text"]

    def split(self) -> tuple[str, str, str]:
        """(shared prompt transcript, chosen answer, rejected answer)."""
        prompt_c, _, chosen = self.chosen.rpartition("\n\nAssistant:")
        prompt_r, _, rejected = self.rejected.rpartition("\n\nAssistant:")
        if prompt_c != prompt_r:
            raise ValueError("chosen and rejected differ before their last Assistant turn")
        return prompt_c.strip(), chosen.strip(), rejected.strip()


class JigsawRow(Row):
    id: Id
    comment_text: Text
    toxic: Bit
    severe_toxic: Bit
    obscene: Bit
    threat: Bit
    insult: Bit
    identity_hate: Bit


METRIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class ExperimentEventRow(Row):
    """One unit of an online experiment: its variant and its outcomes, each metric a field of its own (0 or 1)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    __pydantic_extra__: dict[str, Bit]
    experiment: Id
    unit_id: Id
    variant: Id
    at: Annotated[datetime, AfterValidator(_as_utc)]

    @model_validator(mode="after")
    def _has_metrics(self) -> ExperimentEventRow:
        if not self.metrics():
            raise ValueError('no outcome: add at least one metric field, e.g. "thumbs_up": 1')
        bad = [name for name in self.metrics() if not METRIC_NAME.match(name)]
        if bad:
            raise ValueError(
                f"metric name(s) {', '.join(map(repr, bad))}: use letters, digits, _ . - (start with a letter)"
            )
        return self

    def metrics(self) -> dict[str, int]:
        return dict(self.__pydantic_extra__ or {})
