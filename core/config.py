"""Settings read from the environment, with safe local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VAR_DIR = REPO_ROOT / "var"  # git-ignored: the live store and model artifacts


@dataclass(frozen=True)
class Settings:
    database_url: str
    artifacts_dir: Path
    label_studio_url: str | None
    label_studio_api_key: str | None
    lockout_attempts: int
    lockout_minutes: int


def get_settings() -> Settings:
    """Read the settings now (not at import), so tests and the CLI can set the environment first."""
    env = os.environ
    return Settings(
        database_url=env.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'workbench.db'}",
        artifacts_dir=Path(env.get("ARTIFACTS_DIR") or VAR_DIR / "artifacts"),
        label_studio_url=env.get("LABEL_STUDIO_URL") or None,
        label_studio_api_key=env.get("LABEL_STUDIO_API_KEY") or None,
        lockout_attempts=int(env.get("LOGIN_LOCKOUT_ATTEMPTS", "5")),
        lockout_minutes=int(env.get("LOGIN_LOCKOUT_MINUTES", "5")),
    )
