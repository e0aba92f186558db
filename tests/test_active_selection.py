"""Active comparison selection: the strategy setting, the pair served first, k/leases/gold unchanged, the reward
model's least sure prompts first, and a small simulation in which active settles the leaderboard first."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from benchmarks import active as bench
from core.accounts.users import create_user
from core.auth import Forbidden, UserPublic
from core.cli.main import main
from core.ingest import import_file
from core.review import active, queues, service, settings
from core.review.judgments import ComparisonIn
from core.review.queues import QueueError
from core.stats import pair_design
from core.stats.bradley_terry import Battles, fit
from core.store.db import session_scope
from core.store.models import (
    AuditEvent,
    Comparison,
    DatasetSnapshot,
    QueueConfig,
    Response,
    RewardModelRun,
    RewardScore,
    User,
    WorkItem,
)

MODELS = ("bot-a", "bot-b", "bot-c")


def build(engine: Engine, tmp_path: Path, *, prompts: int = 8, k: int = 1, gold_share: float = 0.0) -> dict:
    """Three versions answering every prompt ("<model> answer <i>"), two experts and an admin; the comparison queue
    serves all three versions' pairs."""
    rows = [
        {
            "prompt_id": f"p{i}",
            "prompt": f"Question {i}?",
            "created_at": f"2026-01-01T00:00:{i:02d}Z",
            "responses": [{"response_id": f"r{i}-{m}", "model": m, "text": f"{m} answer {i}"} for m in MODELS],
        }
        for i in range(prompts)
    ]
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_file(path, "conversations", engine=engine)
    with session_scope(engine, write=True) as s:
        users = {
            name: UserPublic.of(create_user(s, username=name, role=role, password="review-pass"))
            for name, role in (("admin", "admin"), ("ada", "expert"), ("bo", "expert"))
        }
        settings.configure(
            s, queue="comparison", actor_id=users["admin"].id, versions=list(MODELS), k=k, gold_share=gold_share
        )
    return users


def settle_pair(engine: Engine, first: str, second: str, battles: int) -> None:
    """Imported comparisons (no reviewer: the queue's items stay open) of two versions, split evenly."""
    with session_scope(engine, write=True) as s:
        answers = {r.text: r for r in s.execute(select(Response)).scalars()}
        for n in range(battles):
            a, b = answers[f"{first} answer 0"], answers[f"{second} answer 0"]
            s.add(
                Comparison(
                    key=f"imported-{n}",
                    source="import",
                    prompt_id=a.prompt_id,
                    response_a_id=a.id,
                    response_b_id=b.id,
                    version_a_id=a.model_version_id,
                    version_b_id=b.model_version_id,
                    choice="ab"[n % 2],
                )
            )


def pair_of(engine: Engine, view) -> set[str]:
    return {view.left.split()[0], view.right.split()[0]}


def test_the_strategy_is_set_audited_and_a_bad_one_refused_with_nothing_changed(engine, tmp_path):
    users = build(engine, tmp_path)
    saved = service.configure_queue(
        actor=users["admin"], queue="comparison", strategy="active", prefer_uncertain=True, engine=engine
    )
    assert (saved.strategy, saved.prefer_uncertain) == ("active", True)
    for kwargs, reason in (
        ({"queue": "comparison", "strategy": "greedy"}, "unknown strategy 'greedy': choose random or active"),
        ({"queue": "rating", "strategy": "active"}, "only the comparison queue chooses its pairs by a strategy"),
        ({"queue": "rating", "prefer_uncertain": True}, "only the comparison queue chooses its pairs by a strategy"),
    ):
        with pytest.raises(QueueError, match=reason):
            service.configure_queue(actor=users["admin"], engine=engine, **kwargs)
    with pytest.raises(Forbidden, match="Only admins may change a review queue's settings"):
        service.configure_queue(actor=users["ada"], queue="comparison", strategy="random", engine=engine)
    with session_scope(engine) as s:
        config = s.get(QueueConfig, "comparison")
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "queue.configure")).scalars().all()
    assert (config.strategy, config.prefer_uncertain) == ("active", True)
    assert len(events) == 2  # the build's, and the one accepted change
    assert (events[1].before["strategy"], events[1].after["strategy"], events[1].after["prefer_uncertain"]) == (
        "random",
        "active",
        True,
    )


def test_the_cli_sets_the_strategy_and_refuses_an_unknown_one(engine, tmp_path, capsys):
    build(engine, tmp_path)
    assert main(["queue", "configure", "comparison", "--strategy", "active", "--as", "admin"]) == 0
    assert "; active pairs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["queue", "configure", "comparison", "--strategy", "greedy", "--as", "admin"])
    assert "invalid choice: 'greedy'" in capsys.readouterr().err
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").strategy == "active"


