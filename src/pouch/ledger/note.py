"""Signed notes (c2sp.org/signed-note) and witness cosignatures (c2sp.org/tlog-cosignature).

Sections followed:

- signed-note "Format": a note is a text ending in a newline, a blank line,
  and one or more lines ``— <key name> <base64(key ID || signature)>``. The
  whole note is valid UTF-8 without ASCII control characters other than the
  newline. The text ends at the *last* blank line. Key names are non-empty,
  without Unicode spaces (the ``White_Space`` property) or ``+``, and here
  also without the control characters no note can carry.
- signed-note "Signatures": signatures from unknown keys are ignored, even
  when they share the name or the key ID (not both) of a known key; every
  signature from a known key is verified and one failure rejects the note
  (the spec's SHOULD); a note without a verified signature from a known key
  is rejected. A note may carry at most ``MAX_SIGNATURES`` signatures (the
  spec asks for at least 16) in at most ``MAX_NOTE_SIZE`` bytes.
- signed-note "Ed25519 signatures" and "Verifier keys": key ID
  ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; a vkey is
  ``<name>+<hex key ID>+<base64(0x01 || public key)>`` with the key ID as 8
  lowercase hex digits. Base64 is RFC 4648 §4 with padding, and only its
  canonical form is accepted (zero padding bits), so one value has one text.
- Private keys are not in the spec; they use golang.org/x/mod/sumdb/note's
  form ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>``.
- tlog-cosignature "Format" and "Ed25519 signed message": a cosigner key has
  signature type ``0x04``; its signature is ``timestamp (uint64, big-endian,
  at most 2^63 - 1) || Ed25519 signature`` over ``cosignature/v1\\n``,
  ``time <timestamp>\\n`` and the whole cosigned note text, extension lines
  included. (The ML-DSA-44 cosignature type is not supported.)

>>> signer = Ed25519Signer("example.com/log", bytes(32))
>>> note = sign_note("hello\\n", signer)
>>> open_note(note, [signer.verifier]).text
'hello\\n'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pouch.ledger.errors import BadSignature, MalformedKey, MalformedNote, UnverifiedNote

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Note",
    "NoteSignature",
    "Signer",
    "VerifiedNote",
    "Verifier",
    "add_signatures",
    "b64decode_strict",
    "check_key_name",
    "generate_cosigner_key",
    "generate_key",
    "key_id",
    "open_note",
    "parse_note",
    "parse_vkey",
    "sign_note",
    "verify_cosignature",
]

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
MAX_NOTE_SIZE = 1 << 20
MAX_TIMESTAMP = (1 << 63) - 1

_EM_DASH_SPACE = "— "
# Unicode's White_Space property, which Go's unicode.IsSpace also follows.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_SEED_SIZE = 32
_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64


# -- encodings -------------------------------------------------------------------


def b64decode_strict(text: str, what: str, error: type[ValueError]) -> bytes:
    """Decode standard, padded base64 and accept only its canonical form.

    >>> b64decode_strict("AA==", "hash", ValueError)
    b'\\x00'
    >>> b64decode_strict("AB==", "hash", ValueError)
    Traceback (most recent call last):
        ...
    ValueError: hash 'AB==' is not canonical base64 (non-zero padding bits)
    """
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} {_clip(text)!r} is not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise error(f"{what} {_clip(text)!r} is not canonical base64 (non-zero padding bits)")
    return data


def _clip(text: str) -> str:
    return text if len(text) <= 100 else text[:97] + "..."


def check_key_name(name: str, error: type[ValueError] = MalformedKey) -> None:
    """Reject names the spec forbids, and control characters no note can carry.

    >>> check_key_name("example.com/log")
    >>> check_key_name("a+b")
    Traceback (most recent call last):
        ...
    pouch.ledger.errors.MalformedKey: key name 'a+b' contains '+'
    """
    if not name:
        raise error("key name is empty")
    for ch in name:
        if ch in _WHITE_SPACE:
            raise error(f"key name {_clip(name)!r} contains the space U+{ord(ch):04X}")
        if ch == "+":
            raise error(f"key name {_clip(name)!r} contains '+'")
        if ch < " ":
            raise error(f"key name {_clip(name)!r} contains control character U+{ord(ch):04X}")
        if "\ud800" <= ch <= "\udfff":
            raise error(f"key name {_clip(name)!r} contains a lone surrogate")


def key_id(name: str, key: bytes) -> int:
    """``SHA-256(name || 0x0A || key)[:4]`` as an integer; ``key`` starts with its type byte.

    The example key of c2sp.org/signed-note:

    >>> key = base64.b64decode("AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    >>> f"{key_id('example.com/foo', key):08x}"
    '530d903a'
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    return int.from_bytes(digest[:4], "big")


# -- keys ------------------------------------------------------------------------


class Verifier(Protocol):
    """A known key, identified in notes by its name and key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (after the key ID) signs the note ``text``."""
        ...


class Signer(Protocol):
    """A private key that signs note texts."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes:
        """The signature of the note ``text``, without the key ID."""
        ...


class _PublicKey(ABC):
    signature_type: ClassVar[int]
    __slots__ = ("_key", "_key_id", "_name", "_public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        check_key_name(name)
        if len(public_key) != _PUBLIC_KEY_SIZE:
            raise MalformedKey(f"Ed25519 public key is {len(public_key)} bytes, not 32")
        self._name = name
        self._public_key = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)
        self._key_id = key_id(name, bytes([self.signature_type]) + public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public_key

    @property
    def vkey(self) -> str:
        """The key as c2sp.org/signed-note verifier key text."""
        material = base64.b64encode(bytes([self.signature_type]) + self._public_key).decode()
        return f"{self._name}+{self._key_id:08x}+{material}"

    @abstractmethod
    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (after the key ID) signs the note ``text``."""

    def _ed25519_verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _PublicKey)
            and other.signature_type == self.signature_type
            and (other.name, other.public_key) == (self._name, self._public_key)
        )

    def __hash__(self) -> int:
        return hash((self.signature_type, self._name, self._public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey!r})"


