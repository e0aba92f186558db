"""Retraining the moderation classifier: embeddings kept and resumed, a fit on the final labels, metrics of the new
and the previous version on the same held-out items, a new version that scored every item, the queue rebuilt."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sqlalchemy import func, select

from core.cli.main import main
from core.moderation import ModerationError
from core.moderation.borderline import DEFAULT_BAND
from core.moderation.embeddings import MINILM, embed_missing, store_for
from core.moderation.metrics import latest_retrain
from core.moderation.retrain import retrain
from core.store.db import get_engine, session_scope, upgrade_schema
from core.store.models import AuditEvent, ModelVersion, ModerationItem, ModerationLabel, ModerationScore, WorkItem
from tests.app_helpers import add_admin
from tests.moderation_store import HashEmbedder, corpus, import_rows, item_ids, label_row, prefill_minilm, score_row

N_ITEMS, N_LABELLED = 80, 60


@pytest.fixture
def store(any_engine, tmp_path, monkeypatch):
    """80 items scored by clf-v1 (right but unsure), 60 of them labelled by an imported annotator."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    rng = np.random.default_rng(1)
    rows, labels = [], []
    for n, (item, text, truth) in enumerate(corpus(N_ITEMS)):
        score = float(np.clip((0.6 if truth == "toxic" else 0.4) + rng.normal(0, 0.15), 0.01, 0.99))
        rows.append(score_row(item, "clf-v1", round(score, 3), text=text))
        if n < N_LABELLED:
            labels.append(label_row(item, "historic", truth, ["harassment"] if truth == "toxic" else [], text=text))
    import_rows(any_engine, tmp_path, "moderation", rows)
    import_rows(any_engine, tmp_path, "labels", labels)
    return any_engine


def count(engine, model, *where) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_retrain_registers_a_version_that_scored_every_item_and_rebuilds_the_queue(store, tmp_path):
    embedder = HashEmbedder()
    stages = []
    summary = retrain(store, embedder=embedder, name="clf-r1", progress=lambda stage, f: stages.append(stage))
    assert embedder.texts == N_ITEMS
    assert {"embed", "fit", "evaluate", "score", "queue", "done"} <= set(stages)
    with session_scope(store) as s:
        version = s.execute(select(ModelVersion).where(ModelVersion.name == "clf-r1")).scalar_one()
        newest_label = s.execute(select(func.max(ModerationLabel.created_at))).scalar_one()
        scores = dict(
            s.execute(
                select(ModerationScore.item_id, ModerationScore.score).where(
                    ModerationScore.model_version_id == version.id
                )
            ).all()
        )
        old_labels = dict(
            s.execute(
                select(ModerationScore.item_id, ModerationScore.predicted_label).where(
                    ModerationScore.model_version_id != version.id
                )
            ).all()
        )
        open_items = set(
            s.execute(select(WorkItem.subject_id).where(WorkItem.queue == "moderation", WorkItem.open)).scalars()
        )
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "model_version.retrain")).scalar_one()
    assert version.kind == "moderation" and version.meta["threshold"] == 0.5 and version.meta["band"] == DEFAULT_BAND
    assert len(scores) == N_ITEMS  # every item re-scored
    # the queue now follows the new version: its band, and where it disagrees with clf-v1
    borderline = {
        item
        for item, score in scores.items()
        if abs(score - 0.5) <= 0.15 or (score >= 0.5) != (old_labels[item] == "toxic")
    }
    assert open_items == borderline
    stored = version.meta["retrain"]
    assert stored["metrics"]["overall"]["roc_auc"] > 0.95  # the words give the label away
    assert stored["previous"] == "clf-v1"
    assert stored["previous_metrics"]["overall"]["n"] == stored["metrics"]["overall"]["n"] == summary.test_items == 12
    assert set(stored["metrics"]) == {"overall", "harassment"}  # the only category with enough labels
    assert (summary.labels, summary.external, summary.toxic) == (60, 60, 30)
    assert summary.newest_label_at == newest_label.isoformat()
    assert summary.loop_seconds > 0
    assert event.after["name"] == "clf-r1"
    classifier = joblib.load(summary.artifact)["classifier"]
    assert classifier.predict(embedder.encode(["you idiot moron", "lovely thanks"])).tolist() == [1, 0]
    with session_scope(store) as s:
        assert latest_retrain(s) == summary


