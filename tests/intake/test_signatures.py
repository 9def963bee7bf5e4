"""Sender authentication by HTTP Message Signatures: the policy, its reasons, and RFC 9421 vectors.

``hand_signed`` builds signatures without the library (the signature base
written out as RFC 9421 section 2.5 describes it), so the tests can send what
``sign_request`` never would, and check the library against an independent
construction.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pouch.intake.signatures import (
    MAX_FIELD_LENGTH,
    MAX_NONCE_LENGTH,
    MAX_SIGNATURES,
    SIGNED_COMPONENTS,
    FieldLines,
    HTTPRequest,
    RegisteredKey,
    SignatureRejected,
    SignatureVerdict,
    check_key_id,
    decode_public_key,
    encode_public_key,
    generate_sender_key,
    parse_public_key,
    public_key_from_pem,
    public_key_of,
    public_key_to_pem,
    sign_request,
    verify_request,
)

NOW = datetime(2025, 1, 20, 12, 0, tzinfo=UTC)
URL = "https://pouch.example/api/messages?lang=fr"
TOKEN = "Bearer pch_office1_9f8e7d6c5b4a"
BODY = b'{"subject": "Congratulations on your election", "precedence": "PRIORITY"}'
SEED_1 = bytes([1]) * 32
SEED_2 = bytes([2]) * 32
SEED_OLD = bytes([3]) * 32
KEYS = {
    key.key_id: key
    for key in (
        RegisteredKey("k1", office_id=1, public_key=public_key_of(SEED_1)),
        RegisteredKey("k2", office_id=2, public_key=public_key_of(SEED_2)),
        RegisteredKey("k-old", office_id=1, public_key=public_key_of(SEED_OLD), revoked=True),
    )
}

# RFC 9421 Appendix B.1.4, "Example Ed25519 Test Key".
RFC_KEY_ID = "test-key-ed25519"
RFC_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC_PRIVATE_PEM = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_JWK_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
RFC_JWK_D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
# RFC 9421 Appendix B.2, the example request, and B.2.6, "Signing a Request Using ed25519".
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
    ),
    "Content-Length": "18",
}
RFC_B26_COMPONENTS = ("date", "@method", "@path", "@authority", "content-type", "content-length")
RFC_B26_CREATED = 1618884473
RFC_B26_SIGNATURE_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQ"
    "CK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)
RFC_B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)


def rfc_seed() -> bytes:
    return base64.urlsafe_b64decode(RFC_JWK_D + "=")


class NonceBook:
    """What the caller keeps: every (key, nonce) seen, until it expires."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    def __call__(self, key_id: str, nonce: str, expires: datetime) -> bool:
        if (key_id, nonce) in self.seen:
            return False
        self.seen[key_id, nonce] = expires
        return True


def signed(
    *,
    key_id: str = "k1",
    seed: bytes | Ed25519PrivateKey = SEED_1,
    created: datetime | None = NOW,
    nonce: str | None = "nonce-1",
    method: str = "POST",
    url: str = URL,
    headers: Mapping[str, str] | None = None,
    body: bytes = BODY,
    **options: Any,
) -> dict[str, Any]:
    """A request signed by ``sign_request``, as keyword arguments for ``verify_request``."""
    headers = {"Authorization": TOKEN} if headers is None else dict(headers)
    added = sign_request(
        method=method,
        url=url,
        headers=headers,
        body=body,
        key_id=key_id,
        private_key=seed,
        created=created,
        nonce=nonce,
        **options,
    )
    return {"method": method, "url": url, "headers": {**headers, **added}, "body": body}


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def default_params() -> dict[str, str]:
    return {
        "created": str(timestamp(NOW)),
        "expires": str(timestamp(NOW + timedelta(minutes=5))),
        "keyid": '"k1"',
        "nonce": '"hand-1"',
        "alg": '"ed25519"',
    }


def component_value(name: str, *, method: str, url: str, headers: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    derived = {
        "@method": method,
        "@target-uri": url,
        "@authority": parts.netloc.lower(),
        "@path": parts.path or "/",
        "@query": "?" + parts.query,
    }
    if name in derived:
        return derived[name]
    return next(v.strip() for k, v in headers.items() if k.lower() == name)


def hand_signed(
    *,
    components: tuple[str, ...] = SIGNED_COMPONENTS,
    params: Mapping[str, str] | None = None,
    drop: tuple[str, ...] = (),
    seed: bytes = SEED_1,
    label: str = "sig1",
    method: str = "POST",
    url: str = URL,
    headers: Mapping[str, str] | None = None,
    body: bytes = BODY,
    digest: str | None = None,
) -> tuple[dict[str, Any], str]:
    """A request signed without the library, and its signature base.

    ``params`` are serialized Structured Field values, overriding the defaults;
    ``drop`` removes parameters; ``digest`` is a Content-Digest to send instead
    of the right one.
    """
    if digest is None:
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    headers = {"Authorization": TOKEN, "Content-Digest": digest, **(headers or {})}
    merged = {**default_params(), **(params or {})}
    signature_params = "(" + " ".join(f'"{name}"' for name in components) + ")"
    signature_params += "".join(f";{k}={v}" for k, v in merged.items() if k not in drop)
    lines = [
        f'"{name}": {component_value(name, method=method, url=url, headers=headers)}'
        for name in components
    ]
    base = "\n".join([*lines, f'"@signature-params": {signature_params}'])
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(base.encode("ascii"))
    headers["Signature-Input"] = f"{label}={signature_params}"
    headers["Signature"] = f"{label}=:{base64.b64encode(signature).decode()}:"
    return {"method": method, "url": url, "headers": headers, "body": body}, base


def verify(
    request: Mapping[str, Any],
    *,
    now: datetime = NOW,
    book: NonceBook | None = None,
    **options: Any,
) -> SignatureVerdict:
    return verify_request(
        **request,
        resolve_key=KEYS.get,
        now=now,
        nonce_is_fresh=NonceBook() if book is None else book,
        **options,
    )


def rejection(request: Mapping[str, Any], **options: Any) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(request, **options)
    return caught.value.reason


def with_headers(request: Mapping[str, Any], **changes: str | None) -> dict[str, Any]:
    """``request`` with headers replaced (keyword ``Signature_Input`` is ``Signature-Input``)."""
    headers = dict(request["headers"])
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            del headers[header]
        else:
            headers[header] = value
    return {**request, "headers": headers}


def library_signed(
    components: tuple[str, ...], *, lines: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """A request signed by the library itself over ``components``, in RFC 9421 syntax
    (``'"@query-param";name="lang"'``), sent as the header ``lines`` given plus its own.
    """
    request = HTTPRequest.from_raw(
        method="POST", url=URL, headers=[("Authorization", TOKEN)] if lines is None else lines
    )
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={"k1": Ed25519PrivateKey.from_private_bytes(SEED_1)}
        ),
    )
    signer.sign(
        request,
        key_id="k1",
        created=NOW,
        expires=NOW + timedelta(minutes=5),
        nonce="lib-1",
        label="lib",
        covered_component_ids=components,
        body=BODY,
    )
    return {"method": "POST", "url": URL, "headers": request.headers.items(), "body": BODY}