def test_active_serves_the_unsettled_pairs_first_and_random_the_oldest(any_engine, tmp_path):
    users = build(any_engine, tmp_path)
    settle_pair(any_engine, "bot-a", "bot-b", 400)  # a and b: settled; c never compared
    first = service.next_item(actor=users["ada"], queue="comparison", engine=any_engine)
    assert "answer 0" in first.left  # random: the oldest item, one of prompt 0's pairs
    service.skip(actor=users["ada"], queue="comparison", assignment_id=first.assignment_id, engine=any_engine)
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="active", engine=any_engine)
    served = []
    for user in ("ada", "bo"):
        view = service.next_item(actor=users[user], queue="comparison", engine=any_engine)
        served.append(pair_of(any_engine, view))
    assert all("bot-c" in pair for pair in served)
    with session_scope(any_engine) as s:
        raised = s.execute(select(WorkItem).where(WorkItem.queue == "comparison", WorkItem.priority > 0)).scalars()
        versions = {(i.version_a_id, i.version_b_id) for i in raised}
    assert versions and all(len(set(v)) == 2 for v in versions)
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="random", engine=any_engine)
    with session_scope(any_engine) as s:
        assert s.execute(select(WorkItem.id).where(WorkItem.priority > 0)).first() is None  # back to every pair alike


def test_under_random_a_refresh_leaves_priorities_set_by_hand(engine, tmp_path):
    build(engine, tmp_path)
    with session_scope(engine, write=True) as s:
        item = s.execute(select(WorkItem).where(WorkItem.queue == "comparison").order_by(WorkItem.id.desc())).scalar()
        item.priority = 5
    with session_scope(engine, write=True) as s:
        assert active.refresh(s) == 0
    with session_scope(engine) as s:
        assert s.execute(select(WorkItem.priority).where(WorkItem.priority > 0)).scalars().all() == [5]


def test_a_failed_re_plan_after_a_comparison_keeps_it_and_shows_no_error(engine, tmp_path, monkeypatch, caplog):
    users = build(engine, tmp_path)
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="active", engine=engine)

    def broken_plan(battles, size):
        raise ValueError("singular information matrix")

    monkeypatch.setattr(active, "plan", broken_plan)
    monkeypatch.setattr(active, "EVERY", 1)  # this comparison is one after which the order is planned again
    view = service.next_item(actor=users["ada"], queue="comparison", engine=engine)
    judgment_id = service.compare(
        actor=users["ada"],
        assignment_id=view.assignment_id,
        comparison=ComparisonIn(preferred="left", strength="clear"),
        engine=engine,
    )
    with session_scope(engine) as s:
        assert s.get(Comparison, judgment_id) is not None
    assert "singular information matrix" in caplog.text
    assert service.next_item(actor=users["ada"], queue="comparison", engine=engine) is not None  # the queue serves on


def test_k_leases_and_gold_work_as_before_with_active(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=3, k=1, gold_share=0.5)
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="active", engine=any_engine)
    with session_scope(any_engine, write=True) as s:
        gold = s.execute(select(WorkItem).where(WorkItem.queue == "comparison").order_by(WorkItem.id.desc())).scalar()
        settings.mark_gold(s, work_item_id=gold.id, answer={"choice": "a"}, actor_id=users["admin"].id)
        gold_id = gold.id

    class Always:  # draws a gold item (or never: at 1.0), and the left side
        def __init__(self, draw: float = 0.0) -> None:
            self.draw = draw

        def random(self) -> float:
            return self.draw

        def choice(self, options):
            return options[0]

    with session_scope(any_engine, write=True) as s:
        held = queues.next_item(s, queue="comparison", user_id=users["ada"].id, rng=Always())
    assert held.work_item_id == gold_id and held.left_response_id == held.subject_id
    with session_scope(any_engine, write=True) as s:
        assert queues.next_item(s, queue="comparison", user_id=users["ada"].id) == held  # the same lease again
        taken = [queues.next_item(s, queue="comparison", user_id=users["bo"].id, rng=Always(1.0))]
    with session_scope(any_engine) as s:
        open_items = s.execute(
            select(WorkItem.id).where(WorkItem.queue == "comparison", WorkItem.open, ~WorkItem.is_gold)
        ).all()
    others = []
    for n in range(len(open_items)):  # k = 1: every open item goes to one reviewer only
        with session_scope(any_engine, write=True) as s:
            user = User(id=None, username=f"x{n}", role="expert")
            s.add(user)
            s.flush()
            others.append(queues.next_item(s, queue="comparison", user_id=user.id, rng=Always(1.0)))
    ids = [lease.work_item_id for lease in taken + others if lease is not None]
    assert sorted(ids) == sorted(row.id for row in open_items) and others[-1] is None


