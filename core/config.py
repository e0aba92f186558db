"""Settings read from the environment, with safe local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
    session_idle_minutes: int  # a sign-in session ends after this long without use
    oidc_role_claim: str
    oidc_role_map: str
    db_pool_size: int  # PostgreSQL connections each app process keeps open
    db_max_overflow: int  # and may open beyond them at a peak
    reward_base_model: str | None  # the model folder the worker trains reward models from (None: all-MiniLM-L6-v2)
    alert_webhook_url: str | None = None  # where the worker sends alerts (None: they show on the admins' Home page)
    alert_webhook_secret: str | None = field(default=None, repr=False)  # signs each alert's body; never printed


def _secret(name: str) -> str | None:
    """A secret from the environment or else from the file `<NAME>_FILE` names (Docker and Kubernetes secrets), so
    it need not sit in every process's environment."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text(encoding="utf-8").strip() or None
    return None


def get_settings() -> Settings:
    """Read the settings now (not at import), so tests and the CLI can set the environment first."""
    env = os.environ
    return Settings(
        database_url=_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'workbench.db'}",
        artifacts_dir=Path(env.get("ARTIFACTS_DIR") or VAR_DIR / "artifacts"),
        label_studio_url=env.get("LABEL_STUDIO_URL") or None,
        label_studio_api_key=_secret("LABEL_STUDIO_API_KEY"),
        lockout_attempts=int(env.get("LOGIN_LOCKOUT_ATTEMPTS", "5")),
        lockout_minutes=int(env.get("LOGIN_LOCKOUT_MINUTES", "5")),
        session_idle_minutes=int(env.get("SESSION_IDLE_MINUTES", "480")),
        oidc_role_claim=env.get("OIDC_ROLE_CLAIM") or "groups",
        oidc_role_map=env.get("OIDC_ROLE_MAP", ""),
        db_pool_size=int(env.get("DB_POOL_SIZE", "5")),
        db_max_overflow=int(env.get("DB_MAX_OVERFLOW", "10")),
        reward_base_model=env.get("REWARD_BASE_MODEL") or None,
        alert_webhook_url=(env.get("ALERT_WEBHOOK_URL") or "").strip() or None,
        alert_webhook_secret=_secret("ALERT_WEBHOOK_SECRET"),
    )