# Round trip


def test_a_signed_request_is_accepted_with_its_evidence() -> None:
    request = signed()
    verdict = verify(request)
    signature_input = request["headers"]["Signature-Input"]
    assert verdict.label == "pouch"
    assert verdict.key_id == "k1"
    assert verdict.office_id == 1
    assert verdict.algorithm == "ed25519"
    assert verdict.created == NOW
    assert verdict.expires == NOW + timedelta(minutes=5)
    assert verdict.nonce == "nonce-1"
    assert verdict.covered_components == SIGNED_COMPONENTS
    assert signature_input == "pouch=" + verdict.signature_params
    assert request["headers"]["Signature"] == f"pouch=:{verdict.signature}:"
    assert verdict.content_digest_algorithm == "sha-256"
    assert base64.b64decode(verdict.content_digest) == hashlib.sha256(BODY).digest()
    assert len(verdict.signature_base_sha256) == 64
    assert 'alg="ed25519"' in signature_input
    assert 'nonce="nonce-1"' in signature_input


def test_the_verdict_round_trips_through_json() -> None:
    verdict = verify(signed())
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["covered_components"] == list(SIGNED_COMPONENTS)
    assert data["created"] == "2025-01-20T12:00:00+00:00"
    assert SignatureVerdict.from_json(data) == verdict


def test_the_signature_base_hash_is_the_hash_of_the_base_built_by_hand() -> None:
    request, base = hand_signed()
    verdict = verify(request)
    assert verdict.signature_base_sha256 == hashlib.sha256(base.encode()).hexdigest()
    assert verdict.label == "sig1"
    assert verdict.nonce == "hand-1"


def test_the_nonce_callback_gets_key_nonce_and_expiry() -> None:
    calls: list[tuple[str, str, datetime]] = []

    def fresh(key_id: str, nonce: str, expires: datetime) -> bool:
        calls.append((key_id, nonce, expires))
        return True

    verify_request(**signed(), resolve_key=KEYS.get, now=NOW, nonce_is_fresh=fresh)
    assert calls == [("k1", "nonce-1", NOW + timedelta(minutes=5))]


def test_content_type_and_idempotency_key_are_covered_when_present() -> None:
    headers = {"Authorization": TOKEN, "Content-Type": "application/json", "Idempotency-Key": "a1"}
    verdict = verify(signed(headers=headers))
    assert verdict.covered_components == (*SIGNED_COMPONENTS, "content-type", "idempotency-key")


def test_sha512_digests_are_accepted_and_recorded() -> None:
    verdict = verify(signed(digest_algorithm="sha-512"))
    assert verdict.content_digest_algorithm == "sha-512"
    assert base64.b64decode(verdict.content_digest) == hashlib.sha512(BODY).digest()


def test_with_both_digests_the_sha512_one_is_recorded() -> None:
    both = (
        f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()).decode()}:, "
        f"sha-512=:{base64.b64encode(hashlib.sha512(BODY).digest()).decode()}:"
    )
    verdict = verify(hand_signed(digest=both)[0])
    assert verdict.content_digest_algorithm == "sha-512"


def test_an_empty_body_is_signed_and_digested_too() -> None:
    verdict = verify(signed(body=b""))
    assert base64.b64decode(verdict.content_digest) == hashlib.sha256(b"").digest()


def test_authority_path_and_query_may_stand_for_the_target_uri() -> None:
    components = ("@method", "@authority", "@path", "@query", "content-digest", "authorization")
    verdict = verify(hand_signed(components=components)[0])
    assert verdict.covered_components == components


def test_alg_may_be_omitted_as_the_registered_key_decides() -> None:
    assert verify(hand_signed(drop=("alg",))[0]).algorithm == "ed25519"


def test_a_tag_is_allowed() -> None:
    assert verify(hand_signed(params={"tag": '"pouch"'})[0]).key_id == "k1"


def test_a_private_key_object_signs_like_its_seed() -> None:
    from_seed = signed()
    from_object = signed(seed=Ed25519PrivateKey.from_private_bytes(SEED_1))
    assert from_seed == from_object


def test_nonces_are_random_by_default() -> None:
    first, second = signed(nonce=None), signed(nonce=None)
    assert verify(first).nonce != verify(second).nonce


def test_created_defaults_to_the_wall_clock() -> None:
    verdict = verify(signed(created=None), now=datetime.now(UTC))
    assert abs(verdict.created - datetime.now(UTC)) < timedelta(minutes=1)


def test_raw_header_lines_as_starlette_gives_them() -> None:
    request = signed(headers={"Authorization": TOKEN, "Content-Type": "application/json"})
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in request["headers"].items()]
    assert verify({**request, "headers": raw}).office_id == 1


