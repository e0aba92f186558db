"""Ratings with error spans in Label Studio's JSON format (data/labelstudio/rating.xml): a `ratings` row (the import
format, ../shared/FORMATS.md) as a task with its annotation, and such tasks read back into `ratings` rows. A span is a
`labels` result on the answer (`start`, `end`: code points, as Label Studio stores them since 1.6), with its severity
and note as per-region results of the same region id. What comes back is checked by the ratings importer's schema,
so a span is held to the same rules as one made in the app.

Not wired into a command yet: `import labelstudio` and `labelstudio push`/`pull` still serve moderation only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from core.ingest.schemas import RatingRow
from core.store.models import RUBRIC

ANSWER = "answer"  # the <Text> tag the spans and scores are on
SPANS, SEVERITY, NOTE, FLAGS, RATIONALE = "spans", "severity", "note", "flags", "rationale"


def _region(number: int) -> str:
    return f"span-{number}"


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
        "data": {"prompt_id": row["prompt_id"], "prompt": row["prompt"], ANSWER: answer},
        "meta": {"model": row["model"]},
        "annotations": [{"completed_by": {"username": row["reviewer"]}, "result": result}],
    }


def _result(name: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"from_name": name, "to_name": ANSWER, "type": kind, "value": value}


def rating_rows(tasks: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Tasks back into `ratings` rows, one per annotation that was not skipped; the problems name the task and field
    (a task with a problem gives no row)."""
    rows, problems = [], []
    for index, task in enumerate(tasks, start=1):
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            row = _row(task, annotation)
            try:
                RatingRow.model_validate(row)
            except ValidationError as error:
                problems += [
                    f"task {index} (id {task.get('id')}), field {'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in error.errors(include_url=False)
                ]
                continue
            rows.append(row)
    return rows, problems


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
