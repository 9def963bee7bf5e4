"""The monitor's state directory: plain files, each replaced atomically.

::

    state.json     what the monitor verified: the log's checkpoint, the tree's right
                   edge and partial tiles (``LogView``), the party's walk and dossiers
                   (``PartyState``), and whom it belongs to (log key, office, role)
    checkpoint     a copy of the latest checkpoint verified, as the log signed it
                   (for ``pouch log verify --since``)
    leaves         the leaf hash of every entry verified, 32 bytes each, in log order
    alarms.json    the alarms of the latest poll, with their evidence
    alerted.json   the alarms already alerted (so each is alerted once), and when
    lock           held while a poll runs: one monitor per directory

``state.json`` is the one truth: ``leaves`` is appended to (and synced) before
it is replaced, and anything beyond the size it records is cut off when read,
so a monitor killed at any point starts again from its last complete poll.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pouch.monitor.logview import LogView
from pouch.monitor.party import PartyState

VERSION = 1
HASH = 32


class StateProblem(Exception):
    """The state directory cannot be used (damaged, another monitor's, busy)."""


@dataclass
class Saved:
    """What ``state.json`` holds."""

    owner: dict[str, Any]
    log: LogView
    party: PartyState | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "owner": self.owner,
            "log": self.log.to_json(),
            "party": self.party.to_json() if self.party is not None else None,
        }


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader sees the old file or the new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json(value: Any, *, indent: int | None = None) -> bytes:
    return (json.dumps(value, indent=indent, ensure_ascii=False) + "\n").encode()


class StateDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory for one poll (created when missing)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StateProblem(f"cannot use {self.path}: {error}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateProblem(f"{self.path} is in use by another monitor") from None
            yield
        finally:
            os.close(fd)

    def load(self, owner: dict[str, Any]) -> tuple[Saved, bytearray]:
        """The saved state and the leaf hashes it covers; a fresh one when there is none.
        A state of another log, office or role is refused."""
        try:
            raw = self.state_file.read_bytes()
        except FileNotFoundError:
            return Saved(owner=owner, log=LogView.empty(), party=None), bytearray()
        except OSError as error:
            raise StateProblem(f"cannot read {self.state_file}: {error}") from None
        try:
            data = json.loads(raw)
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, not {VERSION}")
            saved = Saved(
                owner=data["owner"],
                log=LogView.from_json(data["log"]),
                party=PartyState.from_json(data["party"]) if data["party"] is not None else None,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise StateProblem(f"{self.state_file} is damaged: {error}") from None
        if saved.owner != owner:
            mine = ", ".join(f"{k} {v}" for k, v in saved.owner.items())
            raise StateProblem(f"{self.path} belongs to another monitor ({mine})")
        return saved, self._leaves(saved.log.size)

    def _leaves(self, size: int) -> bytearray:
        path = self.path / "leaves"
        try:
            data = bytearray(path.read_bytes())
        except FileNotFoundError:
            data = bytearray()
        if len(data) < size * HASH:
            raise StateProblem(
                f"{path} holds {len(data) // HASH} leaf hashes; state.json needs {size}"
            )
        # Beyond the size state.json records: a poll that died before it was saved.
        del data[size * HASH :]
        return data

    def save(self, saved: Saved, *, leaves: bytearray, durable: int) -> None:
        """Save a poll's outcome: the leaves beyond the ``durable`` ones already saved
        first, then the state, then the copy of the checkpoint."""
        fd = os.open(self.path / "leaves", os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+b") as file:
            file.seek(durable * HASH)
            file.write(leaves[durable * HASH :])
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
        write_atomically(self.state_file, _json(saved.to_json()))
        if saved.log.note is not None:
            write_atomically(self.path / "checkpoint", saved.log.note)

    def alerted(self) -> dict[str, str]:
        try:
            data = json.loads((self.path / "alerted.json").read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StateProblem(f"{self.path / 'alerted.json'} is damaged: {error}") from None
        if not isinstance(data, dict):
            raise StateProblem(f"{self.path / 'alerted.json'} is damaged: not an object")
        return {str(k): str(v) for k, v in data.items()}

    def save_alerted(self, alerted: dict[str, str]) -> None:
        write_atomically(self.path / "alerted.json", _json(alerted, indent=1))

    def save_alarms(self, report: dict[str, Any]) -> None:
        write_atomically(self.path / "alarms.json", _json(report, indent=1))
