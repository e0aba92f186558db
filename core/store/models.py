"""The store's tables. Times are timezone-aware UTC. Judgments carry a unique `key` (source kind, reviewer, item ids)
so that a repeated submission or a re-imported file is one row, and a `source` saying where they came from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

ROLES = ("admin", "lead", "expert", "annotator", "product_owner")
MODEL_KINDS = ("chatbot", "moderation", "reward")
CHOICES = ("a", "b", "tie", "both_bad")
DIMENSION_CHOICES = ("a", "b", "tie")  # a comparison's preference on one rubric dimension (no "both bad")
STRENGTHS = ("slight", "clear", "strong")
SKIP_REASONS = ("unclear", "specialist", "offensive")  # why a reviewer passed on an item (optional)
MODERATION_LABELS = ("toxic", "not_toxic")
RUBRIC = ("helpfulness", "harmlessness", "accuracy")
FLAGS = ("incorrect", "unsafe", "non_compliant", "hallucinated_source", "personal_data")
SEVERITIES = ("minor", "major")  # of an error span
FLAG_STATUSES = ("open", "confirmed", "dismissed")
AUDIT_VERDICTS = ("agree", "disagree")
# How a named assignment ended: judged by its reviewer, skipped by them, taken back by a lead, past its due time, or
# the item finished by others (reviewers who held it before it was assigned)
ASSIGNMENT_OUTCOMES = ("done", "skipped", "taken back", "expired", "closed")
CATEGORIES = ("harassment", "hate", "sexual", "violence", "self_harm", "spam", "personal_data")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(default: Any = None, nullable: bool = True) -> Any:
    if callable(default):
        return Field(default_factory=default, sa_type=JSON, nullable=nullable)
    return Field(default=default, sa_type=JSON, nullable=nullable)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=150)
    display_name: str = ""
    email: str | None = None
    role: str
    password_hash: str | None = None
    # "issuer|subject" of an OpenID Connect identity linked to this user (None: password sign-in only)
    external_id: str | None = Field(default=None, unique=True, index=True, max_length=300)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class UserSession(SQLModel, table=True):
    """A sign-in: the browser holds the token in a cookie; the store keeps only hashes of it and of the one-time code
    that hands it over."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str | None = Field(default=None, unique=True, max_length=64)  # set when the code is redeemed
    handoff_hash: str | None = Field(default=None, unique=True, max_length=64)  # cleared when redeemed
    handoff_expires: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    end_reason: str | None = None


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"
    __table_args__ = (CheckConstraint(_in("kind", MODEL_KINDS), name="ck_model_version_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    kind: str
    notes: str = ""
    meta: dict = _json(dict, nullable=False)
    created_at: datetime = Field(default_factory=utcnow)


class Prompt(SQLModel, table=True):
    """A user's question (`text`), with the conversation before it: `turns`, oldest first, each {"role": "user" |
    "assistant", "text"}; none for a one-turn conversation."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True)
    source: str = "import"
    text: str
    topic: str | None = Field(default=None, index=True)
    turns: list = _json(list, nullable=False)
    meta: dict = _json(dict, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Response(SQLModel, table=True):
    # a version's answers with their prompts (and topics) from the index alone: the A/B report's ratings query
    __table_args__ = (Index("ix_response_version_prompt", "model_version_id", "prompt_id"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    model_version_id: int = Field(foreign_key="model_version.id")  # indexed first in ix_response_version_prompt
    text: str
    meta: dict = _json(dict, nullable=False)
    created_at: datetime = Field(default_factory=utcnow)


class Rating(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("helpfulness BETWEEN 1 AND 5", name="ck_rating_helpfulness"),
        CheckConstraint("harmlessness BETWEEN 1 AND 5", name="ck_rating_harmlessness"),
        CheckConstraint("accuracy BETWEEN 1 AND 5", name="ck_rating_accuracy"),
        # covering for the A/B report; on SQLite `flags` is a key column too (migration 0003)
        Index(
            "ix_rating_scores",
            "response_id",
            "created_at",
            "helpfulness",
            "harmlessness",
            "accuracy",
            postgresql_include=["flags"],
        ),
        # judgments by time with their reviewer, read from the index alone (throughput, reviewers, home counts)
        Index("ix_rating_created_user", "created_at", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    source: str = "app"
    response_id: int = Field(foreign_key="response.id")  # indexed first in ix_rating_scores
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    helpfulness: int
    harmlessness: int
    accuracy: int
    flags: list = _json(list, nullable=False)
    # error spans: [{"start", "end", "label": <a flag>, "severity": "minor" | "major", "note"?}], code-point offsets
    # into the answer's text (core.review.spans validates them)
    spans: list = _json(list, nullable=False)
    rationale: str = ""
    seconds_spent: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class Comparison(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint(_in("choice", CHOICES), name="ck_comparison_choice"),
        CheckConstraint(f"strength IS NULL OR {_in('strength', STRENGTHS)}", name="ck_comparison_strength"),
        # the leaderboard's GROUP BY order: counting a million comparisons is one index scan, no join, no sort
        Index("ix_comparison_versions", "version_a_id", "version_b_id", "choice", "created_at", "prompt_id"),
        Index("ix_comparison_created_user", "created_at", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    source: str = "app"
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    response_a_id: int = Field(foreign_key="response.id", index=True)
    response_b_id: int = Field(foreign_key="response.id", index=True)
    # the versions of the two answers (copies of their model_version_id, which never changes): every writer sets them
    version_a_id: int = Field(foreign_key="model_version.id")
    version_b_id: int = Field(foreign_key="model_version.id")
    left_response_id: int | None = Field(default=None, foreign_key="response.id")
    choice: str
    strength: str | None = None
    # per rubric dimension, in the pair's a/b order as `choice`: {"helpfulness": "a"|"b"|"tie", ...}; {} where the
    # queue did not ask (see DIMENSION_CHOICES)
    dimensions: dict = Field(
        default_factory=dict, sa_type=JSON, nullable=False, sa_column_kwargs={"server_default": text("'{}'")}
    )
    rationale: str = ""
    # error spans marked on each side, by the stored side: {"a": [...], "b": [...]} (a side without spans left out)
    spans: dict = _json(dict, nullable=False)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    seconds_spent: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class ModerationItem(SQLModel, table=True):
    __tablename__ = "moderation_item"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True)
    source: str = "import"
    text: str
    meta: dict = _json(dict, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ModerationScore(SQLModel, table=True):
    """A classifier version's score of an item; one per (item, version)."""

    __tablename__ = "moderation_score"
    __table_args__ = (
        UniqueConstraint("item_id", "model_version_id", name="uq_moderation_score_item_version"),
        CheckConstraint("score >= 0 AND score <= 1", name="ck_moderation_score_range"),
        CheckConstraint(_in("predicted_label", MODERATION_LABELS), name="ck_moderation_score_label"),
        Index("ix_moderation_score_version_score", "model_version_id", "score"),
        # the borderline queue's pass over a version's scores reads this index alone (core.moderation.borderline)
        Index("ix_moderation_score_version_item", "model_version_id", "item_id", "predicted_label", "score"),
        # a time range's scores by version, from the index alone (drift, F1 per month)
        Index("ix_moderation_score_created", "created_at", "model_version_id", "score"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="moderation_item.id")
    model_version_id: int = Field(foreign_key="model_version.id")  # indexed first in ix_moderation_score_version_score
    score: float
    predicted_label: str
    categories: list = _json(list, nullable=False)
    created_at: datetime = Field(default_factory=utcnow)


class ModerationLabel(SQLModel, table=True):
    __tablename__ = "moderation_label"
    __table_args__ = (
        CheckConstraint(_in("label", MODERATION_LABELS), name="ck_moderation_label_label"),
        Index("ix_moderation_label_created_user", "created_at", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    source: str = "app"
    item_id: int = Field(foreign_key="moderation_item.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    label: str
    categories: list = _json(list, nullable=False)
    note: str = ""
    seconds_spent: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class Adjudication(SQLModel, table=True):
    __table_args__ = (CheckConstraint(_in("final_label", MODERATION_LABELS), name="ck_adjudication_label"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="moderation_item.id", unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    final_label: str
    categories: list = _json(list, nullable=False)
    reason: str
    seconds_spent: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only: written by core.audit, never updated or deleted.

    The trail is read newest first, a page at a time, by keyset on (at, id): each filter (person, action, entity)
    has an index that ends in (at, id), so a page is a range scan of one index whatever the table's size."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity", "entity_id"),
        Index("ix_audit_event_at_id", "at", "id"),
        Index("ix_audit_event_actor_at", "actor_id", "at", "id"),
        Index("ix_audit_event_action_at", "action", "at", "id"),
        Index("ix_audit_event_entity_at", "entity", "at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    action: str
    entity: str
    entity_id: int | None = None
    before: dict | None = _json()
    after: dict | None = _json()


class ImportRun(SQLModel, table=True):
    """One import of a file, done or refused: feeds data freshness and data quality."""

    __tablename__ = "import_run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    file_name: str
    status: str  # done | refused
    rows_read: int = 0
    rows_added: int = 0
    rows_present: int = 0
    rows_refused: int = 0
    errors: list = _json(list, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = Field(default=None, index=True)


class DatasetSnapshot(SQLModel, table=True):
    __tablename__ = "dataset_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    content_hash: str = Field(index=True)
    row_count: int
    filters: dict = _json(dict, nullable=False)
    path: str
    created_at: datetime = Field(default_factory=utcnow)


class RewardModelRun(SQLModel, table=True):
    """A reward-model training run: `progress` is written while it trains (a page follows it), `metrics` at the end.
    At most one run is active (the one that scores answers): a partial unique index holds that."""

    __tablename__ = "reward_model_run"
    __table_args__ = (
        Index(
            "uq_reward_model_run_active",
            "is_active",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="dataset_snapshot.id", index=True)
    base_model: str
    params: dict = _json(dict, nullable=False)
    metrics: dict = _json(dict, nullable=False)
    progress: dict = _json(dict, nullable=False)
    status: str = "queued"  # queued | running | done | failed
    artifact_path: str | None = None
    is_active: bool = False
    error: str | None = None  # why a failed run failed
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class RewardScore(SQLModel, table=True):
    """A reward model run's score of one answer; one per (run, answer), so scoring again replaces nothing."""

    __tablename__ = "reward_score"
    __table_args__ = (UniqueConstraint("run_id", "response_id", name="uq_reward_score_run_response"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="reward_model_run.id")
    response_id: int = Field(foreign_key="response.id", index=True)
    score: float
    created_at: datetime = Field(default_factory=utcnow)


class Experiment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    variant_a: str
    variant_b: str
    metric: str | None = None
    planned_split: dict = _json(dict, nullable=False)  # variant -> planned share
    started_at: datetime | None = None
    ended_at: datetime | None = None


class ExperimentEvent(SQLModel, table=True):
    """One outcome of one unit: long format, so rates per variant aggregate in SQL."""

    __tablename__ = "experiment_event"
    __table_args__ = (
        UniqueConstraint("experiment_id", "unit_id", "metric", name="uq_experiment_event_unit_metric"),
        Index("ix_experiment_event_metric", "experiment_id", "metric", "variant"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id")
    unit_id: str
    variant: str
    metric: str
    value: float
    at: datetime


class QueueConfig(SQLModel, table=True):
    """Settings of one queue: overlap k, lease length, gold share, and the model versions whose answers it serves."""

    __tablename__ = "queue_config"

    name: str = Field(primary_key=True)
    k: int = 1
    lease_minutes: int = 15
    gold_share: float = 0.05
    versions: list = _json(list, nullable=False)
    # comparison: also ask left/right/tie for each rubric dimension
    per_dimension: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    # the qualification gate (core.review.qualification): gold items a reviewer new to the queue judges first (0: no
    # gate), and the share of them they must get right
    qualify: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    pass_share: float = Field(default=0.8, sa_column_kwargs={"server_default": text("0.8")})
    # comparison: "random" serves every pair of versions alike; "active" the pairs that settle the leaderboard
    # fastest (core.review.active), and with `prefer_uncertain` the prompts the active reward model is least sure of
    strategy: str = Field(default="random", sa_column_kwargs={"server_default": text("'random'")})
    prefer_uncertain: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    updated_at: datetime = Field(default_factory=utcnow)


class WorkItem(SQLModel, table=True):
    """One thing to judge in one queue: a response (rating), a pair of responses (comparison), a moderation item.

    `done` counts the judgments it has; it stays `open` until it has `k` of them (gold items stay open)."""

    __tablename__ = "work_item"
    __table_args__ = (
        UniqueConstraint("queue", "subject_id", "subject_b_id", name="uq_work_item_subject"),
        # next item: highest priority first, then oldest; the index matches that order so no sort is needed
        Index("ix_work_item_next", "queue", "open", "is_gold", text("priority DESC"), "id"),
        # backlog age: the open items of a queue in order of arrival, so a percentile is an offset into the index
        Index("ix_work_item_backlog", "queue", "open", "is_gold", "created_at"),
        # active comparison selection: a pair of versions' open items, oldest first (core.review.active)
        Index("ix_work_item_pair", "queue", "version_a_id", "version_b_id", "open", "is_gold", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    queue: str
    subject_id: int
    subject_b_id: int = 0  # the second response of a pair; 0 where a queue judges one thing
    priority: int = 0
    k: int = 1
    done: int = 0
    open: bool = True
    is_gold: bool = False
    gold_answer: dict | None = _json()
    created_at: datetime = Field(default_factory=utcnow)
    # comparison: the versions that wrote subject_id and subject_b_id (a copy, as on Comparison, so that a pair of
    # versions' items are one index range); None in the other queues
    version_a_id: int | None = None
    version_b_id: int | None = None


class QueueOrder(SQLModel, table=True):
    """How often a queue's order changed in a way a reviewer's cursor may have passed: items added, reopened, closed
    or re-ranked by a sync. A cursor written at an older generation is not trusted (core.review.queues)."""

    __tablename__ = "queue_order"

    queue: str = Field(primary_key=True)
    generation: int = 0


class QueueCursor(SQLModel, table=True):
    """Where a reviewer's search for their next item starts: every open item of the queue (gold aside) before
    (priority, item_id) in the queue's order is one they judged or skipped, as of the queue's `generation`. It spares
    the search a walk past every item they judged that still waits for other reviewers."""

    __tablename__ = "queue_cursor"

    queue: str = Field(primary_key=True)
    user_id: int = Field(primary_key=True, foreign_key="user_account.id")
    generation: int
    priority: int
    item_id: int


class Assignment(SQLModel, table=True):
    """A reviewer's hold on a work item: leased until `expires_at`, then done or skipped. One per (item, reviewer),
    so it is also the record of what a reviewer has seen."""

    __table_args__ = (
        UniqueConstraint("work_item_id", "user_id", name="uq_assignment_item_user"),
        Index("ix_assignment_active", "work_item_id", "status", "expires_at"),
        Index("ix_assignment_user", "user_id", "status", "updated_at"),
        # turnaround: the judgments made in a time range, with their items, without reading the table
        Index("ix_assignment_done", "status", "updated_at", "work_item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="work_item.id")
    user_id: int = Field(foreign_key="user_account.id")
    status: str = "leased"  # leased | done | skipped
    skip_reason: str | None = None  # one of SKIP_REASONS, when skipped with a reason
    left_response_id: int | None = None  # where a pair is shown: which answer stood on the left
    judgment_id: int | None = None
    started_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    updated_at: datetime = Field(default_factory=utcnow)


QUALIFICATION_STATUSES = ("qualifying", "qualified", "failed", "paused")
PROVISIONAL_STATUSES = ("held", "released", "discarded")


class Qualification(SQLModel, table=True):
    """A reviewer's standing on a queue with a qualification gate: `judged` and `passed` count the gold items of the
    current `attempt`; `counted_from` starts the window of gold items the auto-pause reads (None: all of them)."""

    __table_args__ = (CheckConstraint(_in("status", QUALIFICATION_STATUSES), name="ck_qualification_status"),)

    queue: str = Field(primary_key=True)
    user_id: int = Field(primary_key=True, foreign_key="user_account.id")
    status: str = "qualifying"
    attempt: int = 1
    judged: int = 0
    passed: int = 0
    counted_from: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ProvisionalJudgment(SQLModel, table=True):
    """A judgment held out of the judgment tables (so out of k, the reports, agreement, KPIs, snapshots and
    retraining): made while qualifying, or since the last gold item passed before an auto-pause. `judgment` is the
    row as it was (its id, key, created_at and seconds_spent too); released rows went back into their table,
    discarded ones stay here for the audit trail."""

    __tablename__ = "provisional_judgment"
    __table_args__ = (
        CheckConstraint(_in("status", PROVISIONAL_STATUSES), name="ck_provisional_judgment_status"),
        CheckConstraint(_in("why", ("qualifying", "paused")), name="ck_provisional_judgment_why"),
        Index("ix_provisional_judgment_user", "queue", "user_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    queue: str
    work_item_id: int = Field(foreign_key="work_item.id")
    user_id: int = Field(foreign_key="user_account.id")
    judgment: dict = _json(dict, nullable=False)
    why: str
    gold_passed: bool | None = None  # a gold item: whether the judgment matched its answer
    status: str = "held"
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = None


class NamedAssignment(SQLModel, table=True):
    """A lead's assignment of a work item to a named reviewer, due by `due_at` (None: no due date). It stands while
    `ended_at` is None and its due time has not passed: the item then goes to that reviewer first and to nobody else.
    It ends with an `outcome` (ASSIGNMENT_OUTCOMES); one past its due time is closed as "expired" when the queue is
    next assigned."""

    __tablename__ = "named_assignment"
    __table_args__ = (
        # one standing assignment per item: two leads assigning the same item at once cannot both succeed
        Index(
            "uq_named_assignment_standing",
            "work_item_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        # a reviewer's standing assignments (next item, Home)
        Index("ix_named_assignment_user", "user_id", "ended_at"),
        CheckConstraint(
            f"outcome IS NULL OR {_in('outcome', ASSIGNMENT_OUTCOMES)}", name="ck_named_assignment_outcome"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="work_item.id")
    user_id: int = Field(foreign_key="user_account.id")
    assigned_by: int | None = Field(default=None, foreign_key="user_account.id")
    assigned_at: datetime = Field(default_factory=utcnow)
    due_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None


class LabelStudioProject(SQLModel, table=True):
    """A Label Studio project a queue was pushed to (found again by server and title)."""

    __tablename__ = "labelstudio_project"
    __table_args__ = (UniqueConstraint("base_url", "project_id", name="uq_labelstudio_project_server_id"),)

    id: int | None = Field(default=None, primary_key=True)
    base_url: str
    project_id: int  # Label Studio's id
    title: str = Field(index=True)
    queue: str
    created_at: datetime = Field(default_factory=utcnow)


class LabelStudioTask(SQLModel, table=True):
    """Which Label Studio task holds which moderation item: an item is imported into a project once."""

    __tablename__ = "labelstudio_task"
    __table_args__ = (
        UniqueConstraint("project_id", "item_id", name="uq_labelstudio_task_project_item"),
        UniqueConstraint("project_id", "task_id", name="uq_labelstudio_task_project_task"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="labelstudio_project.id")
    item_id: int = Field(foreign_key="moderation_item.id")
    task_id: int  # Label Studio's id
    created_at: datetime = Field(default_factory=utcnow)


class AuditSample(SQLModel, table=True):
    """A month's stratified random sample of judgments, drawn once per (month, size, seed): the same three give the
    same sample, so a draw can be checked by drawing it again."""

    __tablename__ = "audit_sample"
    __table_args__ = (UniqueConstraint("month", "size", "seed", name="uq_audit_sample_draw"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)  # YYYY-MM
    size: int
    seed: int
    population: int = 0  # judgments of the month the sample was drawn from
    strata: list = _json(list, nullable=False)  # [{"queue", "reviewer_id", "population", "drawn"}]
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditSampleItem(SQLModel, table=True):
    """One sampled judgment and an expert's verdict on it (agree / disagree with a reason)."""

    __tablename__ = "audit_sample_item"
    __table_args__ = (
        UniqueConstraint("sample_id", "queue", "judgment_id", name="uq_audit_sample_item"),
        CheckConstraint(f"verdict IS NULL OR {_in('verdict', AUDIT_VERDICTS)}", name="ck_audit_sample_item_verdict"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="audit_sample.id", index=True)
    queue: str  # rating | comparison | moderation | adjudication: says which table judgment_id is in
    judgment_id: int
    reviewer_id: int | None = Field(default=None, foreign_key="user_account.id")
    judged_at: datetime
    verdict: str | None = None
    reason: str = ""
    auditor_id: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_at: datetime | None = None


class FlagTriage(SQLModel, table=True):
    """An expert lead's triage of a flagged rating; a flagged rating without a row here is open."""

    __tablename__ = "flag_triage"
    __table_args__ = (CheckConstraint(_in("status", FLAG_STATUSES), name="ck_flag_triage_status"),)

    rating_id: int = Field(primary_key=True, foreign_key="rating.id")
    status: str
    note: str
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow)


JOB_STATUSES = ("queued", "running", "done", "failed")
ACTIVE_JOB = "status IN ('queued', 'running')"


class Job(SQLModel, table=True):
    """A background job (core.jobs): queued by a trigger, claimed and run by a worker, which writes its heartbeat and
    progress while it runs, then done with a result or failed with its error. A running job whose heartbeat stopped
    was killed: a worker marks it failed and queues its retry (`attempt` 2, `retry_of` it), once.

    At most one job of a kind waits or runs at a time: a partial unique index holds that, so two workers cannot both
    queue or run one."""

    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="ck_job_status"),
        Index(
            "uq_job_kind_active",
            "kind",
            unique=True,
            sqlite_where=text(ACTIVE_JOB),
            postgresql_where=text(ACTIVE_JOB),
        ),
        Index("ix_job_status_id", "status", "id"),  # the next queued job; the running ones whose heartbeat stopped
        Index("ix_job_kind_created", "kind", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    status: str = "queued"
    reason: str = ""  # why it was queued: "212 new final labels (at least 200)"
    attempt: int = 1
    retry_of: int | None = Field(default=None, foreign_key="job.id")
    worker: str | None = None  # host:pid of the worker running it
    progress: dict = _json(dict, nullable=False)  # {"stage", "fraction", ...} written with each heartbeat
    result: dict = _json(dict, nullable=False)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None


class JobSetting(SQLModel, table=True):
    """A job kind's trigger settings, where an admin changed them (`python -m core worker configure`); a kind without a
    row uses its defaults (core.jobs.kinds)."""

    __tablename__ = "job_setting"

    kind: str = Field(primary_key=True)
    enabled: bool = True
    threshold: int  # new items that start the job: final labels, usable pairs, unscored answers
    every_hours: int | None = None  # also start it this long after the last one, when there is anything new
    # the promotion gate of the kind's model (core.jobs.gate): promote a new one that passes, and the loss allowed
    auto_promote: bool = True
    gate_margin: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow)


COMMENT_SUBJECTS = ("answer", "pair", "moderation_item")  # the items a thread can be on (core.oversight.history)


class Comment(SQLModel, table=True):
    """One comment of the thread on an item: an answer, a pair of answers (lower id first) or a moderation item.
    Comments are plain text, never edited or deleted; each is an audit event (`comment.create`)."""

    __table_args__ = (
        CheckConstraint(_in("subject", COMMENT_SUBJECTS), name="ck_comment_subject"),
        # a thread, oldest first, from the index alone
        Index("ix_comment_thread", "subject", "subject_id", "subject_b_id", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str
    subject_id: int
    subject_b_id: int = 0  # the pair's second answer; 0 where the item is one thing
    user_id: int = Field(foreign_key="user_account.id", index=True)
    text: str
    created_at: datetime = Field(default_factory=utcnow)


class CommentMention(SQLModel, table=True):
    """A user a comment mentions by `@username` (an unknown name stays plain text and has no row here)."""

    __tablename__ = "comment_mention"
    # a person's mentions, newest first, for their home page
    __table_args__ = (Index("ix_comment_mention_user", "user_id", "comment_id"),)

    comment_id: int = Field(foreign_key="comment.id", primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", primary_key=True)


ALERT_STATUSES = ("pending", "delivered", "failed", "unsent")
OPEN_ALERT = "cleared_at IS NULL"


class Alert(SQLModel, table=True):
    """An alert event (core.jobs.alerts): a condition that began (the within-SLA share fell below its threshold, drift,
    a sample-ratio alarm) or a thing that happened (a job failed, the promotion gate decided). `key` names the
    occurrence: "sla", "drift:<version>", "srm:<experiment>", "job:<id>", "gate:<kind>:<version>:<decision>". While a
    condition stands its alert stays open (no `cleared_at`); a partial unique index on the open keys holds that an
    occurrence is raised once, by however many workers. An event that happened is never cleared, so it is raised once.

    The webhook sender (core.jobs.webhook) sends it: `pending` until delivered, retried with backoff (`next_attempt_at`)
    up to a cap, then `failed`; `unsent` when no webhook was set (the admins' Home page shows it)."""

    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="ck_alert_status"),
        Index(
            "uq_alert_open_key", "key", unique=True, sqlite_where=text(OPEN_ALERT), postgresql_where=text(OPEN_ALERT)
        ),
        Index("ix_alert_status_next", "status", "next_attempt_at"),  # the sender's next deliveries
        Index("ix_alert_raised", "raised_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # sla_share_low | drift | sample_ratio | job_failed | gate_promoted | gate_held_back
    key: str
    summary: str  # one line a person reads: "Within-SLA share 82.0% over the last 7 days, below 90.0%: ..."
    details: dict = _json(dict, nullable=False)  # the figures, sent in the webhook's body
    raised_at: datetime = Field(default_factory=utcnow)
    cleared_at: datetime | None = None  # a condition that ended (an event that happened is never cleared)
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None  # pending: not sent before this (a sender holds it while it sends)
    delivered_at: datetime | None = None


class AlertDelivery(SQLModel, table=True):
    """One attempt to send an alert to the webhook: the receiver's status code, or the error (a timeout, a refused
    connection). Never the secret nor the signature."""

    __tablename__ = "alert_delivery"
    __table_args__ = (Index("ix_alert_delivery_alert", "alert_id", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    attempt: int
    at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str | None = None
    seconds: float = 0.0  # how long the attempt took


class AlertSetting(SQLModel, table=True):
    """An alert threshold an admin changed (`python -m core worker alerts configure`); one without a row uses its
    default (core.jobs.alerts.THRESHOLDS)."""

    __tablename__ = "alert_setting"

    name: str = Field(primary_key=True)
    value: float
    updated_at: datetime = Field(default_factory=utcnow)
