"""Optional: log a finished run to MLflow where MLFLOW_TRACKING_URI is set (mlflow is an optional extra)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MISSING = (
    "MLFLOW_TRACKING_URI is set but mlflow is not installed, so the run was not logged to MLflow: "
    "install it with `.venv/bin/pip install -e '.[mlflow]'` (or unset MLFLOW_TRACKING_URI)"
)


def _numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric metrics flattened to MLflow names (by_topic.VAT.accuracy -> by_topic.VAT.accuracy)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}".replace(" ", "_")
        if isinstance(value, dict):
            flat |= _numbers(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def log_to_mlflow(*, run_id: int, params: dict[str, Any], metrics: dict[str, Any], artifact: Path) -> str | None:
    """None where MLflow is not configured; otherwise a line saying what happened (never raises)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    try:
        import mlflow
    except ImportError:
        return MISSING
    try:
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run(run_name=f"reward-run-{run_id}") as active:
            mlflow.log_params({k: v for k, v in params.items() if v is not None})
            mlflow.log_metrics(_numbers(metrics))
            mlflow.log_artifacts(str(artifact), artifact_path="model")
            return f"logged to MLflow at {uri} as run {active.info.run_id}"
    except Exception as error:  # a tracking server's trouble must not undo a trained model
        return f"MLflow logging to {uri} failed: {error}"
