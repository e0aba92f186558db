"""Error spans: one set of rules for the form and the importer, code-point offsets (emoji, right-to-left text), the
flag a span implies, the audit trail, and the JSONL round trip."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.cli.main import main
from core.ingest import ImportRefused, import_file
from core.labelstudio.ratings import rating_rows, rating_task
from core.oversight.samples import draw_sample
from core.review import queues
from core.review.judgments import FeedbackError, RatingIn, change_rating, submit_rating
from core.review.spans import Span, flagged_sentences, span_problems
from core.store.db import session_scope
from core.store.models import AuditEvent, Rating, Response
from tests.app_helpers import add_users
from tests.review_store import build
from tests.test_audit_pages import open_page

EMOJI = "Hi 👋 the deadline is 31 May."  # the emoji is one code point, two UTF-16 units
RTL = "الموعد النهائي هو 31 مايو"  # Arabic: "the deadline is 31 May"


def rating_row(response: str, spans: list[dict], reviewer: str = "rev") -> dict:
    return {"prompt_id": "p1", "prompt": "When is the deadline?", "model": "bot-v1", "response": response} | {
        "reviewer": reviewer,
        "helpfulness": 3,
        "harmlessness": 5,
        "accuracy": 2,
        "rationale": "wrong date",
        "spans": spans,
    }


def write(tmp_path, rows: list[dict]):
    path = tmp_path / "ratings.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_span_offsets_count_code_points():
    start = EMOJI.index("31 May")
    assert (start, EMOJI[start : start + 6]) == (21, "31 May")  # 22 in UTF-16: the emoji counts two there
    assert span_problems([Span(start, start + 6, "incorrect", "major")], EMOJI) == []
    assert span_problems([Span(start, len(EMOJI) + 1, "incorrect", "major")], EMOJI) == [
        f"span 1 ({start}-{len(EMOJI) + 1}): end is beyond the answer, which is {len(EMOJI)} characters long"
    ]


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        (Span(5, 5, "incorrect", "minor"), "start must be at least 0 and less than end"),
        (Span(6, 2, "incorrect", "minor"), "start must be at least 0 and less than end"),
        (Span(0, 2, "wrong", "minor"), "unknown label 'wrong'"),
        (Span(0, 2, "incorrect", "huge"), "unknown severity 'huge'"),
    ],
)
def test_a_bad_span_is_refused_with_the_reason(span, reason):
    (problem,) = span_problems([span], EMOJI)
    assert problem.startswith(f"span 1 ({span.start}-{span.end}): {reason}")


def test_overlapping_spans_of_one_label_are_refused_but_not_of_two():
    one, other = Span(0, 10, "incorrect", "minor"), Span(5, 12, "incorrect", "major")
    assert span_problems([one, other], EMOJI) == [
        "span 1 and span 2 overlap with the same label 'incorrect': join them into one"
    ]
    assert span_problems([one, Span(5, 12, "unsafe", "major")], EMOJI) == []
    assert span_problems([one, Span(10, 12, "incorrect", "major")], EMOJI) == []  # touching is not overlapping


def test_a_span_implies_its_flag_and_so_a_rationale():
    span = Span(0, 2, "hallucinated_source", "minor")
    assert RatingIn(4, 5, 4, spans=(span,)).problems() == [
        "a rationale is required when accuracy is 2 or less or a flag is set"
    ]
    values = RatingIn(4, 5, 4, ("incorrect",), "made up", (span,)).values()
    assert values["flags"] == ["hallucinated_source", "incorrect"]
    assert values["spans"] == [{"start": 0, "end": 2, "label": "hallucinated_source", "severity": "minor"}]


def test_a_rating_with_a_span_is_stored_and_audited_and_one_beyond_the_answer_refused(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    with session_scope(engine, write=True) as s:
        lease = queues.next_item(s, queue="rating", user_id=users["expert0"])
        answer = s.get(Response, lease.subject_id).text
    beyond = RatingIn(3, 5, 2, (), "wrong", (Span(0, len(answer) + 1, "incorrect", "major"),))
    with pytest.raises(FeedbackError, match="end is beyond the answer"), session_scope(engine, write=True) as s:
        submit_rating(s, user_id=users["expert0"], assignment_id=lease.assignment_id, rating=beyond)
    span = Span(0, 2, "incorrect", "major", " the version ")
    with session_scope(engine, write=True) as s:
        rating_id = submit_rating(
            s, user_id=users["expert0"], assignment_id=lease.assignment_id, rating=RatingIn(3, 5, 2, (), "x", (span,))
        )
    with session_scope(engine) as s:
        rating = s.get(Rating, rating_id)
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.create")).scalars()
    stored = [{"start": 0, "end": 2, "label": "incorrect", "severity": "major", "note": "the version"}]
    assert (rating.spans, rating.flags, event.after["spans"]) == (stored, ["incorrect"], stored)
    with session_scope(engine, write=True) as s:  # a change keeps the old spans in the trail
        change_rating(s, user_id=users["expert0"], rating_id=rating_id, rating=RatingIn(3, 5, 2, (), "x"))
    with session_scope(engine) as s:
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalars()
        assert (s.get(Rating, rating_id).spans, event.before["spans"], event.after["spans"]) == ([], stored, [])


def test_spans_import_with_emoji_and_right_to_left_text_as_given(engine, tmp_path):
    deadline = EMOJI.index("31 May")
    rtl = RTL.index("31")
    rows = [
        rating_row(EMOJI, [{"start": deadline, "end": deadline + 6, "label": "incorrect", "severity": "major"}]),
        rating_row(RTL, [{"start": rtl, "end": len(RTL), "label": "incorrect", "severity": "minor", "note": "خطأ"}])
        | {"prompt_id": "p2"},
    ]
    import_file(write(tmp_path, rows), "ratings", engine=engine)
    with session_scope(engine) as s:
        stored = {
            text: (spans, flags)
            for text, spans, flags in s.execute(
                select(Response.text, Rating.spans, Rating.flags).join(Response, Response.id == Rating.response_id)
            )
        }
    assert stored == {
        EMOJI: ([{"start": deadline, "end": deadline + 6, "label": "incorrect", "severity": "major"}], ["incorrect"]),
        RTL: (
            [{"start": rtl, "end": len(RTL), "label": "incorrect", "severity": "minor", "note": "خطأ"}],
            ["incorrect"],
        ),
    }
    assert EMOJI[deadline : deadline + 6] == "31 May" and RTL[rtl:] == "31 مايو"


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        ({"start": 0, "end": 99, "label": "incorrect", "severity": "major"}, "end is beyond the answer"),
        ({"start": 4, "end": 4, "label": "incorrect", "severity": "major"}, "start must be at least 0 and less than"),
        ({"start": 0, "end": 2, "label": "typo", "severity": "major"}, "unknown label 'typo'"),
        ({"start": 0, "end": 2, "label": "incorrect", "severity": "grave"}, "unknown severity 'grave'"),
        ({"start": "x", "end": 2, "label": "incorrect", "severity": "major"}, "valid integer"),
    ],
)
def test_an_import_with_a_bad_span_is_refused_naming_the_line_and_field(engine, tmp_path, span, reason):
    rows = [rating_row(EMOJI, []), rating_row(EMOJI, [span], reviewer="other")]
    with pytest.raises(ImportRefused) as refused:
        import_file(write(tmp_path, rows), "ratings", engine=engine)
    (line,) = refused.value.lines()
    assert line.startswith("line 2, field spans") and reason in line, line
    with session_scope(engine) as s:
        assert s.execute(select(Rating)).first() is None


def test_an_import_with_overlapping_spans_of_one_label_is_refused(engine, tmp_path):
    spans = [{"start": 0, "end": 6, "label": "unsafe", "severity": "minor"}] * 2
    with pytest.raises(ImportRefused) as refused:
        import_file(write(tmp_path, [rating_row(EMOJI, spans)]), "ratings", engine=engine)
    assert refused.value.lines() == [
        "line 1, field spans: Value error, span 1 and span 2 overlap with the same label 'unsafe': join them into one"
    ]


def test_flagged_sentences_are_the_sentences_a_span_touches():
    text = "You may deduct it. The deadline is 31 May! Keep receipts."
    spans = [{"start": text.index("31"), "end": text.index("31") + 6, "label": "incorrect", "severity": "major"}]
    assert flagged_sentences(text, spans) == [("The deadline is 31 May!", ("incorrect",))]


def test_the_flags_page_and_the_audit_sample_show_the_spans_and_the_flagged_sentences(engine, tmp_path):
    users = add_users(engine)
    text = "You may deduct it. The deadline is 31 May! Keep <b>receipts</b>."
    at = text.index("31 May")
    span = {"start": at, "end": at + 6, "label": "incorrect", "severity": "major", "note": "31 July"}
    row = rating_row(text, [span]) | {"created_at": "2026-11-03T10:00:00Z"}
    import_file(write(tmp_path, [row]), "ratings", engine=engine)
    page = open_page("flags", users["expert"])
    assert not page.exception
    marked = [h.proto.body for h in page.get("html") if "wb-spantext" in h.proto.body]
    assert len(marked) == 1 and ">31 May</mark>" in marked[0] and "&lt;b&gt;receipts&lt;/b&gt;" in marked[0]
    assert "- The deadline is 31 May! (Incorrect tax advice)" in [m.value for m in page.markdown]
    with session_scope(engine, write=True) as s:
        draw_sample(s, month="2026-11", size=1, actor_id=users["expert"].id)
    page = open_page("audit_sample", users["expert"])
    assert not page.exception
    assert any(">31 May</mark>" in h.proto.body for h in page.get("html"))
    assert any("Incorrect tax advice, major: 31 July" in str(m.value) for m in page.markdown)


def spans_of(*triples: tuple[int, int, str]) -> list[dict]:
    return [{"start": start, "end": end, "label": label, "severity": "minor"} for start, end, label in triples]


# Two answers, each rated by kim and bob. Answer 1: kim marks incorrect 0-5 and 10-15 and unsafe 20-25, bob incorrect
# 3-8. Incorrect: kim's 0-5 overlaps bob's 3-8 (1 of her 2 spans matched), bob's 3-8 overlaps kim's 0-5 (1 of 1).
# Unsafe: kim's one span, bob none: 0 of 1. Answer 2: kim incorrect 0-4, bob 2-6: both matched, 2 of 2.
# Incorrect: (1 + 1 + 2) / (2 + 1 + 2) = 0.8 over 2 pairs, 2 answers, 5 spans; unsafe: 0 / 1 = 0.0 over 1 pair.
HAND = {
    "incorrect": {"f1": 0.8, "n_answers": 2, "n_pairs": 2, "n_spans": 5},
    "unsafe": {"f1": 0.0, "n_answers": 1, "n_pairs": 1, "n_spans": 1},
    "non_compliant": {"f1": None, "n_answers": 0, "n_pairs": 0, "n_spans": 0},
}


def test_span_agreement_in_the_audit_report_matches_the_hand_computed_example(any_engine, tmp_path, capsys):
    answer = "0123456789abcdefghijklmnopqrstuvwxyz"
    rows = [
        rating_row(answer, spans_of((0, 5, "incorrect"), (10, 15, "incorrect"), (20, 25, "unsafe")), "kim"),
        rating_row(answer, spans_of((3, 8, "incorrect")), "bob"),
        rating_row(answer, spans_of((0, 4, "incorrect")), "kim") | {"prompt_id": "p2"},
        rating_row(answer, spans_of((2, 6, "incorrect")), "bob") | {"prompt_id": "p2"},
        rating_row(answer, spans_of((0, 36, "incorrect")), "cyd") | {"prompt_id": "p3"},  # alone on its answer
    ]
    import_file(write(tmp_path, rows), "ratings", engine=any_engine)
    add_users(any_engine)
    assert main(["report", "audit", "--format", "json", "--as", "ada"]) == 0
    report = json.loads(capsys.readouterr().out)["span_agreement"]
    assert {label: report[label] for label in HAND} == HAND


def test_ratings_with_spans_go_to_label_studio_tasks_and_come_back_as_they_were(engine, tmp_path):
    deadline, rtl = EMOJI.index("31 May"), RTL.index("31")
    rows = [
        rating_row(EMOJI, [{"start": deadline, "end": deadline + 6, "label": "incorrect", "severity": "major"}])
        | {"flags": ["incorrect"]},
        rating_row(
            RTL,
            [
                {"start": 0, "end": 6, "label": "unsafe", "severity": "minor"},
                {"start": rtl, "end": len(RTL), "label": "incorrect", "severity": "minor", "note": "خطأ"},
            ],
        )
        | {"prompt_id": "p2", "reviewer": "other"},
    ]
    tasks = json.loads(json.dumps([rating_task(row, n) for n, row in enumerate(rows, start=1)]))
    region = tasks[0]["annotations"][0]["result"][-2]
    assert region == {
        "id": "span-1",
        "from_name": "spans",
        "to_name": "answer",
        "type": "labels",
        "value": {"start": deadline, "end": deadline + 6, "text": "31 May", "labels": ["incorrect"]},
    }
    assert "model" not in tasks[0]["data"]  # annotators never see which model wrote the answer
    back, problems = rating_rows(tasks)
    assert (back, problems) == (rows, [])
    import_file(write(tmp_path, back), "ratings", engine=engine)
    with session_scope(engine) as s:
        assert sorted(len(spans) for spans in s.execute(select(Rating.spans)).scalars()) == [1, 2]


def test_a_label_studio_span_beyond_the_answer_is_refused_naming_the_task_and_field():
    task = rating_task(rating_row(EMOJI, [{"start": 0, "end": 2, "label": "unsafe", "severity": "minor"}]), 7)
    task["annotations"][0]["result"][-2]["value"]["end"] = 99
    task["annotations"][0]["result"][-1]["value"]["choices"] = ["huge"]
    rows, problems = rating_rows([task])
    assert rows == [] and len(problems) == 1
    assert problems[0].startswith("task 1 (id 7), field spans: Value error, span 1 (0-99): unknown severity 'huge'")
    assert "end is beyond the answer" in problems[0]
