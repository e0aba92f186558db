"""The moderation benchmark at a tiny scale: the previous version is a real classifier trained on the first half of
the labels, the retrain re-scores every item, and the final JSON line says so."""

from __future__ import annotations

import json

import pytest

from benchmarks import moderation
from tests.required import postgres_server, unavailable


def test_moderation_benchmark_retrains_against_a_real_previous_version(capsys: pytest.CaptureFixture[str]) -> None:
    server, why_not = postgres_server()
    moderation.main(["--scale", "2000", "--embed-texts", "8"] + (["--database-url", server] if server else []))
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["checks_ok"] and figures["embed_texts"] == 8
    for db in ["sqlite", "postgres"] if server else ["sqlite"]:
        assert figures[f"{db}_check_ok"] and figures[f"{db}_labels_used"] > 0
        # a model that learnt the hidden direction from 1,000 labels, not noise around the truth
        assert 0.8 < figures[f"{db}_roc_auc_previous"] <= 1 and 0.8 < figures[f"{db}_roc_auc_new"] <= 1
    assert "ROC AUC, new / previous version (held-out)" in output
    if server is None:  # SQLite ran; PostgreSQL did not
        unavailable("POSTGRES", why_not)
