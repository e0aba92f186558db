"""A store with rows in every table, awkward values included, and its contents table by table, for backup tests.

`fill_every_table` builds the review store of tests/review_store.py (users with password hashes, an import, prompts
and answers, queue settings and work items, audit events) and adds one row to every table with the values that break
naive dumps: unicode, right-to-left text, newlines, quotes, NULLs, nested JSON, timestamps with microseconds.
`table_rows` fails on a table left empty, so a table added to the data model makes the backup tests fail until this
file fills it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from core.accounts.users import create_user
from core.store.db import session_scope
from core.store.models import (
    Adjudication,
    Alert,
    AlertDelivery,
    AlertSetting,
    Assignment,
    AuditEvent,
    AuditSample,
    AuditSampleItem,
    Comment,
    CommentMention,
    Comparison,
    DatasetSnapshot,
    Experiment,
    ExperimentEvent,
    FlagTriage,
    ImportRun,
    Job,
    JobSetting,
    LabelStudioProject,
    LabelStudioTask,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    NamedAssignment,
    Prompt,
    ProvisionalJudgment,
    Qualification,
    QueueConfig,
    QueueCursor,
    Rating,
    Response,
    RewardModelRun,
    RewardScore,
    User,
    UserSession,
    WorkItem,
)
from tests import review_store

AWKWARD = "Ünïcödé ✓ — مرحبا بالعالم, שלום\nsecond line\t\"quoted\" 'single' \\ back\\slash 🙂 <b>&amp;</b>"
WHEN = datetime(2026, 3, 1, 12, 34, 56, 789012, tzinfo=UTC)
NESTED = {"list": [1, 2.5, None, True, "ü"], "rtl": "مرحبا", "deep": {"empty": {}, "none": None, "line": "a\nb"}}


def fill_every_table(engine: Engine, tmp_path: Path) -> None:
    review_store.build(engine, tmp_path, prompts=3, experts=1)
    with session_scope(engine, write=True) as s:

        def add(row):
            s.add(row)
            s.flush()
            return row

        user = create_user(s, username="awkward.user", role="expert", password=AWKWARD, display_name=AWKWARD)
        locked = add(User(username="locked", role="annotator", email="", failed_logins=5, locked_until=WHEN))
        add(UserSession(user_id=locked.id, token_hash="f" * 64, created_at=WHEN, last_seen_at=WHEN, end_reason="idle"))
        bot = add(ModelVersion(name="bot-ü\n", kind="chatbot", notes=AWKWARD, meta=NESTED, created_at=WHEN))
        prompt = add(Prompt(external_id="p-ü", text=AWKWARD, topic=None, meta={}, created_at=WHEN))
        a, b = (
            add(Response(external_id=f"r-ü-{n}", prompt_id=prompt.id, model_version_id=bot.id, text=AWKWARD + n))
            for n in ("a", "b")
        )
        rating = add(
            Rating(
                key="rating:ü",
                response_id=a.id,
                helpfulness=1,
                harmlessness=5,
                accuracy=3,
                flags=["unsafe", "personal_data"],
                spans=[{"start": 0, "end": 1, "label": "unsafe", "severity": "major", "note": AWKWARD}],
                rationale=AWKWARD,
                created_at=WHEN,
            )
        )
        add(
            Comparison(
                key="comparison:ü",
                prompt_id=prompt.id,
                response_a_id=a.id,
                response_b_id=b.id,
                version_a_id=bot.id,
                version_b_id=bot.id,
                choice="both_bad",
                dimensions={"helpfulness": "a", "harmlessness": "tie", "accuracy": "b"},
                rationale=AWKWARD,
                spans={"b": [{"start": 0, "end": 1, "label": "incorrect", "severity": "minor"}]},
                user_id=user.id,
                seconds_spent=0.1 + 0.2,
                created_at=WHEN,
                updated_at=WHEN,
            )
        )
        item = add(ModerationItem(external_id="m-ü", source="a\nb", text=AWKWARD, meta=NESTED, created_at=WHEN))
        add(ModerationScore(item_id=item.id, model_version_id=bot.id, score=0.123456789012345, predicted_label="toxic"))
        add(ModerationLabel(key="label:ü", item_id=item.id, user_id=user.id, label="not_toxic", note=AWKWARD))
        add(Adjudication(item_id=item.id, user_id=user.id, final_label="toxic", categories=["spam"], reason=AWKWARD))
        add(AuditEvent(at=WHEN, actor_id=user.id, action="rating.update", entity="rating", before=NESTED, after=None))
        add(ImportRun(kind="conversations", file_name="fïlé\nname.jsonl", status="refused", errors=[{"line": 3}]))
        snapshot = add(
            DatasetSnapshot(kind="preferences", content_hash="ab" * 32, row_count=0, filters=NESTED, path="ü")
        )
        run = add(RewardModelRun(snapshot_id=snapshot.id, base_model="tiny", params={"lr": 5e-5}, error=AWKWARD))
        add(RewardScore(run_id=run.id, response_id=a.id, score=-1.5e-300, created_at=WHEN))
        experiment = add(Experiment(name="exp-ü", variant_a="a\n", variant_b="ב", planned_split={"a": 0.5}))
        add(ExperimentEvent(experiment_id=experiment.id, unit_id="u-ü", variant="a", metric="m", value=-0.0, at=WHEN))
        add(
            QueueConfig(
                name="legacy ü", versions=["bot-ü\n"], per_dimension=True, qualify=2, pass_share=0.75, updated_at=WHEN
            )
        )
        work = add(WorkItem(queue="rating", subject_id=a.id, priority=-3, is_gold=True, gold_answer={"note": AWKWARD}))
        add(Assignment(work_item_id=work.id, user_id=locked.id, status="skipped", expires_at=WHEN))
        add(QueueCursor(queue="legacy ü", user_id=locked.id, generation=2**31 - 1, priority=-(2**31), item_id=0))
        add(Qualification(queue="legacy ü", user_id=locked.id, status="paused", attempt=3, counted_from=WHEN))
        add(
            ProvisionalJudgment(
                queue="rating",
                work_item_id=work.id,
                user_id=locked.id,
                judgment={"key": AWKWARD, "created_at": "2026-03-01T00:00:00+00:00", "flags": NESTED},
                why="paused",
                gold_passed=False,
                status="discarded",
                decided_by=user.id,
                decided_at=WHEN,
            )
        )
        add(
            NamedAssignment(
                work_item_id=work.id,
                user_id=locked.id,
                assigned_by=user.id,
                due_at=WHEN,
                ended_at=WHEN,
                outcome="expired",
            )
        )
        project = add(LabelStudioProject(base_url="http://127.0.0.1:1/ü", project_id=7, title=AWKWARD, queue="x"))
        add(LabelStudioTask(project_id=project.id, item_id=item.id, task_id=2**31 - 1))
        sample = add(AuditSample(month="2026-03", size=5, seed=-1, strata=[{"queue": "rating", "reviewer_id": None}]))
        add(
            AuditSampleItem(
                sample_id=sample.id,
                queue="rating",
                judgment_id=rating.id,
                judged_at=WHEN,
                reason=AWKWARD,
                auditor_id=user.id,
                reviewed_at=WHEN,
            )
        )
        add(FlagTriage(rating_id=rating.id, status="dismissed", note=AWKWARD, updated_at=WHEN))
        lost = add(Job(kind="reward_train", status="failed", reason=AWKWARD, progress=NESTED, error=AWKWARD))
        add(Job(kind="reward_train", status="running", attempt=2, retry_of=lost.id, worker="h:1", heartbeat_at=WHEN))
        add(
            JobSetting(
                kind="moderation_retrain",
                enabled=False,
                threshold=10,
                every_hours=None,
                auto_promote=False,
                gate_margin=0.02,
                updated_at=WHEN,
            )
        )
        pair = {"subject": "pair", "subject_id": min(a.id, b.id), "subject_b_id": max(a.id, b.id)}
        comment = add(Comment(**pair, user_id=user.id, text=AWKWARD + " @locked", created_at=WHEN))
        add(CommentMention(comment_id=comment.id, user_id=locked.id))
        cleared = add(
            Alert(kind="drift", key="drift:ü", summary=AWKWARD, details=NESTED, raised_at=WHEN, cleared_at=WHEN)
        )
        add(Alert(kind="job_failed", key=f"job:{lost.id}", summary=AWKWARD, details={}, status="unsent"))
        add(AlertDelivery(alert_id=cleared.id, attempt=1, at=WHEN, status_code=None, error=AWKWARD, seconds=5.004))
        add(AlertSetting(name="sla_share", value=0.85, updated_at=WHEN))


def table_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every table's rows in id order, as the app reads them; fails if a table is empty."""
    found = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            found[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
    assert [name for name, rows in found.items() if not rows] == [], "fill_every_table leaves these tables empty"
    return found
