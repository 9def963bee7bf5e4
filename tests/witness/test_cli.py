"""``pouch witness`` as another party runs it: only its own files, clear errors, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pouch.cli import app
from pouch.ledger.note import CosignatureVerifier, Ed25519Signer
from pouch.witness.loglist import LogList
from pouch.witness.service import Witness
from pouch.witness.state import WitnessState
from tests.witness.helpers import ORIGIN, TestLog


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # Pouch's own database and log key are nowhere to be found: the witness needs neither.
    return {
        "COLUMNS": "400",
        "POUCH_DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'pouch.sqlite3'}",
        "POUCH_LOG_KEY_FILE": str(tmp_path / "absent" / "log.skey"),
        "POUCH_DATA_DIR": str(tmp_path / "absent"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["witness", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_keygen_writes_a_private_key_file_and_prints_the_verifier_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "witness.skey"
    code, stdout, _ = run(env, "keygen", "--name", "witness.embassy.example/w1", "--out", str(out))
    assert code == 0
    verifier = CosignatureVerifier.from_vkey(stdout.strip())
    assert verifier.name == "witness.embassy.example/w1"
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("PRIVATE+KEY+witness.embassy.example/w1+")
    before = out.read_bytes()
    code, _, stderr = run(env, "keygen", "--name", "x.example/w", "--out", str(out))
    assert code == 2 and stderr == f"error: {out}: exists; refusing to replace a witness key\n"
    assert out.read_bytes() == before


def test_keygen_refuses_a_name_no_note_can_carry(env: dict[str, str], tmp_path: Path) -> None:
    code, _, stderr = run(env, "keygen", "--name", "a name", "--out", str(tmp_path / "k"))
    assert code == 2 and "--name: key name 'a name' contains the space U+0020" in stderr
    assert not (tmp_path / "k").exists()


def test_add_log_writes_a_list_the_server_reads(env: dict[str, str], tmp_path: Path) -> None:
    logs = tmp_path / "logs.txt"
    add = ["add-log", "--logs", str(logs)]
    first = Ed25519Signer(ORIGIN, bytes(32)).verifier
    second = Ed25519Signer("other.example/log", bytes(range(32))).verifier
    assert run(env, *add, "--vkey", first.vkey, "--contact", "a@x")[0] == 0
    code, stdout, _ = run(
        env, *add, "--vkey", second.vkey, "--contact", "b@x",
        "--origin", "other.example/renamed", "--qpd", "24",
    )  # fmt: skip
    assert code == 0 and "added other.example/renamed" in stdout
    parsed = LogList.parse(logs.read_text())
    assert parsed.origins == (ORIGIN, "other.example/renamed")
    assert parsed.entries[1].qpd == 24
    code, _, stderr = run(env, *add, "--vkey", first.vkey, "--contact", "again")
    assert code == 2 and "is already listed on line" in stderr
    assert LogList.parse(logs.read_text()) == parsed


@pytest.fixture
def files(tmp_path: Path, env: dict[str, str]) -> dict[str, Path]:
    key = tmp_path / "witness.skey"
    run(env, "keygen", "--name", "witness.example/w1", "--out", str(key))
    logs = tmp_path / "logs.txt"
    logs.write_text(
        f"logs/v0\nvkey {Ed25519Signer(ORIGIN, bytes(32)).verifier.vkey}\nqpd 1\ncontact x\n"
    )
    return {"key": key, "logs": logs, "state": tmp_path / "state.sqlite3"}


def serve_args(files: dict[str, Path], **changed: Path) -> list[str]:
    paths = {**files, **changed}
    return ["serve", "--key", str(paths["key"]), "--logs", str(paths["logs"]),
            "--state", str(paths["state"]), "--port", "0"]  # fmt: skip


@pytest.mark.parametrize(
    ("problem", "content", "which", "message"),
    [
        ("missing key", None, "key", "{path}: no such file"),
        ("malformed key", "PRIVATE+KEY+oops", "key", "{path}: skey is not PRIVATE+KEY+"),
        (
            "the log's key",
            Ed25519Signer("l.example/log", bytes(32)).skey,
            "key",
            "skey has signature type 0x01",
        ),
        ("missing list", None, "logs", "{path}: no such file"),
        ("malformed list", "logs/v0\nvkey x\n", "logs", "{path}: line 2: vkey 'x' is not"),
        ("empty list", "# nothing yet\nlogs/v0\n", "logs", "{path}: lists no log to cosign for"),
        ("not a state", "not a database at all" * 50, "state", "{path}: file is not a database"),
    ],
)
def test_serve_refuses_unusable_files_in_one_line(
    env: dict[str, str],
    files: dict[str, Path],
    tmp_path: Path,
    problem: str,
    content: str | None,
    which: str,
    message: str,
) -> None:
    path = tmp_path / f"bad-{which}"
    if content is not None:
        path.write_text(content)
    code, stdout, stderr = run(env, *serve_args(files, **{which: path}))
    assert code == 2, problem
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert message.format(path=path) in stderr, stderr
    assert "serving" not in stdout


def test_show_lists_each_log_and_the_evidence_kept(
    env: dict[str, str], files: dict[str, Path], witness: Witness, log: TestLog
) -> None:
    witness.state = WitnessState(files["state"])
    witness.add_checkpoint(log.request(0, 6))
    fork_body = log.fork().request(6, 6)
    with pytest.raises(Exception, match="a fork"):
        witness.add_checkpoint(fork_body)

    code, stdout, _ = run(env, "show", "--state", str(files["state"]))

    assert code == 0
    assert f"{ORIGIN}  size 6  cosigned 2026-05-28T" in stdout
    assert "1 refusals kept as evidence" in stdout
    assert (
        "#1 2026-05-28T" in stdout and "422  another tree of the cosigned size 6: a fork" in stdout
    )
    result = CliRunner().invoke(
        app, ["witness", "show", "--state", str(files["state"]), "--refusal", "1"], env=env
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == fork_body  # the evidence, byte for byte


def test_show_needs_an_existing_state(env: dict[str, str], tmp_path: Path) -> None:
    code, _, stderr = run(env, "show", "--state", str(tmp_path / "nothing.sqlite3"))
    assert code == 2 and "nothing.sqlite3: no witness state here" in stderr
    assert not (tmp_path / "nothing.sqlite3").exists()
