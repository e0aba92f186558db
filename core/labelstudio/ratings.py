"""Ratings with error spans in Label Studio's JSON format (data/labelstudio/rating.xml): a `ratings` row (the import
format, ../shared/FORMATS.md) as a task with its annotation, and such tasks read back into `ratings` rows. A span is a
`labels` result on the answer (`start`, `end`: code points, as Label Studio stores them since 1.6), with its severity
and note as per-region results of the same region id. What comes back is checked by the ratings importer's schema,
so a span is held to the same rules as one made in the app. The task's `turns` are the conversation up to the answer
(ending with the question), shown as a dialogue; the model is in the task's `meta`, which annotators do not see.
`export labelstudio --queue rating`, `labelstudio push`/`pull` and `import labelstudio` come through here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from core.ingest.schemas import RatingRow, Turn, turns_problem
from core.store.models import RUBRIC

ANSWER = "answer"  # the <Text> tag the spans and scores are on
TURNS = "turns"  # the <Paragraphs> dialogue: the conversation up to the answer
SPANS, SEVERITY, NOTE, FLAGS, RATIONALE = "spans", "severity", "note", "flags", "rationale"


def _region(number: int) -> str:
    return f"span-{number}"


def task_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The task of an answer to rate (no annotation): `row` as a `ratings` row, with the earlier `turns` if any."""
    turns = [*(row.get("turns") or []), {"role": "user", "text": row["prompt"]}]
    data = {"prompt_id": row["prompt_id"], "prompt": row["prompt"], TURNS: turns, ANSWER: row["response"]}
    if row.get("response_id"):
        data["response_id"] = row["response_id"]  # our answer's id: how a push knows the tasks a project holds
    return {"data": data, "meta": {"model": row["model"]}}


def rating_task(row: Mapping[str, Any], task_id: int) -> dict[str, Any]:
    """One `ratings` row as a Label Studio task with its annotation (the model in `meta`: not shown to annotators)."""
    answer = row["response"]
    result: list[dict[str, Any]] = [
        {"from_name": name, "to_name": ANSWER, "type": "rating", "value": {"rating": row[name]}} for name in RUBRIC
    ]
    if row.get("flags"):
        result.append(_result(FLAGS, "choices", {"choices": sorted(row["flags"])}))
    if row.get("rationale"):
        result.append(_result(RATIONALE, "textarea", {"text": [row["rationale"]]}))
    for number, span in enumerate(row.get("spans") or [], start=1):
        where = {"start": span["start"], "end": span["end"]}
        region = {"id": _region(number)}
        text = answer[span["start"] : span["end"]]
        result.append(region | _result(SPANS, "labels", where | {"text": text, "labels": [span["label"]]}))
        result.append(region | _result(SEVERITY, "choices", where | {"choices": [span["severity"]]}))
        if span.get("note"):
            result.append(region | _result(NOTE, "textarea", where | {"text": [span["note"]]}))
    return {
        "id": task_id,
        **task_of(row),
        "annotations": [{"completed_by": {"username": row["reviewer"]}, "result": result}],
    }


def _result(name: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"from_name": name, "to_name": ANSWER, "type": kind, "value": value}


def is_rating_task(task: Any) -> bool:
    return isinstance(task, Mapping) and isinstance(task.get("data"), Mapping) and ANSWER in task["data"]


def rating_rows(tasks: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Tasks back into `ratings` rows, one per annotation that was not skipped; the problems name the task and field
    (a task with a problem gives no row)."""
    rows, problems = [], []
    for index, task in enumerate(tasks, start=1):
        found, wrong = task_rows(task)
        rows += found
        problems += [f"task {index} (id {task.get('id')}), field {field}: {message}" for field, message in wrong]
    return rows, problems


def task_rows(task: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One task's annotations that were not skipped as `ratings` rows, and its problems as (field, message): its
    `turns` are checked as a conversation's are."""
    rows, problems = [], _turn_problems(task.get("data") or {})
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled"):
            continue
        row = _row(task, annotation)
        try:
            RatingRow.model_validate(row)
        except ValidationError as error:
            problems += [(".".join(map(str, e["loc"])), e["msg"]) for e in error.errors(include_url=False)]
            continue
        rows.append(row)
    return ([] if problems else rows), problems


def _turn_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    if data.get(TURNS) is None:
        return []
    try:
        turns = TypeAdapter(list[Turn]).validate_python(data[TURNS])
    except ValidationError as error:
        return [(".".join(map(str, ("data", TURNS, *e["loc"]))), e["msg"]) for e in error.errors(include_url=False)]
    problem = turns_problem(turns, data.get("prompt"))
    return [(f"data.{TURNS}", problem)] if problem else []


def _row(task: Mapping[str, Any], annotation: Mapping[str, Any]) -> dict[str, Any]:
    data, who = task.get("data") or {}, annotation.get("completed_by") or {}
    row: dict[str, Any] = {
        "prompt_id": data.get("prompt_id"),
        "prompt": data.get("prompt"),
        "model": (task.get("meta") or {}).get("model"),
        "response": data.get(ANSWER),
        "reviewer": who.get("username")
        or who.get("email")
        or (f"labelstudio-user-{who['id']}" if "id" in who else None),
    }
    # when the annotator made and last changed it, where Label Studio says (the importer: an older export changes
    # nothing)
    row |= {name: annotation[name] for name in ("created_at", "updated_at") if annotation.get(name)}
    regions: dict[str, dict[str, Any]] = {}
    for result in annotation.get("result") or []:
        name, value = result.get("from_name"), result.get("value") or {}
        if name in RUBRIC:
            row[name] = value.get("rating")
        elif name == FLAGS:
            row["flags"] = value.get("choices") or []
        elif name == RATIONALE:
            row["rationale"] = "\n".join(value.get("text") or [])
        elif name in (SPANS, SEVERITY, NOTE):
            span = regions.setdefault(str(result.get("id")), {"start": value.get("start"), "end": value.get("end")})
            if name == SPANS:
                span["label"] = (value.get("labels") or [None])[0]
            elif name == SEVERITY:
                span["severity"] = (value.get("choices") or [None])[0]
            else:
                span["note"] = "\n".join(value.get("text") or [])
    if regions:
        row["spans"] = list(regions.values())
    return row