def test_with_prefer_uncertain_the_reward_models_least_sure_prompt_comes_first(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=6)
    settle_pair(any_engine, "bot-a", "bot-b", 400)
    with session_scope(any_engine, write=True) as s:
        snapshot = DatasetSnapshot(kind="pairs", content_hash="h", row_count=0, path="x")
        s.add(snapshot)
        s.flush()
        run = RewardModelRun(snapshot_id=snapshot.id, base_model="tiny", status="done", is_active=True)
        s.add(run)
        s.flush()
        for r in s.execute(select(Response)).scalars():
            model, _, prompt = r.text.split()
            # bot-c is compared first (a and b are settled); on prompt 4 its rewards are closest to theirs
            score = {"bot-a": 0.0, "bot-b": 5.0, "bot-c": 0.1 if prompt == "4" else 10.0 + int(prompt)}[model]
            s.add(RewardScore(run_id=run.id, response_id=r.id, score=score))
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="active", engine=any_engine)
    oldest = service.next_item(actor=users["ada"], queue="comparison", engine=any_engine)
    service.configure_queue(actor=users["admin"], queue="comparison", prefer_uncertain=True, engine=any_engine)
    least_sure = service.next_item(actor=users["bo"], queue="comparison", engine=any_engine)
    assert "answer 0" in oldest.left and "answer 4" in least_sure.left
    assert "bot-c" in pair_of(any_engine, least_sure)


def test_in_a_small_simulation_active_settles_the_leaderboard_with_fewer_judgments(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "HALF_WIDTH", 40.0)  # 8 versions 100 points apart, settled to +-40 points
    template = tmp_path / "template.db"
    truth = bench.build(bench.get_engine(bench.fresh_sqlite(tmp_path, template.name)), 8, 200)
    bench.get_engine(f"sqlite:///{template}").dispose()

    def judgments(strategy: str, seed: int) -> int | None:
        copy = tmp_path / f"{strategy}-{seed}.db"
        copy.write_bytes(template.read_bytes())
        return bench.simulate(f"sqlite:///{copy}", truth, bench.ratings(8, "even", seed, 100.0), strategy, seed)[
            "judgments"
        ]

    counts = {strategy: [judgments(strategy, seed) for seed in (0, 1)] for strategy in ("random", "active")}
    assert None not in counts["random"] + counts["active"], counts  # both settled
    assert sum(counts["active"]) < sum(counts["random"]), counts


@pytest.mark.postgres
def test_two_refreshes_at_once_leave_one_plan(pg_engine, tmp_path):
    users = build(pg_engine, tmp_path, prompts=30)
    service.configure_queue(actor=users["admin"], queue="comparison", strategy="active", engine=pg_engine)
    with session_scope(pg_engine) as s:
        alone = set(s.execute(select(WorkItem.id).where(WorkItem.priority > 0)).scalars())
    second = threading.Thread(target=lambda: _refresh(pg_engine))
    with session_scope(pg_engine, write=True) as s:
        active.refresh(s)
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # it waits for the first to commit
    second.join()
    with session_scope(pg_engine) as s:
        raised = set(s.execute(select(WorkItem.id).where(WorkItem.priority > 0)).scalars())
    assert raised == alone and 0 < len(raised) <= active.EVERY


def _refresh(engine: Engine) -> None:
    with session_scope(engine, write=True) as s:
        active.refresh(s)


def test_the_plan_spends_more_on_two_versions_whose_order_is_unsure_than_intervals_alone_would():
    models = ["a", "b", "c", "d"]
    outcomes = [("a", "b", 52, 48), ("a", "c", 150, 50), ("b", "c", 140, 60), ("c", "d", 150, 50)]
    outcomes += [("a", "d", 190, 10), ("b", "d", 185, 15)]  # (a, b, a's wins, b's wins)
    battles = Battles.of(models, [(*row, 0) for row in outcomes])
    strengths = fit(battles.matrix())[0]
    cov = pair_design.covariance(battles, strengths)
    with_order, _ = pair_design.extend(cov, strengths, 50)
    intervals_only, _ = pair_design.extend(cov, strengths, 50, order=0)
    assert with_order[0, 1] > intervals_only[0, 1]  # a and b: neighbours, their order least sure
    assert pair_design.plan(battles, 50)[("a", "b")] == with_order[0, 1]