def test_a_second_retrain_embeds_nothing_and_compares_with_the_first(store):
    retrain(store, embedder=HashEmbedder(), name="clf-r1")
    again = HashEmbedder()
    summary = retrain(store, embedder=again, name="clf-r2")
    assert again.texts == 0 and summary.embedded == 0
    assert summary.previous == "clf-r1"
    assert summary.previous_metrics["overall"]["roc_auc"] == pytest.approx(summary.metrics["overall"]["roc_auc"])


def test_too_few_labels_are_refused_and_nothing_is_registered(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    items = corpus(10)
    import_rows(engine, tmp_path, "moderation", [score_row(i, "clf-v1", 0.5, text=x) for i, x, _ in items])
    import_rows(engine, tmp_path, "labels", [label_row(i, "historic", t, text=x) for i, x, t in items[:8]])
    with pytest.raises(ModerationError, match="4 toxic and 4 not toxic; at least 5 of each"):
        retrain(engine, embedder=HashEmbedder())
    more = [label_row(i, "historic", t, text=x) for i, x, t in items[8:]]
    import_rows(engine, tmp_path, "labels", [*more, label_row("m000", "other", "not_toxic")])  # m000 now disputed
    with pytest.raises(ModerationError, match="4 toxic and 5 not toxic"):
        retrain(engine, embedder=HashEmbedder())
    assert count(engine, ModelVersion) == 1


def test_embedding_resumes_after_an_interruption(store, tmp_path):
    embedder = HashEmbedder()
    ids = np.array(sorted(item_ids(store).values()))
    vectors = store_for(embedder, store)
    vectors.append(ids[:30], embedder.encode([f"x{i}" for i in range(30)]))
    np.save(vectors.folder / "shard-000002.npy", np.zeros((50, embedder.dim), dtype=np.float32))  # no ids: cut off
    summary = embed_missing(store, embedder=embedder)
    assert (summary.embedded, summary.already) == (50, 30)
    assert sorted(vectors.ids().tolist()) == ids.tolist()
    with session_scope(store) as s:
        text = s.execute(select(ModerationItem.text).where(ModerationItem.id == int(ids[40]))).scalar_one()
    assert np.allclose(vectors.vectors_for(ids[[40]]), embedder.encode([text]))
    assert embed_missing(store, embedder=embedder).embedded == 0


def test_the_command_line_retrains_from_stored_vectors(store, capsys):
    """The CLI uses MiniLM; with every vector stored it never loads the model."""
    prefill_minilm(store)
    add_admin(store)
    assert main(["moderation", "retrain", "--name", "clf-cli"]) == 0
    out = capsys.readouterr().out
    assert "new version clf-cli (previous: clf-v1)" in out
    assert "trained on 60 final labels: 60 external" in out
    assert "loop time (newest label used -> new version ready)" in out
    assert count(store, ModerationScore) == 2 * N_ITEMS


@pytest.mark.slow
def test_retrain_with_the_real_minilm_embeddings(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    texts = {
        "toxic": ["you are a worthless idiot", "shut up you moron", "I hate you and your stupid face", "go away loser"],
        "not_toxic": ["thanks, that fixed it", "lovely weather today", "the blender works fine", "great support team"],
    }
    rows, labels = [], []
    for n in range(40):
        truth = "toxic" if n % 2 else "not_toxic"
        text = f"{texts[truth][n % 4]} ({n})"
        rows.append(score_row(f"r{n}", "clf-v1", 0.5, text=text))
        labels.append(label_row(f"r{n}", "historic", truth, text=text))
    import_rows(engine, tmp_path, "moderation", rows)
    import_rows(engine, tmp_path, "labels", labels)
    summary = retrain(engine, name="clf-minilm", test_size=0.25)
    assert summary.embedding_model == MINILM and summary.embedded == 40
    assert summary.metrics["overall"]["roc_auc"] > 0.9
    assert count(engine, ModerationScore) == 80


def test_a_store_made_again_never_takes_the_old_stores_vectors(engine, tmp_path, monkeypatch):
    """Deleting the store and importing the same file again gives items the same ids but not the same vectors."""
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    rows = [score_row(item, "clf-v1", 0.5, text=text) for item, text, _ in corpus(6)]
    import_rows(engine, tmp_path, "moderation", rows)
    assert embed_missing(engine, embedder=HashEmbedder()).embedded == 6
    again = get_engine(f"sqlite:///{tmp_path / 'again.db'}")
    upgrade_schema(again)
    import_rows(again, tmp_path, "moderation", rows)
    assert item_ids(again) == item_ids(engine)
    assert store_for(HashEmbedder(), again).folder != store_for(HashEmbedder(), engine).folder
    assert embed_missing(again, embedder=HashEmbedder()).embedded == 6
