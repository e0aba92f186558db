"""The rule table, walked: every service function against every role, an inactive account and a signed-out caller.
An allowed call works; a refused one raises Forbidden and writes nothing. A service function added without a case
here, or without its permission check, fails the walk."""

from __future__ import annotations

import importlib
import inspect
import io
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from core.auth import RULES, Forbidden, UserPublic, may
from core.demo.load import load_demo
from core.moderation.labels import AdjudicationIn, LabelIn
from core.oversight.comments import answer
from core.oversight.history import ItemRef
from core.oversight.samples import draw_sample
from core.oversight.trail import TrailFilter
from core.reports.filters import Filters
from core.review import queues
from core.review.assignment import assign
from core.review.judgments import ComparisonIn, RatingIn, submit_comparison, submit_rating
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema, write_scope
from core.store.models import ROLES, AuditSampleItem, Rating, User, WorkItem

SERVICES = [
    "core.accounts.service",
    "core.ingest.service",
    "core.jobs.service",
    "core.labelstudio.service",
    "core.moderation.service",
    "core.oversight.service",
    "core.reports.service",
    "core.review.service",
    "core.reward.service",
    "core.store.service",
]
# Entries that are not actions of a signed-in person: signing in and out and finding a session's user, who a command
# acts as, the first admin of an empty store, and whether Label Studio is configured.
UNGUARDED = {
    "core.accounts.service.sign_in",
    "core.accounts.service.sign_in_external",
    "core.accounts.service.command_line_user",
    "core.accounts.service.create_first_admin",
    "core.accounts.service.has_active_admin",
    "core.accounts.service.redeem_handoff",
    "core.accounts.service.session_user",
    "core.accounts.service.sign_out",
    "core.labelstudio.service.configuration_problem",
}
LEAVERS = itertools.count()
DEMO_USERS = {"admin": "admin", "lead": "lead", "expert": "expert", "annotator": "annotator", "product_owner": "owner"}


def service_functions() -> dict[str, Callable]:
    found = {}
    for name in SERVICES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == name and not attr.startswith("_"):
                found[f"{name}.{attr}"] = value
    return found


@dataclass
class Store:
    engine: Engine
    folder: Path
    monkeypatch: pytest.MonkeyPatch

    def user(self, username: str) -> UserPublic:
        with session_scope(self.engine) as s:
            return UserPublic.of(s.execute(select(User).where(User.username == username)).scalar_one())

    def lease(self, actor: UserPublic, queue: str) -> int:
        """An item of the queue leased to the actor by the queue itself (no permission asked); where the queue has
        none for them (an annotator on a disagreement they are part of), the admin's lease, which they may not use
        either."""
        for user_id in (actor.id, self.user("admin").id):
            with write_scope(self.engine) as run:
                lease = queues.next_item(run, queue=queue, user_id=user_id)
            if lease is not None:
                return lease.assignment_id
        raise AssertionError(f"the demo left no {queue} item")

    def rating_of(self, actor: UserPublic) -> int:
        with write_scope(self.engine) as run:
            lease = queues.next_item(run, queue="rating", user_id=actor.id)
            return submit_rating(run, user_id=actor.id, assignment_id=lease.assignment_id, rating=RatingIn(4, 4, 4))

    def comparison_of(self, actor: UserPublic) -> int:
        with write_scope(self.engine) as run:
            lease = queues.next_item(run, queue="comparison", user_id=actor.id)
            preferred = ComparisonIn("left", "clear")
            return submit_comparison(run, user_id=actor.id, assignment_id=lease.assignment_id, comparison=preferred)

    def label_of(self, actor: UserPublic) -> int:
        from core.moderation.labels import submit_label

        with write_scope(self.engine) as run:
            lease = queues.next_item(run, queue="moderation", user_id=actor.id)
            return submit_label(run, user_id=actor.id, assignment_id=lease.assignment_id, label=LabelIn("not_toxic"))

    def sample(self) -> int:
        month = f"{_latest_judgment(self.engine):%Y-%m}"
        with session_scope(self.engine, write=True) as s:
            return draw_sample(s, month=month, size=20, seed=1, actor_id=None).id

    def sampled_item(self, actor: UserPublic) -> int:
        sample_id = self.sample()
        with session_scope(self.engine) as s:
            return (
                s.execute(
                    select(AuditSampleItem.id).where(
                        AuditSampleItem.sample_id == sample_id, AuditSampleItem.reviewer_id != actor.id
                    )
                )
                .scalars()
                .first()
            )

    def assigned(self, username: str) -> str:
        """The user, with one rating item assigned to them by the queue's own function (no permission asked)."""
        with session_scope(self.engine, write=True) as s:
            assign(s, queue="rating", usernames=[username], actor_id=None, count=1)
        return username

    def someone(self, actor: UserPublic) -> str:
        """A new active annotator (one per call), to be deactivated."""
        username = f"leaver-{actor.id}-{next(LEAVERS)}"
        with session_scope(self.engine, write=True) as s:
            s.add(User(username=username, role="annotator", password_hash="x"))
        return username

    def flagged_rating(self) -> int:
        with session_scope(self.engine) as s:
            return s.execute(select(Rating.id).where(func.json_array_length(Rating.flags) > 0)).scalars().first()

    def flagged_answer(self) -> ItemRef:
        """An answer every expert may read the thread of (on Flags), judged or not."""
        with session_scope(self.engine) as s:
            return answer(s.get(Rating, self.flagged_rating()).response_id)

    def stub(self, target: str, result: Any = None) -> list[dict]:
        """Replace a heavy step (training, embedding, a Label Studio server) by a recorder of its calls."""
        calls: list[dict] = []
        module, name = target.rsplit(".", 1)
        self.monkeypatch.setattr(importlib.import_module(module), name, lambda *a, **k: calls.append(k) or result)
        return calls


