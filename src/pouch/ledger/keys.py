"""The log's signing key: generated once, kept in a 0600 file or a secret setting.

The key's name is the log's origin (c2sp.org/tlog-checkpoint), so verifiers
can match a checkpoint to its key by name.
"""

from __future__ import annotations

import os
from pathlib import Path

from pouch.ledger.errors import LedgerFormatError
from pouch.ledger.note import Ed25519Signer, Ed25519Verifier, generate_key
from pouch.ledger.policy import Policy
from pouch.settings import Settings, key_file


class KeyNotConfigured(RuntimeError):
    """No signing key in the settings nor in the key file."""


def generate_key_file(path: Path, *, origin: str, overwrite: bool = False) -> str:
    """Write a new signing key to ``path`` with mode 0600; returns the verifier key."""
    skey, vkey = generate_key(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{path} exists; refusing to replace the log's key") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(skey + "\n")
    os.chmod(path, 0o600)  # also when the file existed with looser rights
    return vkey


def load_signer(settings: Settings) -> Ed25519Signer:
    """The log's signer, from ``log_signing_key`` or the key file; checks its name."""
    if settings.log_signing_key is not None:
        skey = settings.log_signing_key.get_secret_value().strip()
        where = "POUCH_LOG_SIGNING_KEY"
    else:
        path = key_file(settings)
        try:
            skey = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise KeyNotConfigured(
                f"no log signing key: run `pouch keys generate` (writes {path}) "
                "or set POUCH_LOG_SIGNING_KEY"
            ) from None
        where = str(path)
    try:
        signer = Ed25519Signer.from_skey(skey)
    except LedgerFormatError as error:
        raise KeyNotConfigured(f"{where}: not a signed-note private key ({error})") from None
    if signer.name != settings.log_origin:
        raise KeyNotConfigured(
            f"{where}: the key is named {signer.name!r} but the log origin is "
            f"{settings.log_origin!r} (POUCH_LOG_ORIGIN); they must match"
        )
    return signer


def ensure_signer(settings: Settings) -> tuple[Ed25519Signer, bool]:
    """The configured signer, generating the key file on first run.

    Returns the signer and whether a key was created now.
    """
    try:
        return load_signer(settings), False
    except KeyNotConfigured:
        if settings.log_signing_key is not None or key_file(settings).exists():
            raise
    generate_key_file(key_file(settings), origin=settings.log_origin)
    return load_signer(settings), True


def load_policy(settings: Settings, log: Ed25519Verifier) -> Policy | None:
    """The witness policy of ``POUCH_WITNESS_POLICY``, checked to name this log's key and
    at least one witness to ask; None when unset."""
    path = settings.witness_policy
    if path is None:
        return None
    where = f"POUCH_WITNESS_POLICY ({path})"
    try:
        policy = Policy.parse(path.read_bytes())
    except OSError as error:
        raise KeyNotConfigured(f"{where}: cannot read it: {error.strerror}") from None
    except LedgerFormatError as error:
        raise KeyNotConfigured(f"{where}: {error}") from None
    if all(entry.verifier != log for entry in policy.logs):
        raise KeyNotConfigured(f"{where}: no `log` line has this log's key {log.vkey}")
    if policy.quorum != "none" and not any(w.url for w in policy.witnesses):
        raise KeyNotConfigured(f"{where}: no witness has a URL to send checkpoints to")
    return policy