class Ed25519Verifier(_PublicKey):
    """An Ed25519 note key (signature type 0x01)."""

    signature_type = ED25519
    __slots__ = ()

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        verifier = parse_vkey(vkey)
        if not isinstance(verifier, cls):
            raise MalformedKey(f"vkey has signature type 0x{verifier.signature_type:02x}, not 0x01")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        return self._ed25519_verify(text, signature)


class CosignatureVerifier(_PublicKey):
    """A witness's Ed25519 cosigning key (signature type 0x04, cosignature/v1)."""

    signature_type = COSIGNATURE_V1
    __slots__ = ()

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        verifier = parse_vkey(vkey)
        if not isinstance(verifier, cls):
            raise MalformedKey(f"vkey has signature type 0x{verifier.signature_type:02x}, not 0x04")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        return self._ed25519_verify(_cosigned_message(timestamp, text), signature[8:])


def _cosigned_message(timestamp: int, text: bytes) -> bytes:
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def parse_vkey(vkey: str) -> Ed25519Verifier | CosignatureVerifier:
    """Parse a verifier key of signature type 0x01 (notes) or 0x04 (cosignatures).

    >>> parse_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").name
    'PeterNeumann'
    """
    # The base64 part may itself contain '+', so split off two fields only.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise MalformedKey(f"vkey {_clip(vkey)!r} is not <name>+<key ID>+<key>")
    name, hex_id, material = parts
    check_key_name(name)
    key_type, public_key = _parse_key_material(hex_id, material, "vkey")
    verifier: Ed25519Verifier | CosignatureVerifier
    if key_type == ED25519:
        verifier = Ed25519Verifier(name, public_key)
    else:
        verifier = CosignatureVerifier(name, public_key)
    if verifier.key_id != int(hex_id, 16):
        raise MalformedKey(
            f"vkey key ID {hex_id} does not match its name and key ({verifier.key_id:08x})"
        )
    return verifier


def _parse_key_material(hex_id: str, material: str, what: str) -> tuple[int, bytes]:
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise MalformedKey(f"{what} key ID {_clip(hex_id)!r} is not 8 lowercase hex digits")
    try:
        raw = b64decode_strict(material, f"{what} key", MalformedKey)
    except MalformedKey:
        # Never echo a private key into an error message.
        if what == "skey":
            raise MalformedKey("skey key is not valid canonical base64") from None
        raise
    if not raw:
        raise MalformedKey(f"{what} key is empty")
    if raw[0] not in (ED25519, COSIGNATURE_V1):
        raise MalformedKey(f"{what} has unsupported signature type 0x{raw[0]:02x}")
    if len(raw) != 1 + _PUBLIC_KEY_SIZE:
        raise MalformedKey(f"{what} Ed25519 key is {len(raw) - 1} bytes, not 32")
    return raw[0], raw[1:]


