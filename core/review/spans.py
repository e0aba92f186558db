"""Error spans: a stretch of an answer tagged with a rating flag and a severity. Offsets count Unicode code points
(Python str indexes) into the answer's stored text, `start < end <= len(text)`. One set of rules for the app's form
and the importer (`span_problems`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.store.models import FLAGS, SEVERITIES
from core.text import text_problems


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: str
    severity: str = "minor"
    note: str = ""

    def stored(self) -> dict[str, Any]:
        """As the store, the files and the audit trail hold it: `note` only when there is one."""
        row = {"start": self.start, "end": self.end, "label": self.label, "severity": self.severity}
        return row | ({"note": self.note.strip()} if self.note.strip() else {})

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Span:
        """A stored span (a dict of the store or a file)."""
        return cls(row["start"], row["end"], row["label"], row["severity"], row.get("note") or "")


def span_problems(spans: Iterable[Span], text: str | None) -> list[str]:
    """What is wrong with the spans of an answer (`text`; None: the offsets are not checked against it), each
    problem naming the span (its number, from 1, and offsets)."""
    spans, found = list(spans), []
    for number, span in enumerate(spans, start=1):
        where = f"span {number} ({span.start}-{span.end})"
        if span.label not in FLAGS:
            found.append(f"{where}: unknown label {span.label!r}; allowed: {', '.join(FLAGS)}")
        if span.severity not in SEVERITIES:
            found.append(f"{where}: unknown severity {span.severity!r}; allowed: {', '.join(SEVERITIES)}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (span.start, span.end)):
            found.append(f"{where}: start and end must be whole numbers")
            continue
        if span.start < 0 or span.start >= span.end:
            found.append(f"{where}: start must be at least 0 and less than end")
        elif text is not None and span.end > len(text):
            found.append(f"{where}: end is beyond the answer, which is {len(text)} characters long")
        found += [f"{where}: {problem}" for problem in text_problems("note", span.note)]
    for (one, a), (other, b) in _same_label_pairs(spans):
        if isinstance(a.start, int) and isinstance(b.start, int) and a.start < b.end and b.start < a.end:
            found.append(f"span {one} and span {other} overlap with the same label {a.label!r}: join them into one")
    return found


def _same_label_pairs(spans: list[Span]) -> Iterable[tuple[tuple[int, Span], tuple[int, Span]]]:
    numbered = list(enumerate(spans, start=1))
    for i, (one, a) in enumerate(numbered):
        for other, b in numbered[i + 1 :]:
            if a.label == b.label:
                yield (one, a), (other, b)


def stored_spans(spans: Iterable[Span]) -> list[dict[str, Any]]:
    """Spans as the store keeps them, in order of the text."""
    return [span.stored() for span in sorted(spans, key=lambda s: (s.start, s.end, s.label))]


SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


def flagged_sentences(text: str, spans: Iterable[Mapping[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """The sentences of `text` that a span touches, in order, each with the labels of the spans on it."""
    spans, found = list(spans), []
    for match in SENTENCE.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        labels = sorted({s["label"] for s in spans if s["start"] < end and start < s["end"]})
        if labels and match.group().strip():
            found.append((match.group().strip(), tuple(labels)))
    return found
