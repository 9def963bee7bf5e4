"""Sender authentication by HTTP Message Signatures (RFC 9421) with Ed25519.

A sender office registers Ed25519 public keys; each submission carries the
office's API token in ``Authorization`` and a signature by one of those keys.
The ``http-message-signatures`` library builds the signature base and checks
the Ed25519 signature; this module holds the policy around it, which every
request must meet, and checks the signed Content-Digest (RFC 9530) against the
body:

- **One signature.** The first label in ``Signature-Input`` whose ``keyid``
  names a registered, unrevoked key is the one verified; when none does, the
  first label is, and its key's fault is the reason. Other labels are ignored,
  and a label the ``Signature`` header lacks (or the reverse) is refused. At
  most ``MAX_SIGNATURES`` labels in at most ``MAX_FIELD_LENGTH`` characters.
- **Ed25519 only.** Every registered key is Ed25519, so the key decides the
  algorithm; ``alg``, when present, must be ``"ed25519"``.
- **Coverage.** The signature covers ``@method``; ``@target-uri`` (or all of
  ``@authority``, ``@path`` and ``@query``: the query must be signed too);
  ``content-digest``; and ``authorization``, which binds the API token to the
  signature, so a leaked token alone cannot submit anything.
- **Time.** ``created``, ``expires`` and ``nonce`` are required. ``created``
  may be at most ``max_skew`` in the future and at most ``max_age`` old;
  ``expires`` must be after now, after ``created``, and at most ``max_age``
  after it. Times come from the caller's clock, never from the wall clock.
- **Body.** ``Content-Digest`` (sha-256 or sha-512, nothing else) must match
  the exact body bytes.
- **Replay.** Only when all of the above holds is the caller's
  ``nonce_is_fresh(key_id, nonce, expires)`` asked; it records the nonce and
  answers False when it was seen before. It may forget a nonce after
  ``expires``, since the signature is refused from then on anyway.
- **Office.** The verdict names the key's office; the caller compares it with
  the API token's office, or passes ``expected_office_id`` to have a key of
  another office refused before the nonce is spent.

Every failure raises ``SignatureRejected`` whose ``reason`` is a short, stable
sentence meant for the ``detail`` of an RFC 9457 problem (the web layer shows
it as a 401 ``invalid-signature`` problem), for example ``no Signature-Input
header``, ``unknown key 'k9'``, ``key 'k1' is revoked``, ``alg must be
ed25519``, ``signature covers no content-digest``, ``created is 7 minutes old;
the limit is 5 minutes``, ``signature does not verify``, ``Content-Digest does
not match the body``, ``nonce already used``. A malformed header of any kind
gives ``SignatureRejected`` too, never another exception.

A successful check returns a ``SignatureVerdict``: the evidence stored with
the message (key, office, times, nonce, covered components, digest, and the
SHA-256 of the signature base; the base itself is never kept, as it contains
the API token).

``url`` must be the absolute URL as the sender addressed it (public scheme,
host and port), not as a proxy rewrote it; ``headers`` may be a mapping or
the raw field lines (``str`` or Latin-1 ``bytes`` pairs, as Starlette's
``request.headers.raw``).

>>> now = datetime(2025, 1, 20, 12, 0, tzinfo=UTC)
>>> seed = bytes(range(32))
>>> key = RegisteredKey("embassy-7", office_id=7, public_key=public_key_of(seed), revoked=False)
>>> request = {"method": "POST", "url": "https://pouch.example/api/messages",
...            "headers": {"Authorization": "Bearer t0k3n"}, "body": b'{"subject": "Hi"}'}
>>> added = sign_request(**request, key_id="embassy-7", private_key=seed, created=now, nonce="n-1")
>>> sorted(added)
['Content-Digest', 'Signature', 'Signature-Input']
>>> verdict = verify_request(
...     **{**request, "headers": {**request["headers"], **added}},
...     resolve_key={"embassy-7": key}.get, now=now, nonce_is_fresh=lambda *_: True)
>>> verdict.office_id, verdict.covered_components
(7, ('@method', '@target-uri', 'content-digest', 'authorization'))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

import http_sf
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    VerifyResult,
    algorithms,
)
from http_message_signatures.structures import normalize_header_value
from http_sf.compat import Dictionary, InnerList, Item

__all__ = [
    "ALGORITHM",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_SKEW",
    "MAX_FIELD_LENGTH",
    "MAX_NONCE_LENGTH",
    "MAX_SIGNATURES",
    "SIGNED_COMPONENTS",
    "FieldLines",
    "HTTPRequest",
    "RegisteredKey",
    "SignatureRejected",
    "SignatureVerdict",
    "check_key_id",
    "decode_public_key",
    "encode_public_key",
    "generate_sender_key",
    "parse_public_key",
    "public_key_from_pem",
    "public_key_of",
    "public_key_to_pem",
    "sign_request",
    "verify_request",
]

ALGORITHM: Final = "ed25519"
DEFAULT_MAX_AGE: Final = timedelta(minutes=5)
DEFAULT_MAX_SKEW: Final = timedelta(minutes=1)
MAX_FIELD_LENGTH: Final = 8192
MAX_SIGNATURES: Final = 8
MAX_NONCE_LENGTH: Final = 128
# What ``sign_request`` covers: the components the policy requires, in order.
SIGNED_COMPONENTS: Final = ("@method", "@target-uri", "content-digest", "authorization")
# Covered as well by ``sign_request`` when the request carries them.
_OPTIONAL_SIGNED_FIELDS: Final = ("content-type", "idempotency-key")
_PARAMETERS: Final = frozenset({"alg", "created", "expires", "keyid", "nonce", "tag"})
_DIGEST_SIZES: Final = {"sha-256": 32, "sha-512": 64}
_DIGESTS: Final = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_KEY_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_BASE64URL_KEY: Final = re.compile(r"[A-Za-z0-9_-]{43}=?")


class SignatureRejected(Exception):
    """The signature does not meet the policy; ``reason`` says why, for a problem detail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RegisteredKey:
    """An Ed25519 public key registered by a sender office, as ``resolve_key`` returns it."""

    key_id: str
    office_id: int
    public_key: bytes  # raw, 32 bytes
    revoked: bool = False

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("a registered key needs a key id")
        # Fails here, at lookup, rather than as a confusing rejection later.
        Ed25519PublicKey.from_public_bytes(self.public_key)


