"""The pouch command, run as a user runs it, against a fresh SQLite file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pouch.cli import app


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "POUCH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "POUCH_DATA_DIR": str(tmp_path),
    }


@pytest.fixture(scope="module")
def demo_made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the demo, made once for the tests that only need one to be
    there: ``pouch demo`` takes ten seconds (its language desk and passwords)."""
    made = tmp_path_factory.mktemp("demo-made")
    code, output = run(
        {"POUCH_DATABASE_URL": f"sqlite:///{made / 'cli.sqlite3'}", "POUCH_DATA_DIR": str(made)},
        "demo",
    )
    assert code == 0, output
    return made


@pytest.fixture
def demo_env(demo_made: Path, tmp_path: Path) -> dict[str, str]:
    """``cli_env`` after ``pouch demo``: a copy of the demo made once, the test's own."""
    here = tmp_path / "demo"
    shutil.copytree(demo_made, here)
    return {"POUCH_DATABASE_URL": f"sqlite:///{here / 'cli.sqlite3'}", "POUCH_DATA_DIR": str(here)}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    # Wide enough that Rich never wraps a message in the middle of a field name.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **env}, input=stdin)
    return result.exit_code, result.output


def test_demo_is_idempotent_and_lists_users(cli_env: dict[str, str]) -> None:
    code, output = run(cli_env, "demo")
    assert code == 0, output
    assert "32 offices and 31 people created" in output
    code, output = run(cli_env, "demo")
    assert code == 0 and "0 offices and 0 people created" in output
    code, output = run(cli_env, "users", "list")
    assert "watch_officer@ops" in output and "sender@ie-taoiseach" in output


def test_demo_says_where_and_how_to_log_in(cli_env: dict[str, str]) -> None:
    """On another port with nothing else set, the demo points at that port, and names
    its published password; one the operator chose is never printed."""
    code, output = run({**cli_env, "POUCH_PORT": "8101"}, "demo")
    assert code == 0, output
    assert "Log in at http://127.0.0.1:8101/login as admin" in output
    assert "with the password pouch-demo-2026." in output
    chosen = {**cli_env, "POUCH_ADMIN_PASSWORD": "a password of my own"}
    code, output = run(chosen, "demo")
    assert code == 0 and "with the password in POUCH_ADMIN_PASSWORD." in output
    assert "a password of my own" not in output


def test_users_create_with_roles(demo_env: dict[str, str]) -> None:
    code, output = run(
        demo_env,
        "users",
        "create",
        "niamh",
        "--display-name",
        "Niamh Duty",
        "--role",
        "watch_officer@ops",
        "--role",
        "auditor@ops",
        "--password-stdin",
        stdin="a sufficiently long secret\n",
    )
    assert code == 0, output
    _, listing = run(demo_env, "users", "list")
    assert "niamh" in listing and "auditor@ops" in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "emperor@ops"], "unknown role 'emperor'"),
        (["--role", "watch_officer"], "ROLE@OFFICE"),
        (["--role", "watch_officer@atlantis"], "no office 'atlantis'"),
    ],
)
def test_users_create_names_the_bad_field(
    demo_env: dict[str, str], args: list[str], message: str
) -> None:
    code, output = run(
        demo_env,
        "users",
        "create",
        "eve",
        "--display-name",
        "Eve",
        *args,
        "--password-stdin",
        stdin="a sufficiently long secret\n",
    )
    assert code != 0
    assert message in " ".join(output.split())
    _, listing = run(demo_env, "users", "list")
    assert "eve" not in listing.split()


