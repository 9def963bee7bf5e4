"""The ledger's error tree.

Every error the pure ledger modules raise on input from outside (a proof, a
note, a checkpoint, a tile, a bundle, a receipt) is a ``LedgerFormatError``,
itself a ``ValueError``, so a caller can catch one class at the boundary::

    LedgerFormatError(ValueError)
    ├── MalformedKey          vkey/skey text, key names, verifier sets
    ├── MalformedNote         signed-note framing and signature lines
    ├── MalformedCheckpoint   tlog-checkpoint note text
    ├── MalformedTile         tile and entry-bundle paths, tile contents
    ├── MalformedBundle       entry-bundle contents and framing
    ├── MalformedReceipt      tlog-proof framing
    ├── BadSignature          a known key's signature does not verify
    │   └── UnverifiedNote    no signature from a required or known key verified
    ├── UnexpectedOrigin      a checkpoint from another log than expected
    └── InvalidProof          an inclusion or consistency proof does not hold

Each message names the exact problem and where it is, for example
``checkpoint line 2: tree size '007' has a leading zero``.

Misuse by the calling code (asking for a proof of a leaf beyond the tree,
signing a text without its final newline) raises a plain ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "InvalidProof",
    "LedgerFormatError",
    "MalformedBundle",
    "MalformedCheckpoint",
    "MalformedKey",
    "MalformedNote",
    "MalformedReceipt",
    "MalformedTile",
    "UnexpectedOrigin",
    "UnverifiedNote",
]


class LedgerFormatError(ValueError):
    """Input from outside the ledger failed to parse or to verify."""


class MalformedKey(LedgerFormatError):
    """A verifier or signer key, or a key name, breaks c2sp.org/signed-note."""


class MalformedNote(LedgerFormatError):
    """A note breaks the c2sp.org/signed-note framing."""


class MalformedCheckpoint(LedgerFormatError):
    """A note text is not a c2sp.org/tlog-checkpoint."""


class MalformedTile(LedgerFormatError):
    """A tile or entry-bundle path, or a tile body, breaks c2sp.org/tlog-tiles."""


class MalformedBundle(LedgerFormatError):
    """An entry bundle breaks c2sp.org/tlog-tiles."""


class MalformedReceipt(LedgerFormatError):
    """A receipt breaks c2sp.org/tlog-proof."""


class BadSignature(LedgerFormatError):
    """A signature from a known key does not verify."""


class UnverifiedNote(BadSignature):
    """No signature from a known (or from the required) key verified."""


class UnexpectedOrigin(LedgerFormatError):
    """A checkpoint names another log than the one expected."""


class InvalidProof(LedgerFormatError):
    """An inclusion or consistency proof does not hold."""