@dataclass(frozen=True)
class SignatureVerdict:
    """What was verified, to be stored with the message as evidence.

    ``signature`` and ``content_digest`` are base64 (as in their headers);
    ``signature_base_sha256`` is hex. The signature base itself is not kept:
    it contains the ``Authorization`` header.
    """

    label: str
    key_id: str
    office_id: int
    algorithm: str
    created: datetime
    expires: datetime
    nonce: str
    covered_components: tuple[str, ...]
    signature_params: str
    signature: str
    content_digest_algorithm: str
    content_digest: str
    signature_base_sha256: str

    def to_json(self) -> dict[str, Any]:
        """The verdict as JSON-able values; ``from_json`` reads it back."""
        return {
            "label": self.label,
            "key_id": self.key_id,
            "office_id": self.office_id,
            "algorithm": self.algorithm,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
            "nonce": self.nonce,
            "covered_components": list(self.covered_components),
            "signature_params": self.signature_params,
            "signature": self.signature,
            "content_digest_algorithm": self.content_digest_algorithm,
            "content_digest": self.content_digest,
            "signature_base_sha256": self.signature_base_sha256,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignatureVerdict:
        return cls(
            label=str(data["label"]),
            key_id=str(data["key_id"]),
            office_id=int(data["office_id"]),
            algorithm=str(data["algorithm"]),
            created=datetime.fromisoformat(data["created"]),
            expires=datetime.fromisoformat(data["expires"]),
            nonce=str(data["nonce"]),
            covered_components=tuple(str(c) for c in data["covered_components"]),
            signature_params=str(data["signature_params"]),
            signature=str(data["signature"]),
            content_digest_algorithm=str(data["content_digest_algorithm"]),
            content_digest=str(data["content_digest"]),
            signature_base_sha256=str(data["signature_base_sha256"]),
        )


class FieldLines:
    """Header field lines in wire order, with the container methods the library uses.

    Names compare case-insensitively; a repeated field keeps its separate lines
    (the library joins them with ``", "``, as HTTP does). Setting a field
    replaces all its lines.
    """

    def __init__(self, lines: Iterable[tuple[str, str]] = ()) -> None:
        self._lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._lines))

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self._lines})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._lines)

    def __getitem__(self, name: str) -> str:
        values = [v for n, v in self._lines if n.lower() == name.lower()]
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]
        self._lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]


HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]]


@dataclass
class HTTPRequest:
    """A request as the library's component resolver reads it (see
    ``HTTPSignatureComponentResolver``): an uppercase method, the absolute
    encoded URL, and the header field lines.
    """

    method: str
    url: str
    headers: FieldLines

    @classmethod
    def from_raw(cls, *, method: str, url: str, headers: HeaderInput) -> HTTPRequest:
        """Build from plain values: a header mapping, or ``str`` or raw ``bytes`` pairs."""
        lines: list[tuple[str, str]] = []
        pairs: Iterable[tuple[str | bytes, str | bytes]] = (
            headers.items() if isinstance(headers, Mapping) else headers
        )
        for name, value in pairs:
            # Raw header bytes are Latin-1 by HTTP's rules; the library reads them so.
            lines.append(
                (
                    name.decode("latin-1") if isinstance(name, bytes) else name,
                    value.decode("latin-1") if isinstance(value, bytes) else value,
                )
            )
        return cls(method=method, url=url, headers=FieldLines(lines))


class _SHA512Digest(ContentDigest):
    algorithm = "sha-512"


class _Verifier(HTTPMessageVerifier):
    """The library's verifier for one request, without its own wall-clock checks.

    ``verify_request`` checks ``created`` and ``expires`` against the caller's
    clock before the signature is verified; the library's checks would use the
    real time and a different tolerance.

    ``parsed`` maps a ``Signature-Input`` or ``Signature`` value to what
    ``verify_request`` parsed from it, so the library reads that instead of
    parsing the field again; a value not in it (the chosen label alone, when
    the request has several) the library parses itself. Build one per request.
    """

    def __init__(
        self, *, key_id: str, public_key: Ed25519PublicKey, parsed: Mapping[str, dict[str, Any]]
    ) -> None:
        super().__init__(
            signature_algorithm=algorithms.ED25519,
            key_resolver=MappingKeyResolver(public_keys={key_id: public_key}, private_keys={}),
        )
        self._parsed = dict(parsed)

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None

    def _parse_signature_dictionary(self, value: str) -> Dictionary:  # type: ignore[override]
        parsed = self._parsed.get(value)
        if parsed is None:
            return super()._parse_signature_dictionary(value)
        return _library_dictionary(parsed)


def _library_dictionary(parsed: Mapping[str, Any]) -> Dictionary:
    """A dictionary ``http_sf.parse`` gave, in the objects the library builds from it.

    The same adaptation as ``HTTPSignatureHandler._parse_signature_dictionary``
    makes after its own parse; the signatures built by hand and by the library
    in the tests verify only if the two agree.
    """
    result = Dictionary()
    for label, (member, params) in parsed.items():
        node: Item | InnerList
        if isinstance(member, list):
            node = InnerList()
            for bare_value, item_params in member:
                item = Item(bare_value)
                item.params.update(item_params)
                node.append(item)
        else:
            node = Item(member)
        node.params.update(params)
        result[label] = node
    return result


class _Repeated(ValueError):
    def __init__(self, key: str, context: str) -> None:
        super().__init__(key)
        self.key = key
        self.context = context


def _reject_repeat(key: str, context: str) -> None:
    # Structured fields let the last duplicate win; in a signature that
    # ambiguity is refused instead.
    raise _Repeated(key, context)


def _shown(text: str) -> str:
    """A value from the request, quoted and cut short for a reason."""
    return "'" + (text if len(text) <= 64 else text[:64] + "...") + "'"


def _duration(seconds: int) -> str:
    """``_duration(330)`` is ``'5 minutes 30 seconds'``: at most the two largest units."""
    parts: list[str] = []
    remaining = seconds
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}" + ("" if count == 1 else "s"))
    return " ".join(parts[:2]) or "0 seconds"