class _PrivateKey:
    signature_type: ClassVar[int]
    _verifier_class: ClassVar[type[_PublicKey]]
    __slots__ = ("_key", "_name", "_seed", "_verifier")
    _verifier: _PublicKey

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != _SEED_SIZE:
            raise MalformedKey(f"Ed25519 seed is {len(seed)} bytes, not 32")
        self._name = name
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier = self._verifier_class(name, public)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def skey(self) -> str:
        """The private key text, ``PRIVATE+KEY+<name>+<key ID>+<base64>``; keep it secret."""
        material = base64.b64encode(bytes([self.signature_type]) + self._seed).decode()
        return f"PRIVATE+KEY+{self._name}+{self.key_id:08x}+{material}"

    @staticmethod
    def _parse_skey(skey: str, signature_type: int) -> tuple[str, bytes, int]:
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            # Never echo a private key into an error message.
            raise MalformedKey("skey is not PRIVATE+KEY+<name>+<key ID>+<key>")
        name, hex_id, material = parts[2:]
        check_key_name(name)
        key_type, seed = _parse_key_material(hex_id, material, "skey")
        if key_type != signature_type:
            raise MalformedKey(
                f"skey has signature type 0x{key_type:02x}, not 0x{signature_type:02x}"
            )
        return name, seed, int(hex_id, 16)

    def _check_key_id(self, expected: int) -> None:
        if self.key_id != expected:
            raise MalformedKey(
                f"skey key ID {expected:08x} does not match its name and key ({self.key_id:08x})"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_id={self.key_id:08x})"


class Ed25519Signer(_PrivateKey):
    """An Ed25519 note signing key (signature type 0x01)."""

    signature_type = ED25519
    _verifier_class = Ed25519Verifier
    __slots__ = ()
    _verifier: Ed25519Verifier

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        name, seed, expected = cls._parse_skey(skey, ED25519)
        signer = cls(name, seed)
        signer._check_key_id(expected)
        return signer

    @property
    def verifier(self) -> Ed25519Verifier:
        return self._verifier

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)


class CosignatureSigner(_PrivateKey):
    """A witness's cosigning key (signature type 0x04); ``clock`` gives POSIX seconds."""

    signature_type = COSIGNATURE_V1
    _verifier_class = CosignatureVerifier
    __slots__ = ("_clock",)
    _verifier: CosignatureVerifier

    def __init__(self, name: str, seed: bytes, *, clock: Callable[[], int]) -> None:
        super().__init__(name, seed)
        self._clock = clock

    @classmethod
    def from_skey(cls, skey: str, *, clock: Callable[[], int]) -> CosignatureSigner:
        name, seed, expected = cls._parse_skey(skey, COSIGNATURE_V1)
        signer = cls(name, seed, clock=clock)
        signer._check_key_id(expected)
        return signer

    @property
    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def sign(self, text: bytes) -> bytes:
        timestamp = self._clock()
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
        signature = self._key.sign(_cosigned_message(timestamp, text))
        return timestamp.to_bytes(8, "big") + signature


def generate_key(name: str) -> tuple[str, str]:
    """A new Ed25519 note key: ``(skey, vkey)``."""
    signer = Ed25519Signer(name, secrets.token_bytes(_SEED_SIZE))
    return signer.skey, signer.verifier.vkey


def generate_cosigner_key(name: str) -> tuple[str, str]:
    """A new witness cosigning key (type 0x04): ``(skey, vkey)``."""
    signer = CosignatureSigner(name, secrets.token_bytes(_SEED_SIZE), clock=lambda: 0)
    return signer.skey, signer.verifier.vkey


# -- notes -----------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and ID, and the signature proper."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, newline included."""
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{_EM_DASH_SPACE}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """A note as written, signatures not checked (see ``open_note``)."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line for s in self.signatures)).encode("utf-8")


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose signatures from known keys all verified.

    ``verified`` has one signature per known key that signed (the first, if a
    key signed twice); ``unverified`` the signatures from unknown keys.
    """

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]

    def signed_by(self, key: Verifier) -> NoteSignature | None:
        """The verified signature from ``key``, if it signed."""
        for signature in self.verified:
            if (signature.name, signature.key_id) == (key.name, key.key_id):
                return signature
        return None