def _latest_judgment(engine: Engine):
    with session_scope(engine) as s:
        return s.execute(select(func.max(Rating.created_at))).scalar_one()


@dataclass(frozen=True)
class Case:
    """How to call one service function: its arguments for an actor, and the heavy step it may stand in for."""

    arguments: Callable[[Store, UserPublic], dict[str, Any]] = lambda store, actor: {}
    stub: str | None = None
    queues: tuple[str, ...] = ()  # a function guarded per queue: walked once per queue
    extra: dict[str, Any] = field(default_factory=dict)


def conversations_file(store: Store, actor: UserPublic) -> dict[str, Any]:
    path = store.folder / f"conv-{actor.id}.jsonl"
    answer = {"response_id": f"rules-{actor.id}-a", "model": "taxbot-v1", "text": "A."}
    row = {"prompt_id": f"rules-{actor.id}", "prompt": "Q?", "responses": [answer]}
    path.write_text(json.dumps(row) + "\n")
    return {"path": path, "kind": "conversations"}


CASES: dict[str, Case] = {
    "core.accounts.service.add_user": Case(
        lambda s, a: {"username": f"new-{a.id}", "role": "annotator", "password": "long-enough-1"}
    ),
    "core.accounts.service.list_users": Case(),
    "core.accounts.service.deactivate_user": Case(lambda s, a: {"username": s.someone(a)}),
    "core.ingest.service.import_data": Case(conversations_file),
    "core.jobs.service.jobs_overview": Case(),
    "core.jobs.service.configure": Case(lambda s, a: {"kind": "reward_score", "threshold": 5}),
    "core.jobs.service.alerts_overview": Case(),
    "core.jobs.service.configure_alerts": Case(lambda s, a: {"sla_share": 0.8}),
    "core.labelstudio.service.push": Case(lambda s, a: {"title": "Rules"}, stub="core.labelstudio.sync.push"),
    "core.labelstudio.service.pull": Case(lambda s, a: {"title": "Rules"}, stub="core.labelstudio.sync.pull"),
    "core.labelstudio.service.write_import_file": Case(lambda s, a: {"queue": "moderation", "out": io.StringIO()}),
    "core.moderation.service.classifier_overview": Case(),
    "core.moderation.service.versions": Case(),
    "core.moderation.service.set_threshold": Case(lambda s, a: {"version": "modclf-v1", "threshold": 0.45}),
    "core.moderation.service.embed": Case(stub="core.moderation.embeddings.embed_missing"),
    "core.moderation.service.retrain": Case(stub="core.moderation.retrain.retrain"),
    "core.moderation.service.promote": Case(
        lambda s, a: {"version": "modclf-v1"}, stub="core.moderation.gate.promote_by_name"
    ),
    "core.oversight.service.trail_page": Case(lambda s, a: {"filters": TrailFilter()}),
    "core.oversight.service.trail_choices": Case(),
    "core.oversight.service.trail_csv": Case(lambda s, a: {"filters": TrailFilter(), "limit": 10}),
    "core.oversight.service.write_trail": Case(lambda s, a: {"out": io.StringIO(), "filters": TrailFilter()}),
    "core.oversight.service.item_history": Case(lambda s, a: {"reference": "rating:1"}),
    "core.oversight.service.event_item": Case(lambda s, a: {"entity": "rating", "entity_id": 1}),
    "core.oversight.service.list_samples": Case(),
    "core.oversight.service.draw_sample": Case(
        lambda s, a: {"month": f"{_latest_judgment(s.engine):%Y-%m}", "size": 10}
    ),
    "core.oversight.service.sample_view": Case(lambda s, a: {"sample_id": s.sample()}),
    "core.oversight.service.review_sampled": Case(
        lambda s, a: {"item_id": s.sampled_item(a), "verdict": "agree", "reason": ""}
    ),
    "core.oversight.service.flags_view": Case(lambda s, a: {"status": None, "flag": None, "version": None}),
    "core.oversight.service.answer_sources": Case(lambda s, a: {"answer_ids": [1, 2]}),
    "core.oversight.service.triage_flag": Case(
        lambda s, a: {"rating_id": s.flagged_rating(), "status": "confirmed", "note": "checked"}
    ),
    "core.oversight.service.threads": Case(lambda s, a: {"items": [s.flagged_answer()]}),
    "core.oversight.service.add_comment": Case(
        lambda s, a: {"item": s.flagged_answer(), "text": "Checked against the guideline, @lead."}
    ),
    "core.reports.service.home": Case(),
    "core.reports.service.report_choices": Case(),
    "core.reports.service.ab_report": Case(lambda s, a: {"filters": Filters("taxbot-v1", "taxbot-v2")}),
    "core.reports.service.experiment_report": Case(lambda s, a: {"name": "greeting-v2"}),
    "core.reports.service.plan_experiment": Case(lambda s, a: {"name": "greeting-v2", "split": {"control": 0.5}}),
    "core.reports.service.kpi": Case(),
    "core.reports.service.agreement": Case(),
    "core.reports.service.audit_report": Case(),
    "core.review.service.next_item": Case(queues=("rating", "comparison", "moderation", "adjudication")),
    "core.review.service.skip": Case(
        lambda s, a: {"assignment_id": s.lease(a, s.queue)}, queues=("rating", "comparison", "moderation")
    ),
    "core.review.service.progress_in": Case(queues=("rating", "comparison", "moderation", "adjudication")),
    "core.review.service.last_judgment": Case(queues=("rating", "comparison", "moderation", "adjudication")),
    "core.review.service.recent_judgments": Case(queues=("rating", "comparison", "moderation", "adjudication")),
    "core.review.service.rate": Case(lambda s, a: {"assignment_id": s.lease(a, "rating"), "rating": RatingIn(4, 5, 4)}),
    "core.review.service.compare": Case(
        lambda s, a: {"assignment_id": s.lease(a, "comparison"), "comparison": ComparisonIn("tie")}
    ),
    "core.review.service.label": Case(
        lambda s, a: {"assignment_id": s.lease(a, "moderation"), "label": LabelIn("toxic", ("spam",))}
    ),
    "core.review.service.adjudicate": Case(
        lambda s, a: {
            "assignment_id": s.lease(a, "adjudication"),
            "adjudication": AdjudicationIn("toxic", ("spam",), "the guideline on spam"),
        }
    ),
    "core.review.service.change_rating": Case(lambda s, a: {"rating_id": s.rating_of(a), "rating": RatingIn(2, 5, 4)}),
    "core.review.service.change_comparison": Case(
        lambda s, a: {"comparison_id": s.comparison_of(a), "comparison": ComparisonIn("tie")}
    ),
    "core.review.service.change_label": Case(
        lambda s, a: {"label_id": s.label_of(a), "label": LabelIn("toxic", ("spam",))}
    ),
    "core.review.service.queue_overview": Case(),
    "core.review.service.configure_queue": Case(lambda s, a: {"queue": "rating", "k": 2}),
    "core.review.service.gold_candidates": Case(lambda s, a: {"queue": "rating"}),
    "core.review.service.assign": Case(lambda s, a: {"queue": "rating", "to": ["expert"], "count": 1}),
    "core.review.service.unassign": Case(lambda s, a: {"queue": "rating", "users": [s.assigned("expert")]}),
    "core.review.service.assign_choices": Case(lambda s, a: {"queue": "rating"}),
    "core.review.service.assignee_progress": Case(),
    "core.review.service.mark_gold": Case(lambda s, a: {"work_item_id": _an_item(s.engine), "answer": {"accuracy": 4}}),
    "core.review.service.configure_gate": Case(lambda s, a: {"queue": "rating", "qualify": 0, "pass_share": 0.9}),
    "core.review.service.qualification_standings": Case(),
    "core.review.service.qualification_gates": Case(),
    "core.review.service.allow_retry": Case(
        lambda s, a: {"queue": "rating", "user": "expert"}, stub="core.review.qualification.allow_retry"
    ),
    "core.review.service.release_held": Case(
        lambda s, a: {"queue": "rating", "user": "expert"}, stub="core.review.qualification.release"
    ),
    "core.review.service.discard_held": Case(
        lambda s, a: {"queue": "rating", "user": "expert"}, stub="core.review.qualification.discard"
    ),
    "core.review.service.my_qualification": Case(queues=("rating", "comparison", "moderation", "adjudication")),
    "core.reward.service.dataset_summary": Case(),
    "core.reward.service.list_snapshots": Case(),
    "core.reward.service.list_runs": Case(),
    "core.reward.service.get_run": Case(lambda s, a: {"run_id": 1}, stub="core.reward.registry.get_run"),
    "core.reward.service.compare_runs": Case(lambda s, a: {"run_ids": [1]}, stub="core.reward.registry.compare_runs"),
    "core.reward.service.mean_reward_by_version": Case(stub="core.reward.score.mean_reward_by_version"),
    "core.reward.service.export_snapshot": Case(stub="core.reward.snapshot.export_snapshot"),
    "core.reward.service.create_run": Case(lambda s, a: {"snapshot_id": 1}, stub="core.reward.train.create_run"),
    "core.reward.service.start_training": Case(stub="core.reward.launch.start_training"),
    "core.reward.service.train": Case(lambda s, a: {"run_id": 1}, stub="core.reward.train.train_run"),
    "core.reward.service.promote": Case(lambda s, a: {"run_id": 1}, stub="core.reward.registry.promote"),
    "core.reward.service.gate": Case(lambda s, a: {"run_id": 1}, stub="core.reward.gate.check"),
    "core.reward.service.score": Case(stub="core.reward.score.score_responses"),
    "core.store.service.inventory": Case(),
    "core.store.service.backup": Case(lambda s, a: {"folder": s.folder / f"backup-{a.id}"}),
}