def _ceil_duration(delta: timedelta) -> str:
    # Rounded up, so that a value just over its limit never reads as equal to it.
    return _duration(math.ceil(delta.total_seconds()))


def _header_fields(headers: FieldLines) -> dict[str, str]:
    """Field values by lowercase name, each line trimmed (``normalize_header_value``) and the
    lines joined with ``", "``: what the library's ``get_header_fields`` gives, in a plain dict.
    """
    lines: dict[str, list[str]] = {}
    for name, value in headers.items():
        lines.setdefault(name.lower(), []).append(normalize_header_value(value))
    return {name: ", ".join(values) for name, values in lines.items()}


def _parse_dictionary(header: str, value: str, *, member: str = "label") -> dict[str, Any]:
    """A Dictionary Structured Field (RFC 8941), refused with a reason naming ``header``."""
    if len(value) > MAX_FIELD_LENGTH:
        raise SignatureRejected(f"{header} header is longer than {MAX_FIELD_LENGTH} characters")
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_repeat
        )
    except _Repeated as repeat:
        what = member if repeat.context == "dictionary" else "parameter"
        raise SignatureRejected(
            f"{header} header repeats the {what} {_shown(repeat.key)}"
        ) from None
    except ValueError:  # http_sf.StructuredFieldError and UnicodeEncodeError
        raise SignatureRejected(
            f"{header} header is not a valid structured field dictionary"
        ) from None
    assert isinstance(parsed, dict)
    return cast(dict[str, Any], parsed)


def _component_name(item: Any) -> str:
    """A covered component as the verdict records it: ``@method``, ``content-digest;sf``."""
    name, params = item
    if not params:
        return str(name)
    quoted = http_sf.ser(name)
    return str(name) + http_sf.ser((name, params))[len(quoted) :]


def _timestamp(params: Mapping[str, Any], name: str) -> datetime:
    if name not in params:
        raise SignatureRejected(f"signature has no {name} parameter")
    value = params[name]
    if type(value) is not int:  # bool is an int too, and is refused
        raise SignatureRejected(f"{name} must be an integer")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureRejected(f"{name} is not a valid time") from None


def _check_times(
    created: datetime, expires: datetime, *, now: datetime, max_age: timedelta, max_skew: timedelta
) -> None:
    if created - now > max_skew:
        raise SignatureRejected(
            f"created is {_ceil_duration(created - now)} in the future; "
            f"the limit is {_ceil_duration(max_skew)}"
        )
    if now - created > max_age:
        raise SignatureRejected(
            f"created is {_ceil_duration(now - created)} old; "
            f"the limit is {_ceil_duration(max_age)}"
        )
    if expires <= now:
        raise SignatureRejected(f"signature expired {_ceil_duration(now - expires)} ago")
    if expires <= created:
        raise SignatureRejected("expires is not after created")
    if expires - created > max_age:
        raise SignatureRejected(
            f"expires is {_ceil_duration(expires - created)} after created; "
            f"the limit is {_ceil_duration(max_age)}"
        )


def _check_coverage(components: list[Any], fields: Mapping[str, str]) -> tuple[str, ...]:
    names: list[str] = []
    for item in components:
        if not isinstance(item, tuple) or type(item[0]) is not str:
            raise SignatureRejected("covered components must be strings")
        name = _component_name(item)
        if name in names:
            raise SignatureRejected(f"signature covers {_shown(name)} twice")
        names.append(name)
    # Only plain identifiers count: a parameter (``;sf``, ``;key``, ``;req``)
    # makes a different component.
    if "@method" not in names:
        raise SignatureRejected("signature covers no @method")
    if "@target-uri" not in names and not {"@authority", "@path", "@query"} <= set(names):
        raise SignatureRejected(
            "signature covers neither @target-uri nor @authority, @path and @query"
        )
    for required in ("content-digest", "authorization"):
        if required not in names:
            raise SignatureRejected(f"signature covers no {required}")
    # Said here rather than as the library's "cannot build the signature base".
    for item in components:
        name = item[0]
        if not name.startswith("@") and name.lower() not in fields:
            raise SignatureRejected(f"signature covers {name} but the request has no {name} header")
    return tuple(names)