def test_header_lines_as_str_pairs_and_split_signature_fields() -> None:
    first = signed(label="one")
    second = signed(key_id="k2", seed=SEED_2, label="two", nonce="nonce-2")
    lines = [(k, v) for k, v in first["headers"].items()]
    lines.append(("Signature-Input", second["headers"]["Signature-Input"]))
    lines.append(("Signature", second["headers"]["Signature"]))
    verdict = verify({**first, "headers": lines})
    assert (verdict.label, verdict.key_id) == ("one", "k1")


def test_a_covered_field_in_several_lines_is_signed_with_all_of_them() -> None:
    lines = [("Authorization", TOKEN), ("X-Trace", "a"), ("Accept", "*/*"), ("x-trace", " b ")]
    request = library_signed((*SIGNED_COMPONENTS, "x-trace"), lines=lines)
    assert verify(request).covered_components == (*SIGNED_COMPONENTS, "x-trace")
    changed = [(k, "c" if (k, v) == ("x-trace", " b ") else v) for k, v in request["headers"]]
    assert rejection({**request, "headers": changed}) == "signature does not verify"
    uncovered = [(k, "text/html" if k == "Accept" else v) for k, v in request["headers"]]
    assert verify({**request, "headers": uncovered}).key_id == "k1"


def test_each_request_is_verified_against_its_own_signature_headers() -> None:
    first = signed()
    second = signed(key_id="k2", seed=SEED_2, nonce="nonce-2")
    assert (verify(first).key_id, verify(first).nonce) == ("k1", "nonce-1")
    assert (verify(second).key_id, verify(second).nonce) == ("k2", "nonce-2")
    # Same label and key, another signature: nothing of the first request is reused.
    mixed = with_headers(first, Signature=second["headers"]["Signature"])
    assert rejection(mixed) == "signature does not verify"
    assert verify(first).signature == verify(first).signature != verify(second).signature


# Keys


def test_unknown_key() -> None:
    assert rejection(signed(key_id="k9")) == "unknown key 'k9'"


def test_a_long_key_id_is_cut_short_in_the_reason() -> None:
    assert rejection(signed(key_id="x" * 100)) == f"unknown key '{'x' * 64}...'"


def test_revoked_key() -> None:
    assert rejection(signed(key_id="k-old", seed=SEED_OLD)) == "key 'k-old' is revoked"


def test_another_offices_key_is_reported_in_the_verdict() -> None:
    assert verify(signed(key_id="k2", seed=SEED_2)).office_id == 2


def test_another_offices_key_is_refused_before_the_nonce_is_spent() -> None:
    book = NonceBook()
    request = signed(key_id="k2", seed=SEED_2)
    reason = rejection(request, book=book, expected_office_id=1)
    assert reason == "key 'k2' belongs to another office"
    assert book.seen == {}
    assert verify(request, book=book, expected_office_id=2).office_id == 2


def test_a_signature_by_another_key_than_its_keyid_names() -> None:
    assert rejection(signed(key_id="k1", seed=SEED_2)) == "signature does not verify"


# Tampering


def tampered_method(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "method": "PUT"}


def tampered_body(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "body": request["body"].replace(b"PRIORITY", b"FLASH")}


def tampered_path(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "url": request["url"].replace("/api/messages", "/api/messages/2")}


def tampered_query(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "url": request["url"].replace("lang=fr", "lang=en")}


def tampered_host(request: dict[str, Any]) -> dict[str, Any]:
    return {**request, "url": request["url"].replace("pouch.example", "evil.example")}


def tampered_authorization(request: dict[str, Any]) -> dict[str, Any]:
    return with_headers(request, Authorization="Bearer pch_office2_stolen")


def tampered_digest(request: dict[str, Any]) -> dict[str, Any]:
    body = tampered_body(request)["body"]
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    return {**with_headers(request, Content_Digest=digest), "body": body}


def tampered_content_type(request: dict[str, Any]) -> dict[str, Any]:
    return with_headers(request, Content_Type="text/plain")


def tampered_signature(request: dict[str, Any]) -> dict[str, Any]:
    value = request["headers"]["Signature"]
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    return with_headers(request, Signature=flipped)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (tampered_body, "Content-Digest does not match the body"),
        (tampered_method, "signature does not verify"),
        (tampered_path, "signature does not verify"),
        (tampered_query, "signature does not verify"),
        (tampered_host, "signature does not verify"),
        (tampered_authorization, "signature does not verify"),
        (tampered_digest, "signature does not verify"),
        (tampered_content_type, "signature does not verify"),
        (tampered_signature, "signature does not verify"),
    ],
)
def test_tampering_is_detected(tamper: Any, reason: str) -> None:
    request = signed(headers={"Authorization": TOKEN, "Content-Type": "application/json"})
    verify(request)
    assert rejection(tamper(request)) == reason


def test_a_rejected_request_spends_no_nonce() -> None:
    book = NonceBook()
    rejection(tampered_body(signed()), book=book)
    assert book.seen == {}
    assert verify(signed(), book=book).nonce == "nonce-1"


# Replay and time


def test_replay_of_the_same_nonce() -> None:
    book = NonceBook()
    request = signed()
    verify(request, book=book)
    assert rejection(request, book=book) == "nonce already used"


def test_too_old() -> None:
    request = signed(created=NOW - timedelta(minutes=7))
    assert rejection(request) == "created is 7 minutes old; the limit is 5 minutes"


def test_too_old_by_a_fraction_of_a_second_reads_as_more_than_the_limit() -> None:
    request = signed(created=NOW - timedelta(minutes=5))
    reason = rejection(request, now=NOW + timedelta(milliseconds=500))
    assert reason == "created is 5 minutes 1 second old; the limit is 5 minutes"


def test_created_in_the_future() -> None:
    request = signed(created=NOW + timedelta(minutes=3))
    assert rejection(request) == "created is 3 minutes in the future; the limit is 1 minute"


def test_created_slightly_in_the_future_is_tolerated() -> None:
    assert verify(signed(created=NOW + timedelta(seconds=59))).key_id == "k1"