def parse_note(data: bytes) -> Note:
    """Split a note into its text and signature lines, checking the framing only."""
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedNote(f"note is {len(data)} bytes, more than {MAX_NOTE_SIZE}")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedNote(f"note is not valid UTF-8 at byte {error.start}") from None
    if control := _CONTROL.search(data):
        raise MalformedNote(
            f"note contains control character U+{control.group()[0]:04X} at byte {control.start()}"
        )
    split = whole.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    if not block:
        raise MalformedNote("note has no signature line after its last blank line")
    if not block.endswith("\n"):
        raise MalformedNote("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return Note(text, tuple(_parse_signature_line(line, n) for n, line in enumerate(lines, 1)))


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    where = f"note signature line {number}"
    if not line.startswith(_EM_DASH_SPACE):
        raise MalformedNote(f"{where} does not start with an em dash and a space")
    name, space, encoded = line[len(_EM_DASH_SPACE) :].partition(" ")
    if not space:
        raise MalformedNote(f"{where} has no space between key name and signature")
    try:
        check_key_name(name, MalformedNote)
    except MalformedNote as error:
        raise MalformedNote(f"{where}: {error}") from None
    raw = b64decode_strict(encoded, f"{where}: signature", MalformedNote)
    if len(raw) < 5:
        raise MalformedNote(
            f"{where}: signature is {len(raw)} bytes, less than a 4-byte key ID and a signature"
        )
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def open_note(data: bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse a note and verify it against the known keys ``verifiers``.

    Raises ``MalformedNote`` for bad framing, ``BadSignature`` when a known
    key's signature fails, ``UnverifiedNote`` when no known key signed.
    """
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_id)
        if key in known and known[key] != verifier:
            raise MalformedKey(
                f"two known keys share the name {verifier.name!r} and key ID {verifier.key_id:08x}"
            )
        known[key] = verifier
    note = parse_note(data)
    text = note.text.encode("utf-8")
    verified: dict[tuple[str, int], NoteSignature] = {}
    unverified = []
    for number, signature in enumerate(note.signatures, 1):
        key = (signature.name, signature.key_id)
        if key not in known:
            unverified.append(signature)
            continue
        if not known[key].verify(text, signature.signature):
            raise BadSignature(
                f"note signature line {number}, from known key "
                f"{signature.name}+{signature.key_id:08x}, does not verify"
            )
        verified.setdefault(key, signature)
    if not verified:
        raise UnverifiedNote(f"note has no signature from any of the {len(known)} known keys")
    return VerifiedNote(note.text, tuple(verified.values()), tuple(unverified))


def sign_note(text: str, *signers: Signer) -> bytes:
    """Sign ``text`` (which must end in a newline) with each of ``signers``."""
    if not signers:
        raise ValueError("a note needs at least one signer")
    return _write_note(text, (), signers)


def add_signatures(data: bytes, *signers: Signer) -> bytes:
    """Add signatures to a note, replacing any earlier one by the same key.

    The note's existing signatures are kept as they are, without checking.
    """
    if not signers:
        raise ValueError("no signer given")
    note = parse_note(data)
    return _write_note(note.text, note.signatures, signers)


def _write_note(
    text: str, existing: tuple[NoteSignature, ...], signers: tuple[Signer, ...]
) -> bytes:
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note text contains a lone surrogate, which UTF-8 cannot encode") from None
    if control := _CONTROL.search(encoded):
        raise ValueError(
            f"note text contains control character U+{control.group()[0]:04X} "
            f"at byte {control.start()}"
        )
    new = []
    for signer in signers:
        check_key_name(signer.name)
        new.append(NoteSignature(signer.name, signer.key_id, signer.sign(encoded)))
    replaced = {(s.name, s.key_id) for s in new}
    kept = tuple(s for s in existing if (s.name, s.key_id) not in replaced)
    note = Note(text, kept + tuple(new)).to_bytes()
    if len(kept) + len(new) > MAX_SIGNATURES or len(note) > MAX_NOTE_SIZE:
        raise ValueError(
            f"note would have {len(kept) + len(new)} signatures in {len(note)} bytes, "
            f"more than {MAX_SIGNATURES} or {MAX_NOTE_SIZE} bytes"
        )
    return note


# -- cosignatures ----------------------------------------------------------------


@dataclass(frozen=True)
class Cosignature:
    """A verified witness cosignature and the time the witness says it made it."""

    name: str
    key_id: int
    timestamp: int

    @classmethod
    def from_signature(cls, signature: NoteSignature) -> Cosignature:
        """The timestamp of a cosignature/v1 signature line (already verified)."""
        if len(signature.signature) != 8 + _SIGNATURE_SIZE:
            raise MalformedNote(
                f"cosignature from {signature.name} is {len(signature.signature)} bytes, "
                "not a timestamp and an Ed25519 signature (72)"
            )
        timestamp = int.from_bytes(signature.signature[:8], "big")
        return cls(signature.name, signature.key_id, timestamp)


def verify_cosignature(data: bytes, witness: CosignatureVerifier) -> Cosignature:
    """Check that ``witness`` cosigned the note ``data``; return its cosignature.

    Other signatures are ignored; use ``checkpoint.open_checkpoint`` to check
    the log's own signature and the checkpoint text too.
    """
    opened = open_note(data, [witness])
    signature = opened.signed_by(witness)
    # open_note fails unless the only known key signed.
    assert signature is not None
    return Cosignature.from_signature(signature)