def _content_digests(value: str) -> dict[str, bytes]:
    """Every digest in ``Content-Digest``; refuses what the policy does not take."""
    parsed = _parse_dictionary("Content-Digest", value, member="algorithm")
    if not parsed:
        raise SignatureRejected("Content-Digest header has no digest")
    digests: dict[str, bytes] = {}
    for algorithm, (digest, _params) in parsed.items():
        if algorithm not in _DIGEST_SIZES:
            raise SignatureRejected(
                f"Content-Digest algorithm {_shown(algorithm)} is not supported; "
                "use sha-256 or sha-512"
            )
        if not isinstance(digest, bytes):
            raise SignatureRejected(f"Content-Digest {algorithm} is not a byte sequence")
        if len(digest) != _DIGEST_SIZES[algorithm]:
            raise SignatureRejected(f"Content-Digest {algorithm} has the wrong length")
        digests[algorithm] = digest
    return digests


def _check_body(digests: Mapping[str, bytes], body: bytes) -> None:
    """Every digest sent must match ``body``, as the library's ``ContentDigest.verify`` holds."""
    if not isinstance(body, bytes) or not all(
        hmac.compare_digest(digest, _DIGESTS[algorithm](body).digest())
        for algorithm, digest in digests.items()
    ):
        raise SignatureRejected("Content-Digest does not match the body")


def _choose_label(
    inputs: Mapping[str, Any], resolve_key: Callable[[str], RegisteredKey | None]
) -> tuple[str, RegisteredKey | None]:
    """The first label whose key is registered and not revoked, else the first label."""
    resolved: dict[str, RegisteredKey | None] = {}
    for label, (member, params) in inputs.items():
        key_id = params.get("keyid")
        if not isinstance(member, list) or type(key_id) is not str:
            continue
        if key_id not in resolved:
            resolved[key_id] = resolve_key(key_id)
        key = resolved[key_id]
        if key is not None and not key.revoked:
            return label, key
    first = next(iter(inputs))
    key_id = inputs[first][1].get("keyid")
    return first, resolved.get(key_id) if type(key_id) is str else None