def test_expired() -> None:
    request = signed(created=NOW - timedelta(minutes=4), expires_in=timedelta(minutes=3))
    assert rejection(request) == "signature expired 1 minute ago"


def test_expiring_exactly_now_is_expired() -> None:
    request = signed(created=NOW - timedelta(minutes=5))
    assert rejection(request) == "signature expired 0 seconds ago"


def test_lifetime_longer_than_the_maximum_age() -> None:
    request = signed(expires_in=timedelta(minutes=10))
    reason = rejection(request)
    assert reason == "expires is 10 minutes after created; the limit is 5 minutes"
    assert verify(request, max_age=timedelta(minutes=10)).expires == NOW + timedelta(minutes=10)


def test_expires_before_created() -> None:
    params = {
        "created": str(timestamp(NOW + timedelta(seconds=30))),
        "expires": str(timestamp(NOW + timedelta(seconds=10))),
    }
    assert rejection(hand_signed(params=params)[0]) == "expires is not after created"


def test_the_last_second_of_the_window_is_accepted() -> None:
    request = signed(created=NOW - timedelta(minutes=4, seconds=59))
    assert verify(request).created == NOW - timedelta(minutes=4, seconds=59)


def test_a_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(signed(), now=NOW.replace(tzinfo=None))


# Parameters


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("created", "signature has no created parameter"),
        ("expires", "signature has no expires parameter"),
        ("nonce", "signature has no nonce parameter"),
        ("keyid", "signature has no keyid parameter"),
    ],
)
def test_missing_parameter(drop: str, reason: str) -> None:
    assert rejection(hand_signed(drop=(drop,))[0]) == reason


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"alg": '"rsa-pss-sha512"'}, "alg must be ed25519"),
        ({"alg": '"hmac-sha256"'}, "alg must be ed25519"),
        ({"alg": "ed25519"}, "alg must be ed25519"),  # a Token, not a String
        ({"created": '"2025-01-20"'}, "created must be an integer"),
        ({"created": "?1"}, "created must be an integer"),
        ({"expires": "1737374700.5"}, "expires must be an integer"),
        ({"created": "999999999999999"}, "created is not a valid time"),
        ({"expires": "-999999999999999"}, "expires is not a valid time"),
        ({"keyid": "1"}, "keyid must be a string"),
        ({"keyid": ":azE=:"}, "keyid must be a string"),
        ({"nonce": "42"}, "nonce must be a string"),
        ({"nonce": '""'}, "nonce is empty"),
        (
            {"nonce": '"' + "n" * (MAX_NONCE_LENGTH + 1) + '"'},
            f"nonce is longer than {MAX_NONCE_LENGTH} characters",
        ),
        ({"tag": "1"}, "tag must be a string"),
        ({"context": '"x"'}, "unexpected signature parameter 'context'"),
    ],
)
def test_parameter_of_the_wrong_kind(params: dict[str, str], reason: str) -> None:
    assert rejection(hand_signed(params=params)[0]) == reason


# Coverage


@pytest.mark.parametrize(
    ("components", "reason"),
    [
        (
            ("@target-uri", "content-digest", "authorization"),
            "signature covers no @method",
        ),
        (
            ("@method", "content-digest", "authorization"),
            "signature covers neither @target-uri nor @authority, @path and @query",
        ),
        (
            ("@method", "@authority", "@path", "content-digest", "authorization"),
            "signature covers neither @target-uri nor @authority, @path and @query",
        ),
        (
            ("@method", "@target-uri", "authorization"),
            "signature covers no content-digest",
        ),
        (
            ("@method", "@target-uri", "content-digest"),
            "signature covers no authorization",
        ),
        (
            ("@method", "@target-uri", "content-digest", "authorization", "@method"),
            "signature covers '@method' twice",
        ),
    ],
)
def test_coverage(components: tuple[str, ...], reason: str) -> None:
    assert rejection(hand_signed(components=components)[0]) == reason


def test_a_parametrized_digest_component_is_not_the_content_digest() -> None:
    request, _ = hand_signed()
    inputs = request["headers"]["Signature-Input"].replace(
        '"content-digest"', '"content-digest";key="sha-256"'
    )
    reason = rejection(with_headers(request, Signature_Input=inputs))
    assert reason == "signature covers no content-digest"


def test_components_must_be_strings() -> None:
    request, _ = hand_signed()
    inputs = request["headers"]["Signature-Input"].replace('"@method"', "method")
    reason = rejection(with_headers(request, Signature_Input=inputs))
    assert reason == "covered components must be strings"


@pytest.mark.parametrize("header", ["Authorization", "Content-Digest"])
def test_a_covered_header_that_is_missing(header: str) -> None:
    request = with_headers(signed(), **{header.replace("-", "_"): None})
    name = header.lower()
    assert rejection(request) == f"signature covers {name} but the request has no {name} header"


def test_a_covered_extra_header_that_is_missing() -> None:
    components = (*SIGNED_COMPONENTS, "content-type")
    request, _ = hand_signed(components=components, headers={"Content-Type": "application/json"})
    reason = rejection(with_headers(request, Content_Type=None))
    assert reason == "signature covers content-type but the request has no content-type header"


def test_a_component_the_library_cannot_resolve() -> None:
    request, _ = hand_signed()
    inputs = request["headers"]["Signature-Input"].replace('"@method"', '"@method" "@nonsense"')
    reason = rejection(with_headers(request, Signature_Input=inputs))
    assert reason == "signature cannot be checked: Unknown covered derived component name @nonsense"


def test_components_with_parameters_reach_the_library_with_them() -> None:
    components = (*SIGNED_COMPONENTS, '"@query-param";name="lang"', '"content-digest";sf')
    request = library_signed(components)
    verdict = verify(request)
    assert verdict.covered_components == (
        *SIGNED_COMPONENTS,
        '@query-param;name="lang"',
        "content-digest;sf",
    )
    assert ("Signature-Input", "lib=" + verdict.signature_params) in request["headers"]
    other_query = {**request, "url": URL.replace("lang=fr", "lang=en")}
    assert rejection(other_query) == "signature does not verify"


