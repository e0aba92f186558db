"""What the Data page and the CLI call about the store itself: what it holds, and backups. One function per action,
each checked against the rule table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.store import backup as backups
from core.store.db import get_engine, session_scope
from core.store.inventory import Inventory, store_inventory


@guarded("data.read")
def inventory(*, actor: UserPublic, imports: int = 10, engine: Engine | None = None) -> Inventory:
    """The model versions, rows per table and the last imports."""
    with session_scope(engine) as session:
        return store_inventory(session, imports=imports)


@guarded("store.backup")
def backup(
    *, actor: UserPublic, folder: str | Path, progress: backups.Progress | None = None, engine: Engine | None = None
) -> backups.BackupSummary:
    """The whole store to a new folder, from one consistent snapshot."""
    return backups.backup(engine or get_engine(), folder, progress=progress)