def verify_request(
    *,
    method: str,
    url: str,
    headers: HeaderInput,
    body: bytes,
    resolve_key: Callable[[str], RegisteredKey | None],
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    nonce_is_fresh: Callable[[str, str, datetime], bool],
    expected_office_id: int | None = None,
) -> SignatureVerdict:
    """Verify the request's signature against the policy in the module docstring.

    ``resolve_key(key_id)`` returns the registered key or None.
    ``nonce_is_fresh(key_id, nonce, expires)`` is called last, only for an
    otherwise valid signature. With ``expected_office_id``, a key registered to
    another office is refused before the nonce is spent; without it, compare
    ``verdict.office_id`` with the office the API token belongs to.

    :raises SignatureRejected: with the reason.
    :raises ValueError: ``now`` is naive (a bug in the caller, not the sender's fault).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    request = HTTPRequest.from_raw(method=method, url=url, headers=headers)
    fields = _header_fields(request.headers)
    for header in ("Signature-Input", "Signature"):
        if header.lower() not in fields:
            raise SignatureRejected(f"no {header} header")
    inputs = _parse_dictionary("Signature-Input", fields["signature-input"])
    signatures = _parse_dictionary("Signature", fields["signature"])
    if not inputs:
        raise SignatureRejected("Signature-Input header has no signature")
    if len(inputs) > MAX_SIGNATURES:
        raise SignatureRejected(f"Signature-Input header has more than {MAX_SIGNATURES} signatures")
    if inputs.keys() != signatures.keys():
        raise SignatureRejected("Signature-Input and Signature headers name different labels")

    label, key = _choose_label(inputs, resolve_key)
    components, params = inputs[label]
    signature = signatures[label][0]
    if not isinstance(components, list):
        raise SignatureRejected(f"Signature-Input {_shown(label)} is not a list of components")
    if not isinstance(signature, bytes):
        raise SignatureRejected(f"Signature {_shown(label)} is not a byte sequence")
    for name in params:
        if name not in _PARAMETERS:
            raise SignatureRejected(f"unexpected signature parameter {_shown(name)}")
    if "keyid" not in params:
        raise SignatureRejected("signature has no keyid parameter")
    key_id = params["keyid"]
    if type(key_id) is not str:
        raise SignatureRejected("keyid must be a string")
    if key is None:
        raise SignatureRejected(f"unknown key {_shown(key_id)}")
    if key.revoked:
        raise SignatureRejected(f"key {_shown(key_id)} is revoked")
    if expected_office_id is not None and key.office_id != expected_office_id:
        raise SignatureRejected(f"key {_shown(key_id)} belongs to another office")
    if "alg" in params and (type(params["alg"]) is not str or params["alg"] != ALGORITHM):
        raise SignatureRejected(f"alg must be {ALGORITHM}")
    if "tag" in params and type(params["tag"]) is not str:
        raise SignatureRejected("tag must be a string")
    created = _timestamp(params, "created")
    expires = _timestamp(params, "expires")
    if "nonce" not in params:
        raise SignatureRejected("signature has no nonce parameter")
    nonce = params["nonce"]
    if type(nonce) is not str:
        raise SignatureRejected("nonce must be a string")
    if not nonce:
        raise SignatureRejected("nonce is empty")
    if len(nonce) > MAX_NONCE_LENGTH:
        raise SignatureRejected(f"nonce is longer than {MAX_NONCE_LENGTH} characters")
    covered = _check_coverage(components, fields)
    _check_times(created, expires, now=now, max_age=max_age, max_skew=max_skew)

    # The library reads no fields but these; shown only their lines (all of
    # them, in order), it has fewer to combine, which it does twice: to find
    # the signature and to build its base.
    read = {"signature-input", "signature", *(str(item[0]).lower() for item in components)}
    request.headers = FieldLines(
        line for line in request.headers.items() if line[0].lower() in read
    )
    if len(inputs) > 1:
        # The library verifies every label it is shown; show it only the chosen one.
        request.headers["Signature-Input"] = http_sf.ser({label: inputs[label]})
        request.headers["Signature"] = http_sf.ser({label: signatures[label]})
    verifier = _Verifier(
        key_id=key_id,
        public_key=Ed25519PublicKey.from_public_bytes(key.public_key),
        parsed={fields["signature-input"]: inputs, fields["signature"]: signatures},
    )
    try:
        results = verifier.verify(request, max_age=None)
    except HTTPMessageSignaturesException as error:
        if isinstance(error.__cause__, CryptographyInvalidSignature):
            raise SignatureRejected("signature does not verify") from error
        detail = error.__cause__ if isinstance(error.__cause__, Exception) else error
        raise SignatureRejected(f"signature cannot be checked: {detail}") from error
    result: VerifyResult = results[0]

    # The signature covers content-digest (``_check_coverage``), so the field
    # parsed here is the one just verified; the library's ``verify_body`` would
    # parse it again for the same check.
    digests = _content_digests(fields["content-digest"])
    _check_body(digests, body)
    digest_algorithm = "sha-512" if "sha-512" in digests else "sha-256"

    if not nonce_is_fresh(key_id, nonce, expires):
        raise SignatureRejected("nonce already used")
    base = "\n".join(f"{name}: {value}" for name, value in result.covered_components.items())
    return SignatureVerdict(
        label=label,
        key_id=key_id,
        office_id=key.office_id,
        algorithm=ALGORITHM,
        created=created,
        expires=expires,
        nonce=nonce,
        covered_components=covered,
        signature_params=result.covered_components['"@signature-params"'],
        signature=base64.b64encode(signature).decode("ascii"),
        content_digest_algorithm=digest_algorithm,
        content_digest=base64.b64encode(digests[digest_algorithm]).decode("ascii"),
        signature_base_sha256=hashlib.sha256(base.encode("ascii")).hexdigest(),
    )


def _private_key(key: Ed25519PrivateKey | bytes) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    if len(key) != 32:
        raise ValueError("an Ed25519 private key seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(key)


def sign_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key_id: str,
    private_key: Ed25519PrivateKey | bytes,
    created: datetime | None = None,
    expires_in: timedelta = DEFAULT_MAX_AGE,
    nonce: str | None = None,
    label: str = "pouch",
    digest_algorithm: Literal["sha-256", "sha-512"] = "sha-256",
) -> dict[str, str]:
    """The headers to add so that ``verify_request`` accepts the request.

    Returns ``Content-Digest`` (unless the request has one, which must match
    ``body``), ``Signature-Input`` and ``Signature``. Covers
    ``SIGNED_COMPONENTS``, plus ``content-type`` and ``idempotency-key`` when
    the request has them; ``created`` defaults to now (whole seconds),
    ``nonce`` to a random one. ``headers`` must carry ``Authorization``.

    :raises ValueError: the request cannot be signed as given.
    """
    signing_key = _private_key(private_key)
    if created is None:
        created = datetime.now(UTC)
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    created = datetime.fromtimestamp(math.floor(created.timestamp()), UTC)
    request = HTTPRequest.from_raw(method=method, url=url, headers=headers)
    if "authorization" not in request.headers:
        raise ValueError("the request has no Authorization header; the signature must cover it")
    if "signature" in request.headers or "signature-input" in request.headers:
        raise ValueError("the request is already signed")
    had_digest = "content-digest" in request.headers
    components = list(SIGNED_COMPONENTS)
    components += [name for name in _OPTIONAL_SIGNED_FIELDS if name in request.headers]
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: signing_key}),
    )
    if digest_algorithm == "sha-512":
        signer.content_digest_class = _SHA512Digest
    try:
        signer.sign(
            request,
            key_id=key_id,
            created=created,
            expires=created + expires_in,
            nonce=secrets.token_urlsafe(16) if nonce is None else nonce,
            label=label,
            covered_component_ids=components,
            body=body,
            use_existing_digest=had_digest,
        )
    except (HTTPMessageSignaturesException, ValueError) as error:
        raise ValueError(f"cannot sign the request: {error}") from error
    added = {} if had_digest else {"Content-Digest": request.headers["content-digest"]}
    added["Signature-Input"] = request.headers["signature-input"]
    added["Signature"] = request.headers["signature"]
    return added


def check_key_id(key_id: str) -> str:
    """``key_id`` if it can be registered: 1-128 of ``A-Z a-z 0-9 . _ : -``, not starting
    with punctuation.

    >>> check_key_id("embassy-7:2025")
    'embassy-7:2025'
    """
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(
            "a key id is 1 to 128 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return key_id


def public_key_of(seed: bytes) -> bytes:
    """The raw public key of a raw 32-byte private key seed."""
    return _private_key(seed).public_key().public_bytes_raw()


def generate_sender_key(key_id: str) -> tuple[bytes, bytes]:
    """A new key pair to register under ``key_id``: (private seed, raw public key), 32 bytes each.

    >>> seed, public = generate_sender_key("embassy-7")
    >>> public == public_key_of(seed), len(seed)
    (True, 32)
    """
    check_key_id(key_id)
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def encode_public_key(public_key: bytes) -> str:
    """Raw public key as unpadded base64url (as a JWK's ``x``, RFC 8037).

    >>> encode_public_key(bytes(32))
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    """
    Ed25519PublicKey.from_public_bytes(public_key)
    return base64.urlsafe_b64encode(public_key).rstrip(b"=").decode("ascii")


def decode_public_key(text: str) -> bytes:
    """Raw public key from base64url (padding optional); only the canonical spelling."""
    text = text.strip()
    if not _BASE64URL_KEY.fullmatch(text):
        raise ValueError("an Ed25519 public key is 43 base64url characters (32 bytes)")
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=")
    except binascii.Error as error:
        raise ValueError("the public key is not valid base64url") from error
    if encode_public_key(raw) != text.rstrip("="):
        raise ValueError("the public key is not in canonical base64url")
    return raw


def public_key_to_pem(public_key: bytes) -> str:
    """Raw public key as a PEM SubjectPublicKeyInfo block."""
    key = Ed25519PublicKey.from_public_bytes(public_key)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def public_key_from_pem(pem: str | bytes) -> bytes:
    """Raw public key from a PEM SubjectPublicKeyInfo block, which must hold an Ed25519 key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise ValueError("not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the PEM public key is not an Ed25519 key")
    return key.public_bytes_raw()


def parse_public_key(text: str) -> bytes:
    """Raw public key from what an office submits for registration: PEM or base64url."""
    if "-----BEGIN" in text:
        return public_key_from_pem(text)
    return decode_public_key(text)