def test_a_lowercase_method_cannot_be_checked() -> None:
    reason = rejection({**signed(), "method": "post"})
    assert reason == "signature cannot be checked: HTTP request method must be an uppercase string"


def test_a_url_that_is_not_absolute_cannot_be_checked() -> None:
    reason = rejection({**signed(), "url": "/api/messages"})
    assert reason == (
        "signature cannot be checked: Invalid URL: expected an encoded absolute URL with a host"
    )


# Content-Digest


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("digest", "reason"),
    [
        (
            f"md5=:{b64(bytes(16))}:",
            "Content-Digest algorithm 'md5' is not supported; use sha-256 or sha-512",
        ),
        ("sha-256=:AAAA:", "Content-Digest sha-256 has the wrong length"),
        ('sha-256="abc"', "Content-Digest sha-256 is not a byte sequence"),
        (
            f"sha-256=:{b64(bytes(32))}:, sha-256=:{b64(bytes(32))}:",
            "Content-Digest header repeats the algorithm 'sha-256'",
        ),
        ("", "Content-Digest header has no digest"),
        ("sha-256=:::", "Content-Digest header is not a valid structured field dictionary"),
        (f"sha-256=:{b64(bytes(32))}:", "Content-Digest does not match the body"),
        (
            f"sha-256=:{b64(hashlib.sha256(BODY).digest())}:, sha-512=:{b64(bytes(64))}:",
            "Content-Digest does not match the body",
        ),
    ],
)
def test_signed_content_digest_that_is_refused(digest: str, reason: str) -> None:
    assert rejection(hand_signed(digest=digest)[0]) == reason


def test_every_digest_sent_must_match_not_only_the_one_recorded() -> None:
    digest = f"sha-256=:{b64(bytes(32))}:, sha-512=:{b64(hashlib.sha512(BODY).digest())}:"
    assert rejection(hand_signed(digest=digest)[0]) == "Content-Digest does not match the body"


def test_a_signature_that_does_not_verify_is_reported_before_the_body() -> None:
    request = tampered_body(tampered_signature(signed()))
    assert rejection(request) == "signature does not verify"


def test_a_body_that_is_not_bytes_does_not_match_its_digest() -> None:
    request = signed()
    assert rejection({**request, "body": bytearray(BODY)}) == (
        "Content-Digest does not match the body"
    )


# Malformed signature headers


@pytest.mark.parametrize("header", ["Signature-Input", "Signature"])
def test_missing_signature_header(header: str) -> None:
    request = with_headers(signed(), **{header.replace("-", "_"): None})
    assert rejection(request) == f"no {header} header"


def test_no_signature_at_all() -> None:
    request = {"method": "POST", "url": URL, "headers": {"Authorization": TOKEN}, "body": BODY}
    assert rejection(request) == "no Signature-Input header"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"Signature_Input": "???"},
            "Signature-Input header is not a valid structured field dictionary",
        ),
        ({"Signature": "=:abc"}, "Signature header is not a valid structured field dictionary"),
        (
            {"Signature_Input": 'sig1=("@méthod");keyid="k1"'},
            "Signature-Input header is not a valid structured field dictionary",
        ),
        ({"Signature_Input": ""}, "Signature-Input header has no signature"),
        (
            {"Signature_Input": 'sig1=();keyid="k1", sig1=();keyid="k2"'},
            "Signature-Input header repeats the label 'sig1'",
        ),
        (
            {"Signature_Input": "sig1=();created=1;created=2"},
            "Signature-Input header repeats the parameter 'created'",
        ),
        (
            {"Signature": "sig1=:AAAA:, sig1=:AAAA:"},
            "Signature header repeats the label 'sig1'",
        ),
        (
            {"Signature": "other=:AAAA:"},
            "Signature-Input and Signature headers name different labels",
        ),
        (
            {"Signature_Input": 'sig1="@method";keyid="k1"'},
            "Signature-Input 'sig1' is not a list of components",
        ),
        ({"Signature": 'sig1="AAAA"'}, "Signature 'sig1' is not a byte sequence"),
        ({"Signature": "sig1=(:AAAA:)"}, "Signature 'sig1' is not a byte sequence"),
        (
            {"Signature_Input": "sig1=(" + '"a" ' * 3000 + ")"},
            f"Signature-Input header is longer than {MAX_FIELD_LENGTH} characters",
        ),
        (
            {"Signature": "sig1=:" + "A" * 12000 + ":"},
            f"Signature header is longer than {MAX_FIELD_LENGTH} characters",
        ),
        (
            {
                "Signature_Input": ", ".join(f"s{i}=()" for i in range(MAX_SIGNATURES + 1)),
                "Signature": ", ".join(f"s{i}=:AAAA:" for i in range(MAX_SIGNATURES + 1)),
            },
            f"Signature-Input header has more than {MAX_SIGNATURES} signatures",
        ),
    ],
)
def test_malformed_signature_headers(changes: dict[str, str], reason: str) -> None:
    request, _ = hand_signed()
    assert rejection(with_headers(request, **changes)) == reason


def test_a_duplicate_label_across_two_header_lines() -> None:
    request, _ = hand_signed()
    lines = [
        *request["headers"].items(),
        ("Signature-Input", request["headers"]["Signature-Input"]),
    ]
    reason = rejection({**request, "headers": lines})
    assert reason == "Signature-Input header repeats the label 'sig1'"


def test_a_signature_of_the_wrong_length_does_not_verify() -> None:
    request, _ = hand_signed()
    assert rejection(with_headers(request, Signature="sig1=:AAAA:")) == "signature does not verify"


# Several signatures


