"""What the Data page and `python -m core import` call: importing a file, checked against the rule table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.ingest import ImportSummary, import_file
from core.ingest.read import Progress


@guarded("data.import")
def import_data(
    *,
    actor: UserPublic,
    path: str | Path,
    kind: str,
    file_name: str | None = None,
    mask_pii: bool = False,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> ImportSummary:
    """Import one file in one transaction (audited as the actor); raises ImportRefused, writing nothing, if any row
    is bad. `file_name`: the name it was uploaded as, where the path is a temporary copy."""
    return import_file(
        path, kind, engine=engine, actor_id=actor.id, file_name=file_name, progress=progress, mask_pii=mask_pii
    )