def _an_item(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(WorkItem.id).where(WorkItem.queue == "rating").limit(1)).scalar_one()


def walk() -> list[tuple[str, str | None]]:
    """(function, queue) for every service function, once per queue for those guarded per queue."""
    return [(name, queue) for name in sorted(CASES) for queue in (CASES[name].queues or (None,))]


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "demo.db"
    engine = get_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    load_demo(engine, seed=7)
    with session_scope(engine, write=True) as s:  # an inactive expert, and no session lingers on the file
        s.add(User(username="gone", role="expert", display_name="Gone", active=False, password_hash="x"))
    dispose_engines()
    return path


@pytest.fixture
def store(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    path = tmp_path / "store.db"
    shutil.copy(demo_template, path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    yield Store(get_engine(f"sqlite:///{path}"), tmp_path, monkeypatch)
    dispose_engines()


def rows_per_table(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
        return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


# Written by hand, not derived from core.auth.RULES: who may do what, as the roles' guides promise it.
EXPECTED = {
    "home.read": "admin lead expert annotator product_owner",
    "review.rate": "admin lead expert",
    "review.compare": "admin lead expert",
    "review.label": "admin lead expert annotator",
    "review.adjudicate": "admin lead expert",
    "queue.read": "admin",
    "queue.configure": "admin",
    "queue.gold": "admin",
    "queue.assign": "admin lead",
    "queue.progress": "admin lead",
    "queue.qualify": "admin lead",
    "data.read": "admin",
    "data.import": "admin",
    "store.backup": "admin",
    "users.read": "admin",
    "users.add": "admin",
    "users.deactivate": "admin",
    "moderation.read": "admin",
    "moderation.threshold": "admin",
    "moderation.retrain": "admin",
    "moderation.promote": "admin",
    "labelstudio.sync": "admin",
    "reward.read": "admin",
    "reward.snapshot": "admin",
    "reward.train": "admin",
    "reward.promote": "admin",
    "reward.score": "admin",
    "jobs.read": "admin",
    "jobs.configure": "admin",
    "alerts.read": "admin",
    "alerts.configure": "admin",
    "report.ab": "admin product_owner",
    "experiment.plan": "admin product_owner",
    "report.kpi": "admin product_owner",
    "report.agreement": "admin lead expert",
    "trail.read": "admin lead expert",
    "sample.draw": "admin lead expert",
    "sample.review": "admin lead expert",
    "flags.read": "admin lead expert",
    "flags.triage": "admin lead expert",
    "comments.read": "admin lead expert",
    "comments.write": "admin lead expert",
    "sources.read": "admin lead",
}


def test_the_rule_table_says_what_the_roles_were_promised():
    assert {action: set(rule.roles) for action, rule in RULES.items()} == {
        action: set(roles.split()) for action, roles in EXPECTED.items()
    }


def test_every_service_function_is_guarded_or_named_as_an_exception():
    functions = service_functions()
    unguarded = sorted(name for name, f in functions.items() if not hasattr(f, "action"))
    assert unguarded == sorted(UNGUARDED)
    assert sorted(set(functions) - UNGUARDED) == sorted(CASES)  # a new function needs its case below


def test_every_action_of_the_rule_table_is_taken_by_a_service_function():
    actions = set()
    for name, function in service_functions().items():
        if name not in UNGUARDED:
            action = function.action
            actions |= {action} if isinstance(action, str) else set(action.values())
    assert actions == set(RULES)


@pytest.mark.parametrize(("name", "queue"), walk())
def test_each_role_may_do_what_the_rule_table_says_and_nothing_else(store, name, queue):
    function, case = service_functions()[name], CASES[name]
    action = function.action if isinstance(function.action, str) else function.action[queue]
    store.queue = queue
    queue_argument = {"queue": queue} if queue else {}
    inactive = store.user("gone")
    for actor in [*(store.user(DEMO_USERS[role]) for role in ROLES), inactive, None]:
        subject = actor or replace(inactive, active=True, role="admin")  # a signed-out caller's would-be arguments
        arguments = case.arguments(store, subject) | queue_argument
        calls = store.stub(case.stub) if case.stub else None
        if may(actor, action):
            function(actor=actor, **arguments)  # works: no Forbidden, no error
            assert calls is None or len(calls) == 1, f"{name} did not reach {case.stub}"
            continue
        before = rows_per_table(store.engine)
        with pytest.raises(Forbidden) as refused:
            function(actor=actor, **arguments)
        assert rows_per_table(store.engine) == before, f"{name} wrote something for {actor}"
        assert calls in (None, [])
        who = "Sign in first" if actor is None else "inactive" if not actor.active else "Only "
        assert who in str(refused.value)
