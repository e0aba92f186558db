"""`python -m core`: what a person typing the commands sees, and what lands in the store."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from sqlalchemy import select

from core.cli.main import main
from core.store.db import dispose_engines, session_scope
from core.store.models import AuditEvent, ModerationItem, QueueConfig, User
from tests.app_helpers import add_admin, add_users


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("init", "demo", "import", "users"):
        assert f"    {command} " in out


def test_import_prints_a_summary_and_refuses_a_bad_file_with_exit_1(engine, tmp_path, capsys):
    add_admin(engine)
    good = tmp_path / "m.jsonl"
    good.write_text(
        json.dumps({"item_id": "a", "text": "t", "model": "c", "score": 0.4, "predicted_label": "not_toxic"}) + "\n"
    )
    assert main(["import", "moderation", str(good)]) == 0
    assert "1 rows read, 1 scored items: 1 added, 0 already present" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_id": "b"}\n')
    assert main(["import", "moderation", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "refused bad.jsonl: nothing was imported" in err
    assert "line 1, field text: Field required" in err
    with session_scope(engine) as s:
        assert s.execute(select(ModerationItem.external_id)).scalars().all() == ["a"]


def test_the_first_admin_is_added_on_an_empty_store_then_admins_add_users(engine, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-passphrase\n"))
    assert main(["users", "add", "lea", "--role", "annotator"]) == 1  # nobody may add her yet
    assert "no active admin: add one with `python -m core users add NAME --role admin`" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-passphrase\n"))
    assert main(["users", "add", "root", "--role", "admin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-passphrase\n"))
    assert main(["users", "add", "lea", "--role", "annotator"]) == 0  # as the only admin
    assert "user lea (annotator) is active" in capsys.readouterr().out
    with session_scope(engine) as s:
        users = {u.username: (u.role, u.active) for u in s.execute(select(User)).scalars()}
        events = s.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.after)).all()
    assert users == {"root": ("admin", True), "lea": ("annotator", True)}
    made = [(action, after["username"]) for action, _, after in events]
    assert made == [("user.create", "root"), ("user.create", "lea")]
    assert events[0].actor_id is None and events[1].actor_id is not None  # lea was added by root
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "add", "max", "--role", "expert"]) == 1
    assert "password: at least 8 characters" in capsys.readouterr().err
    assert main(["users", "list"]) == 0
    assert "lea" in capsys.readouterr().out


def test_a_command_acts_as_the_named_user_and_is_refused_to_a_role_that_may_not(engine, tmp_path, capsys):
    users = add_users(engine)  # one user per role
    assert main(["--as", "eve", "queue", "configure", "rating", "--k", "2"]) == 1
    refusal = "error: Only admins may change a review queue's settings; 'eve' is signed in as expert."
    assert refusal in capsys.readouterr().err
    assert main(["queue", "configure", "rating", "--k", "2", "--as", "ada"]) == 0
    assert main(["--as", "nobody", "queue", "status"]) == 1
    assert "--as nobody: no such user" in capsys.readouterr().err
    with session_scope(engine) as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.actor_id)).all()
        k = s.execute(select(QueueConfig.k).where(QueueConfig.name == "rating")).scalar_one()
    assert (events, k) == ([("queue.configure", users["admin"].id)], 2)


def test_without_as_a_store_of_two_admins_asks_who_acts(engine, capsys):
    add_admin(engine, "ops")
    add_admin(engine, "ops2")
    assert main(["queue", "status"]) == 1
    assert "the store has 2 active admins: say who acts with --as USER (or set CLI_USER)" in capsys.readouterr().err
    assert main(["queue", "status", "--as", "ops2"]) == 0


def test_init_creates_a_store_where_database_url_points(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'new' / 'store.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["init"]) == 0
    assert f"store ready: {url}" in capsys.readouterr().out
    assert (tmp_path / "new" / "store.db").exists()
    dispose_engines()


def test_an_unreachable_store_gives_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert main(["init"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The store at postgresql+psycopg://nobody@127.0.0.1:9/none is unreachable (")
    assert err.rstrip().endswith("check DATABASE_URL")
    dispose_engines()
