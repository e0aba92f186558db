"""`python -m core`: what a person typing the commands sees, and what lands in the store."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from sqlalchemy import select

from core.cli import main
from core.db import dispose_engines, session_scope
from core.models import ModerationItem, User


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("init", "demo", "import", "users"):
        assert f"    {command} " in out


def test_import_prints_a_summary_and_refuses_a_bad_file_with_exit_1(engine, tmp_path, capsys):
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


def test_users_add_reads_the_password_from_stdin_never_argv(engine, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-passphrase\n"))
    assert main(["users", "add", "lea", "--role", "annotator"]) == 0
    assert "user lea (annotator) is active" in capsys.readouterr().out
    with session_scope(engine) as s:
        user = s.execute(select(User)).scalar_one()
    assert (user.username, user.role, user.active) == ("lea", "annotator", True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "add", "max", "--role", "expert"]) == 1
    assert "password: at least 8 characters" in capsys.readouterr().err
    assert main(["users", "list"]) == 0
    assert "lea" in capsys.readouterr().out


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