def test_short_password_is_refused(cli_env: dict[str, str]) -> None:
    run(cli_env, "db", "upgrade")
    code, output = run(
        cli_env,
        "users",
        "create",
        "eve",
        "--display-name",
        "Eve",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 1
    assert "password must be at least 12 characters" in output


def test_directory_export_import(demo_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "directory.yaml"
    code, output = run(demo_env, "directory", "export", "--output", str(target))
    assert code == 0, output
    assert "Office of the Taoiseach" in target.read_text(encoding="utf-8")
    code, output = run(demo_env, "directory", "import", str(target))
    assert code == 0, output
    assert "offices created: 0" in output
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "offices:\n  - {slug: x-y, name: X, kind: pirate, country_code: FR}\n", encoding="utf-8"
    )
    code, output = run(demo_env, "directory", "import", str(broken))
    assert code == 1
    assert "offices[0].kind" in output
    code, output = run(demo_env, "directory", "import", str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml" in output


def test_bad_setting_is_named(cli_env: dict[str, str]) -> None:
    code, output = run({**cli_env, "POUCH_PORT": "eighty"}, "db", "upgrade")
    assert code == 2
    assert "POUCH_PORT" in output


def test_db_upgrade(cli_env: dict[str, str]) -> None:
    code, output = run(cli_env, "db", "upgrade")
    assert code == 0
    from pouch import migrations

    assert migrations.head() in output


def test_keys_generate_and_show(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "POUCH_LOG_ORIGIN": "pouch.mfa.example/log"}
    code, output = run(env, "keys", "show")
    assert code == 1 and "pouch keys generate" in output
    code, output = run(env, "keys", "generate")
    assert code == 0, output
    key = tmp_path / "log.skey"
    assert key.stat().st_mode & 0o777 == 0o600
    vkey = output.strip().splitlines()[-1]
    assert vkey.startswith("pouch.mfa.example/log+")
    code, shown = run(env, "keys", "show")
    assert code == 0 and shown.strip() == vkey
    code, output = run(env, "keys", "generate")
    assert code == 1 and "refusing to replace" in output
    code, output = run({**env, "POUCH_LOG_ORIGIN": "other.example/log"}, "keys", "show")
    assert code == 1 and "must match" in " ".join(output.split())
    code, output = run(
        env, "keys", "generate", "--origin", "bad name", "--output", str(tmp_path / "x")
    )
    assert code == 1 and "name" in output


def test_the_operator_starts_a_reset_the_user_finishes(demo_env: dict[str, str]) -> None:
    import re

    from pouch.db import Database, create_database_engine
    from pouch.identity import service as identity_service

    code, output = run(demo_env, "users", "reset-password", "watch1")
    assert code == 0, output
    found = re.search(r"one-time code for 'watch1' \(good for 24 hours\): (\S+)", output)
    assert found, output
    database = Database(create_database_engine(demo_env["POUCH_DATABASE_URL"]))
    from datetime import UTC, datetime

    with database.transaction() as session:
        identity_service.complete_password_reset(
            session, code=found.group(1), password="chosen by watch1 alone", now=datetime.now(UTC)
        )
    with database.transaction() as session:
        assert identity_service.authenticate_password(
            session, username="watch1", password="chosen by watch1 alone"
        )
    code, output = run(demo_env, "users", "reset-password", "nobody")
    assert code == 1 and "no user named 'nobody'" in output


def test_a_missing_database_is_named_with_the_setting_and_the_command_to_run(
    tmp_path: Path,
) -> None:
    """Run from the wrong folder: no empty database is left behind, no traceback."""
    missing = tmp_path / "elsewhere" / "pouch.sqlite3"
    code, output = run({"POUCH_DATABASE_URL": f"sqlite:///{missing}"}, "users", "list")
    assert code == 1
    assert output.startswith(f"error: there is no database at {missing} ")
    assert f"(POUCH_DATABASE_URL=sqlite:///{missing})" in output
    assert "pouch db upgrade" in output and "Traceback" not in output
    assert not missing.exists() and not missing.parent.exists()

    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    code, output = run({"POUCH_DATABASE_URL": f"sqlite:///{empty}"}, "directory", "export")
    assert code == 1 and output.startswith("error: the database has no Pouch tables")
    code, output = run({"POUCH_DATABASE_URL": f"sqlite:///{empty}"}, "db", "upgrade")
    assert code == 0, output
    code, output = run({"POUCH_DATABASE_URL": f"sqlite:///{empty}"}, "users", "list")
    assert code == 0, output


def test_tables_do_not_wrap_when_piped(demo_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["users", "list"], env={**demo_env, "COLUMNS": None})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) > 80  # as long as the table is, not cut at 80
    # One line per user: every row of the table holds its user's whole entry.
    assert sum("sender@ie-taoiseach" in line for line in lines) == 1


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{", "is not a downloaded receipt"),
        ('{"receipt": 5}', "it has no receipt"),
        ('{"receipt": "x", "opening": {}}', "an opening is an object"),
        ('{"receipt": "x", "opening": {"index": 1, "salt": "%%", "event": {}}}', "base64"),
        ("c2sp.org/tlog-proof@v1\n", "--entry: a proof alone needs the entry's bytes"),
    ],
)
def test_receipt_verify_names_what_is_wrong_with_the_file(
    tmp_path: Path, content: str, said: str
) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text(content)
    vkey = "localhost/pouch+bf92ddfe+Adtp0asf03PdHgbTJ+YBiDdwbxEbxfXcEAjJmCSK+Hm+"
    code, output = run({}, "receipt", "verify", str(receipt), "--vkey", vkey)
    assert code in (1, 2) and said in output, output
