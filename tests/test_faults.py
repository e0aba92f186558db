"""Faults of the store itself: an import killed half-way (SQLite and PostgreSQL), a read-only store, a full disk.
Each leaves the store as it was (or whole) and says what to do; the PostgreSQL restart is in
test_postgres_restart.py."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from benchmarks.imports import write_moderation_file
from core.review.judgments import RatingIn
from core.review.service import next_item, rate
from core.store.db import StoreError, dispose_engines, get_engine, session_scope
from core.store.models import ImportRun, ModerationItem
from tests.app_helpers import REPO_ROOT, add_admin, add_users, app, fresh_streamlit_cache, page  # noqa: F401
from tests.required import unavailable
from tests.review_store import actor, build

KILLED_ROWS = 60_000
AS_ROOT = os.geteuid() == 0


def python(database: Path, *args: str) -> subprocess.CompletedProcess:
    """Python on the store at `database`, bound by file permissions: root runs it without the capability to override
    them (its files are root's, so their owner bits apply)."""
    env = os.environ | {"DATABASE_URL": f"sqlite:///{database}"}
    bound = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if AS_ROOT else []
    command = [*bound, sys.executable, *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def cli(database: Path, *args: str) -> subprocess.CompletedProcess:
    return python(database, "-m", "core", *args)


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table, read with plain sqlite3 (read-only), and the integrity check's verdict."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        counts["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    return counts


@pytest.fixture
def admin_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store with its one admin: the user the commands below act as."""
    path = tmp_path_factory.mktemp("admin") / "store.db"
    shutil.copy(sqlite_template, path)
    add_admin(get_engine(f"sqlite:///{path}"))
    dispose_engines()
    return path


@pytest.fixture
def open_folder(admin_template: Path) -> Iterator[Path]:
    """A migrated store in a folder anyone may read (pytest's own tmp folder is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="wb-faults-"))
    folder.chmod(0o755)
    shutil.copy(admin_template, folder / "store.db")
    (folder / "store.db").chmod(0o644)
    yield folder
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755)
    shutil.rmtree(folder)


def kill_import(url: str, source: Path, *, when: Callable[[], bool]) -> None:
    """Start `python -m core import moderation SOURCE` and kill it (SIGKILL) as soon as `when()` holds."""
    env = os.environ | {"DATABASE_URL": url}
    command = [sys.executable, "-m", "core", "import", "moderation", str(source)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and not when():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the import ended before the kill: make the file bigger"


@pytest.mark.slow
def test_an_import_killed_half_way_leaves_all_or_nothing_and_completes_when_run_again(tmp_path, admin_template):
    database = tmp_path / "store.db"
    shutil.copy(admin_template, database)
    source = tmp_path / "moderation.jsonl"
    write_moderation_file(source, KILLED_ROWS)
    wal = Path(f"{database}-wal")
    # it has written about 4 MB of its transaction when the kill comes
    kill_import(f"sqlite:///{database}", source, when=lambda: wal.exists() and wal.stat().st_size > 4_000_000)

    after_kill = table_counts(database)
    assert after_kill["integrity"] == "ok"
    assert after_kill["moderation_item"] in (0, KILLED_ROWS)
    assert after_kill["moderation_item"] == after_kill["moderation_score"]
    assert after_kill["moderation_item"] == 0  # killed before its commit: nothing of it

    again = cli(database, "import", "moderation", str(source))
    assert again.returncode == 0, again.stderr
    assert f"{KILLED_ROWS:,} added" in again.stdout
    final = table_counts(database)
    assert (final["integrity"], final["moderation_item"], final["moderation_score"]) == ("ok", KILLED_ROWS, KILLED_ROWS)


@pytest.mark.slow
@pytest.mark.postgres
def test_an_import_killed_half_way_on_postgres_leaves_nothing_and_completes_when_run_again(pg_engine, tmp_path):
    source, rows = tmp_path / "moderation.jsonl", KILLED_ROWS // 3
    write_moderation_file(source, rows)
    add_admin(pg_engine)
    url = pg_engine.url.render_as_string(hide_password=False)
    inserting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query ILIKE 'INSERT INTO moderation%'"
    )

    def writing() -> bool:
        with pg_engine.connect() as conn:
            return conn.execute(inserting).scalar_one() > 0

    kill_import(url, source, when=writing)

    def stored() -> tuple[int, list[str]]:
        with session_scope(pg_engine) as s:
            items = s.execute(select(func.count()).select_from(ModerationItem)).scalar_one()
            return items, list(s.execute(select(ImportRun.status)).scalars())

    deadline = time.monotonic() + 30
    while writing() and time.monotonic() < deadline:
        time.sleep(0.1)  # the server rolls back the dead client's transaction when it notices the connection gone
    assert stored() == (0, [])
    env = os.environ | {"DATABASE_URL": url}
    again = subprocess.run(
        [sys.executable, "-m", "core", "import", "moderation", str(source)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert stored() == (rows, ["done"])


def test_a_read_only_store_refuses_an_import_with_what_to_do_and_changes_nothing(open_folder, tmp_path):
    database, source = open_folder / "store.db", open_folder / "moderation.jsonl"
    write_moderation_file(source, 50)
    assert cli(database, "import", "moderation", str(source)).returncode == 0
    before = table_counts(database)
    write_moderation_file(source, 80, seed=2)
    database.chmod(0o444)
    open_folder.chmod(0o555)

    result = cli(database, "import", "moderation", str(source))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"error: The store {database} is read-only: make it, its folder" in result.stderr
    assert result.stderr.rstrip().endswith("Nothing was saved: try again.")
    assert table_counts(database) == before


def test_a_read_only_store_refuses_a_submission_with_what_to_do(open_folder):
    database = open_folder / "store.db"
    engine = get_engine(f"sqlite:///{database}")
    users = build(engine, open_folder)
    view = next_item(actor=actor(engine, users["expert0"]), queue="rating", engine=engine)
    dispose_engines()
    before = table_counts(database)
    database.chmod(0o444)
    open_folder.chmod(0o555)
    submit = (
        "from core.store.db import StoreError; from core.review.judgments import RatingIn\n"
        "from core.review.service import rate; from core.auth import UserPublic\n"
        f"expert = UserPublic({users['expert0']}, 'expert0', 'expert0', 'expert', True)\n"
        f"try: rate(actor=expert, assignment_id={view.assignment_id}, rating=RatingIn(4, 5, 4))\n"
        "except StoreError as error: print(error)"
    )
    result = python(database, "-c", submit)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"The store {database} is read-only")
    assert "Nothing was saved: try again." in result.stdout
    assert table_counts(database) == before


@pytest.fixture
def tiny_disk(admin_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A migrated store alone on a filesystem with 1 MB to spare (a tmpfs: mounting one needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    size = admin_template.stat().st_size + 1024 * 1024
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        unavailable("TMPFS", f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.decode().strip()}")
    try:
        shutil.copy(admin_template, disk / "store.db")
        yield disk
    finally:
        dispose_engines()
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the file that holds them."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_refuses_an_import_with_what_to_do_and_changes_nothing(tiny_disk, tmp_path):
    database, source = tiny_disk / "store.db", tmp_path / "moderation.jsonl"
    write_moderation_file(source, 20_000)  # about 5 MB: more than the disk has left
    before = table_counts(database)

    result = cli(database, "import", "moderation", str(source))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"error: The disk holding the store {database} is full: free some space" in result.stderr
    assert table_counts(database) == before


def test_a_full_disk_refuses_a_submission_and_takes_it_once_space_is_freed(tiny_disk, tmp_path):
    engine = get_engine(f"sqlite:///{tiny_disk / 'store.db'}")
    users = build(engine, tmp_path)
    expert = actor(engine, users["expert0"])
    view = next_item(actor=expert, queue="rating", engine=engine)
    filler = fill(tiny_disk)
    before = table_counts(tiny_disk / "store.db")

    with pytest.raises(StoreError, match=r"is full: free some space .*Nothing was saved: try again\."):
        rate(actor=expert, assignment_id=view.assignment_id, rating=RatingIn(4, 5, 4), engine=engine)
    assert table_counts(tiny_disk / "store.db") == before

    filler.unlink()
    rating_id = rate(actor=expert, assignment_id=view.assignment_id, rating=RatingIn(4, 5, 4), engine=engine)
    assert table_counts(tiny_disk / "store.db")["rating"] == before["rating"] + 1
    again = rate(actor=expert, assignment_id=view.assignment_id, rating=RatingIn(4, 5, 4), engine=engine)
    assert again == rating_id  # stored once


def test_an_unreachable_store_shows_what_to_do_on_the_page_not_a_traceback(engine, monkeypatch):
    users = add_users(engine)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    at = app(users["expert"])
    at.switch_page(page("rate")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "The store at postgresql+psycopg://nobody@127.0.0.1:9/none" in at.error[0].value
    assert at.error[0].value.endswith("Nothing was saved: try again.")