def two_signatures(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    a, b = first["headers"], second["headers"]
    return with_headers(
        first,
        Signature_Input=f"{a['Signature-Input']}, {b['Signature-Input']}",
        Signature=f"{a['Signature']}, {b['Signature']}",
    )


def test_the_first_label_with_a_usable_key_is_verified() -> None:
    unknown = signed(key_id="k9", label="first")
    good = signed(label="second", nonce="nonce-2")
    verdict = verify(two_signatures(unknown, good))
    assert (verdict.label, verdict.key_id, verdict.nonce) == ("second", "k1", "nonce-2")


def test_a_revoked_key_is_passed_over_for_a_usable_one() -> None:
    revoked = signed(key_id="k-old", seed=SEED_OLD, label="first")
    good = signed(label="second")
    assert verify(two_signatures(revoked, good)).label == "second"


def test_only_the_chosen_signature_is_verified() -> None:
    good = signed(label="first")
    broken = with_headers(signed(key_id="k2", seed=SEED_2, label="second"), Signature="second=::")
    assert verify(two_signatures(good, broken)).label == "first"


def test_a_bad_signature_by_a_usable_key_is_not_skipped() -> None:
    # The label is chosen by its key alone; the signatures are not tried in turn.
    bad = tampered_signature(signed(label="first"))
    good = signed(key_id="k2", seed=SEED_2, label="second")
    assert rejection(two_signatures(bad, good)) == "signature does not verify"


def test_without_any_usable_key_the_first_label_gives_the_reason() -> None:
    first = signed(key_id="k9", label="first")
    second = signed(key_id="k-old", seed=SEED_OLD, label="second")
    assert rejection(two_signatures(first, second)) == "unknown key 'k9'"
    assert rejection(two_signatures(second, first)) == "key 'k-old' is revoked"


# RFC 9421 interoperability


def test_rfc_test_key_in_its_three_spellings() -> None:
    private = load_pem_private_key(RFC_PRIVATE_PEM.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert private.private_bytes_raw() == rfc_seed()
    assert public_key_from_pem(RFC_PUBLIC_PEM) == public_key_of(rfc_seed())
    assert encode_public_key(public_key_of(rfc_seed())) == RFC_JWK_X
    assert public_key_to_pem(decode_public_key(RFC_JWK_X)) == RFC_PUBLIC_PEM


def test_rfc_example_content_digest() -> None:
    ContentDigest.verify(RFC_HEADERS["Content-Digest"], RFC_BODY)
    expected = "sha-512=:" + b64(hashlib.sha512(RFC_BODY).digest()) + ":"
    assert RFC_HEADERS["Content-Digest"] == expected


def test_rfc9421_b26_known_answer_through_the_adapter() -> None:
    """The library, fed through ``HTTPRequest``, reproduces B.2.6 byte for byte."""
    request = HTTPRequest.from_raw(method="POST", url=RFC_URL, headers=RFC_HEADERS)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={},
            private_keys={RFC_KEY_ID: Ed25519PrivateKey.from_private_bytes(rfc_seed())},
        ),
    )
    prepared = signer.prepare(
        request,
        key_id=RFC_KEY_ID,
        created=datetime.fromtimestamp(RFC_B26_CREATED, UTC),
        label="sig-b26",
        include_alg=False,
        covered_component_ids=RFC_B26_COMPONENTS,
        use_existing_digest=True,
    )
    assert prepared.signature_base == RFC_B26_BASE.encode()
    signer.sign(
        request,
        key_id=RFC_KEY_ID,
        created=datetime.fromtimestamp(RFC_B26_CREATED, UTC),
        label="sig-b26",
        include_alg=False,
        covered_component_ids=RFC_B26_COMPONENTS,
        use_existing_digest=True,
    )
    assert request.headers["Signature-Input"] == RFC_B26_SIGNATURE_INPUT
    assert request.headers["Signature"] == RFC_B26_SIGNATURE


def test_rfc9421_b26_signature_verifies_from_raw_header_lines() -> None:
    headers = {**RFC_HEADERS, "Signature-Input": RFC_B26_SIGNATURE_INPUT}
    headers["Signature"] = RFC_B26_SIGNATURE
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={RFC_KEY_ID: RFC_PUBLIC_PEM.encode()}, private_keys={}
        ),
    )
    request = HTTPRequest.from_raw(method="POST", url=RFC_URL, headers=raw)
    (result,) = verifier.verify(request, max_age=None)
    assert result.parameters["keyid"] == RFC_KEY_ID
    base = "\n".join(f"{k}: {v}" for k, v in result.covered_components.items())
    assert base == RFC_B26_BASE


def test_rfc9421_b26_signature_is_valid_but_not_enough_for_pouch() -> None:
    headers = {**RFC_HEADERS, "Signature-Input": RFC_B26_SIGNATURE_INPUT}
    headers["Signature"] = RFC_B26_SIGNATURE
    rfc_key = RegisteredKey(RFC_KEY_ID, office_id=99, public_key=decode_public_key(RFC_JWK_X))
    with pytest.raises(SignatureRejected) as caught:
        verify_request(
            method="POST",
            url=RFC_URL,
            headers=headers,
            body=RFC_BODY,
            resolve_key={RFC_KEY_ID: rfc_key}.get,
            now=datetime.fromtimestamp(RFC_B26_CREATED, UTC),
            nonce_is_fresh=NonceBook(),
        )
    assert caught.value.reason == "signature has no expires parameter"


def test_a_signature_built_by_hand_with_the_rfc_test_key_is_accepted() -> None:
    created = datetime.fromtimestamp(RFC_B26_CREATED, UTC)
    params = {
        "created": str(RFC_B26_CREATED),
        "expires": str(RFC_B26_CREATED + 300),
        "keyid": f'"{RFC_KEY_ID}"',
        "nonce": '"b26-policy"',
    }
    request, base = hand_signed(
        seed=rfc_seed(),
        label="sig-b26",
        params=params,
        url=RFC_URL,
        body=RFC_BODY,
        digest=RFC_HEADERS["Content-Digest"],
        headers={k: v for k, v in RFC_HEADERS.items() if k != "Content-Digest"},
    )
    rfc_key = RegisteredKey(
        RFC_KEY_ID, office_id=99, public_key=public_key_from_pem(RFC_PUBLIC_PEM)
    )
    verdict = verify_request(
        **request,
        resolve_key={RFC_KEY_ID: rfc_key}.get,
        now=created + timedelta(seconds=1),
        nonce_is_fresh=NonceBook(),
    )
    assert verdict.office_id == 99
    assert verdict.signature_base_sha256 == hashlib.sha256(base.encode()).hexdigest()
    assert verdict.content_digest_algorithm == "sha-512"
    assert f"sha-512=:{verdict.content_digest}:" == RFC_HEADERS["Content-Digest"]


# Signing errors


def test_signing_needs_an_authorization_header() -> None:
    with pytest.raises(ValueError, match="no Authorization header"):
        signed(headers={})


def test_signing_needs_an_aware_created_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signed(created=NOW.replace(tzinfo=None))


def test_signing_needs_a_32_byte_seed() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        signed(seed=bytes(31))


def test_signing_keeps_a_matching_content_digest_and_refuses_a_wrong_one() -> None:
    digest = "sha-512=:" + b64(hashlib.sha512(BODY).digest()) + ":"
    headers = {"Authorization": TOKEN, "content-digest": digest}
    added = sign_request(
        method="POST", url=URL, headers=headers, body=BODY, key_id="k1", private_key=SEED_1
    )
    assert sorted(added) == ["Signature", "Signature-Input"]
    request = {"method": "POST", "url": URL, "headers": {**headers, **added}, "body": BODY}
    assert verify(request, now=datetime.now(UTC)).content_digest_algorithm == "sha-512"
    with pytest.raises(ValueError, match="cannot sign the request"):
        signed(headers={"Authorization": TOKEN, "Content-Digest": f"sha-256=:{b64(bytes(32))}:"})


@pytest.mark.parametrize("header", ["Signature", "signature-input"])
def test_signing_refuses_a_request_that_is_already_signed(header: str) -> None:
    with pytest.raises(ValueError, match="already signed"):
        signed(headers={"Authorization": TOKEN, header: "x"})


def test_signing_refuses_a_nonce_that_is_not_a_structured_field_string() -> None:
    with pytest.raises(ValueError, match="cannot sign the request"):
        signed(nonce="caf\u00e9")


# Keys: registration helpers


def test_generated_keys_sign_and_verify() -> None:
    seed, public = generate_sender_key("embassy-7")
    key = RegisteredKey("embassy-7", office_id=7, public_key=public)
    verdict = verify_request(
        **signed(key_id="embassy-7", seed=seed),
        resolve_key={"embassy-7": key}.get,
        now=NOW,
        nonce_is_fresh=NonceBook(),
    )
    assert verdict.office_id == 7


@pytest.mark.parametrize("key_id", ["", "-k", "k 1", "k\u00e9", "k" * 129, 'k"1'])
def test_key_ids_that_cannot_be_registered(key_id: str) -> None:
    with pytest.raises(ValueError, match="key id"):
        check_key_id(key_id)
    with pytest.raises(ValueError, match="key id"):
        generate_sender_key(key_id)


def test_registered_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        RegisteredKey("k1", office_id=1, public_key=bytes(31))
    with pytest.raises(ValueError, match="key id"):
        RegisteredKey("", office_id=1, public_key=bytes(32))


def test_public_key_text_forms() -> None:
    public = public_key_of(SEED_1)
    text = encode_public_key(public)
    assert len(text) == 43
    assert decode_public_key(text) == public
    assert decode_public_key(text + "=") == public
    assert parse_public_key(text) == public
    assert parse_public_key(public_key_to_pem(public)) == public
    assert public_key_from_pem(public_key_to_pem(public).encode()) == public


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AAAA",
        "A" * 44,
        "+" * 43,  # base64, not base64url
        RFC_JWK_X[:-1] + "t",  # the last character's spare bits are not zero
    ],
)
def test_public_keys_that_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="public key"):
        decode_public_key(text)


def test_pem_keys_that_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_pem = ec_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        public_key_from_pem(ec_pem)
    with pytest.raises(ValueError, match="not a PEM public key"):
        parse_public_key("-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")


def test_field_lines_behave_as_the_library_expects() -> None:
    lines = FieldLines([("Accept", "a"), ("X-One", "1"), ("accept", "b")])
    assert list(lines) == ["Accept", "X-One", "accept"]
    assert "ACCEPT" in lines
    assert 3 not in lines
    assert lines["accept"] == "a, b"
    assert len(lines) == 2
    lines["ACCEPT"] = "c"
    assert lines.items() == [("X-One", "1"), ("ACCEPT", "c")]
    del lines["x-one"]
    assert lines.items() == [("ACCEPT", "c")]
    with pytest.raises(KeyError):
        del lines["x-one"]
    with pytest.raises(KeyError):
        _ = lines["x-one"]


# Properties: nothing but SignatureRejected, whatever arrives

SF_ALPHABET = 'sig1=()":;, \t@-keyidcreatednoncealgexpires0123456789?*:+/ABCabcé'
COMPONENTS = [
    '"@method"',
    '"@target-uri"',
    '"@authority"',
    '"@path"',
    '"@query"',
    '"@status"',
    '"@request-target"',
    '"@query-param";name="lang"',
    '"@query-param";name="missing"',
    '"@query-param"',
    '"content-digest"',
    '"content-digest";key="sha-256"',
    '"content-digest";sf',
    '"content-digest";bs',
    '"content-digest";req',
    '"authorization"',
    '"authorization";sf',
    '"authorization";tr',
    '"x-missing"',
    '"@nonsense"',
    '"Authorization"',
    '"set-cookie"',
    "token",
    "42",
    ":AAAA:",
    "?0",
]
LABELS = ["sig1", "sig2", "pouch"]
bare_items = st.one_of(
    st.integers(min_value=-999_999_999_999_999, max_value=999_999_999_999_999).map(str),
    st.sampled_from(['"k1"', '"k2"', '"k-old"', '"k9"', '"ed25519"', '""', '"n"']),
    st.sampled_from(["ed25519", "?1", "?0", "1.5", ":AAAA:", "@1737374400", '%"x"']),
)


def near_now(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(timestamp(NOW) + low, timestamp(NOW) + high).map(str)


def mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.integers(0, 9).flatmap(lambda n: usual if n < 8 else rare)


absent_or_odd = st.one_of(st.none(), bare_items)
# Mostly plausible parameters, each sometimes missing or of another kind, so
# that the checks deep in the policy are reached as well as the first ones.
signature_params = st.fixed_dictionaries(
    {
        "keyid": mostly(st.sampled_from(['"k1"', '"k2"', '"k-old"', '"k9"']), absent_or_odd),
        "alg": mostly(st.sampled_from(['"ed25519"', None]), absent_or_odd),
        "created": mostly(near_now(-150, 30), st.one_of(near_now(-900, 300), absent_or_odd)),
        "expires": mostly(near_now(30, 150), st.one_of(near_now(-300, 900), absent_or_odd)),
        "nonce": mostly(st.just('"n-1"'), absent_or_odd),
        "tag": mostly(st.none(), bare_items),
        "other": mostly(st.none(), bare_items),
    }
).map(lambda params: {k: v for k, v in params.items() if v is not None})
covered = st.one_of(
    st.lists(st.sampled_from(COMPONENTS), max_size=8),
    st.lists(st.sampled_from(COMPONENTS), max_size=4).map(
        lambda extra: [f'"{name}"' for name in SIGNED_COMPONENTS] + extra
    ),
)
signature_inputs = st.builds(
    lambda components, params: (
        "(" + " ".join(components) + ")" + "".join(f";{k}={v}" for k, v in params.items())
    ),
    covered,
    signature_params,
)
signature_values = st.one_of(
    st.binary(min_size=64, max_size=64).map(lambda raw: f":{b64(raw)}:"),
    st.binary(max_size=80).map(lambda raw: f":{b64(raw)}:"),
    st.sampled_from(['"AAAA"', "1", "(:AAAA:)", "?1", "::"]),
)


@st.composite
def forged_signature_headers(draw: st.DrawFn) -> tuple[str, str]:
    """Signature-Input and Signature values, well formed or nearly, with made-up signatures."""
    labels = draw(st.lists(st.sampled_from(LABELS), unique=True, min_size=1, max_size=3))
    if draw(st.integers(0, 9)) == 0:  # sometimes labels that do not match, or repeat
        other = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=3))
    else:
        other = labels
    inputs = ", ".join(f"{label}={draw(signature_inputs)}" for label in labels)
    values = ", ".join(f"{label}={draw(signature_values)}" for label in other)
    return inputs, values


def assert_only_rejected(request: Mapping[str, Any]) -> None:
    with pytest.raises(SignatureRejected) as caught:
        verify(request)
    assert isinstance(caught.value.reason, str)
    assert caught.value.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.text(max_size=300))
def test_arbitrary_header_text_is_only_ever_rejected(inputs: str, values: str) -> None:
    request = with_headers(signed(), Signature_Input=inputs, Signature=values)
    assert_only_rejected(request)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(SF_ALPHABET, max_size=200), st.text(SF_ALPHABET, max_size=200))
def test_structured_looking_header_text_is_only_ever_rejected(inputs: str, values: str) -> None:
    request = with_headers(signed(), Signature_Input=inputs, Signature=values)
    assert_only_rejected(request)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(forged_signature_headers())
def test_well_formed_forgeries_are_only_ever_rejected(headers: tuple[str, str]) -> None:
    inputs, values = headers
    assert_only_rejected(with_headers(signed(), Signature_Input=inputs, Signature=values))


@settings(max_examples=200)
@given(
    st.sampled_from(["Signature-Input", "Signature", "Content-Digest", "Authorization"]),
    st.data(),
)
def test_a_changed_character_is_rejected_or_harmless(header: str, data: st.DataObject) -> None:
    request = signed()
    value = request["headers"][header]
    at = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
    char = data.draw(st.characters(codec="latin-1"))
    changed = with_headers(
        request, **{header.replace("-", "_"): value[:at] + char + value[at + 1 :]}
    )
    reason = None
    try:
        verdict = verify(changed)
    except SignatureRejected as rejected:
        reason = rejected.reason
    if reason is None:
        # Only a change the structured field syntax ignores may pass.
        assert verdict == verify(request)
    else:
        assert reason


@settings(max_examples=100)
@given(st.text(max_size=100), st.text(max_size=100))
def test_an_arbitrary_url_or_method_is_only_ever_rejected(url: str, method: str) -> None:
    request = signed()
    assert_only_rejected({**request, "url": url})
    if method != "POST":
        assert_only_rejected({**request, "method": method})


@settings(max_examples=100)
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
    path=st.lists(st.text("abcXYZ019-._~%20", min_size=1, max_size=8), max_size=4),
    query=st.one_of(st.none(), st.text("abc=&019", max_size=20)),
    body=st.binary(max_size=2000),
    digest_algorithm=st.sampled_from(["sha-256", "sha-512"]),
    age=st.integers(min_value=0, max_value=299),
)
def test_whatever_is_signed_is_accepted(
    method: str,
    path: list[str],
    query: str | None,
    body: bytes,
    digest_algorithm: str,
    age: int,
) -> None:
    encoded = "/".join(segment.replace("%", "%25") for segment in path)
    url = f"https://pouch.example:8443/{encoded}" + ("" if query is None else f"?{query}")
    created = NOW - timedelta(seconds=age)
    request = signed(
        method=method, url=url, body=body, created=created, digest_algorithm=digest_algorithm
    )
    verdict = verify(request)
    hasher = hashlib.sha256 if digest_algorithm == "sha-256" else hashlib.sha512
    assert base64.b64decode(verdict.content_digest) == hasher(body).digest()
    assert verdict.created == created
