"""c2sp.org/signed-note keys and notes, and c2sp.org/tlog-cosignature v1."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.ledger import note
from pouch.ledger.errors import (
    BadSignature,
    LedgerFormatError,
    MalformedKey,
    MalformedNote,
    UnverifiedNote,
)
from pouch.ledger.note import (
    CosignatureSigner,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteSignature,
)

VECTORS = Path(__file__).parents[2].parent / "shared" / "vectors"
SIGNED_NOTES = json.loads((VECTORS / "signed-notes.json").read_text())["vectors"]

# The example of c2sp.org/signed-note, "Verifier keys".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2"
    "ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()
# The example of c2sp.org/tlog-cosignature, whose message has "time 1679315147".
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhc"
    "yv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJs"
    "X3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
).encode()

LOG = Ed25519Signer("example.com/log", bytes(range(32)))
OTHER = Ed25519Signer("example.com/other", bytes(range(1, 33)))


def witness(name: str = "witness.example/w1", timestamp: int = 1_700_000_000) -> CosignatureSigner:
    return CosignatureSigner(name, name.encode().ljust(32, b"!")[:32], clock=lambda: timestamp)


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# -- published vectors ------------------------------------------------------------


def test_the_vectors_are_there() -> None:
    assert SIGNED_NOTES


@pytest.mark.parametrize("vector", SIGNED_NOTES, ids=lambda v: v["vkey"].split("+")[0])
def test_signed_note_vector_is_reproduced_byte_for_byte(vector: dict[str, Any]) -> None:
    signer = Ed25519Signer.from_skey(vector["skey"])
    assert signer.skey == vector["skey"]
    assert signer.verifier.vkey == vector["vkey"]
    signed = note.sign_note(vector["text"], signer)
    expected = (vector["text"] + "\n" + vector["signature_line"]).encode()
    assert signed == expected
    verifier = note.parse_vkey(vector["vkey"])
    opened = note.open_note(expected, [verifier])
    assert opened.text == vector["text"]
    assert opened.verified[0].line == vector["signature_line"]
    assert opened.unverified == ()


def test_the_signed_note_spec_example_verifies() -> None:
    verifier = Ed25519Verifier.from_vkey(SPEC_VKEY)
    assert f"{verifier.key_id:08x}" == "530d903a"
    opened = note.open_note(SPEC_NOTE, [verifier])
    assert opened.text == "This is an example message.\n"
    with pytest.raises(BadSignature):
        note.open_note(SPEC_NOTE.replace(b"example.", b"Example."), [verifier])


def test_the_cosignature_spec_example_carries_its_timestamp() -> None:
    parsed = note.parse_note(SPEC_COSIGNED)
    log_line, witness_line = parsed.signatures
    assert (log_line.name, witness_line.name) == (
        "example.com/behind-the-sofa",
        "witness.example.com/w1",
    )
    cosignature = note.Cosignature.from_signature(witness_line)
    assert cosignature.timestamp == 1679315147
    assert cosignature.key_id == 0x8D66CF3F


# -- keys -------------------------------------------------------------------------


def test_generated_keys_work_together() -> None:
    skey, vkey = note.generate_key("example.com/fresh")
    signer = Ed25519Signer.from_skey(skey)
    verifier = note.parse_vkey(vkey)
    assert verifier == signer.verifier
    assert vkey.startswith(f"example.com/fresh+{signer.key_id:08x}+A")
    assert note.open_note(note.sign_note("hi\n", signer), [verifier]).text == "hi\n"
    assert note.generate_key("example.com/fresh") != (skey, vkey)


def test_generated_cosigner_keys_use_type_4() -> None:
    skey, vkey = note.generate_cosigner_key("witness.example/fresh")
    signer = CosignatureSigner.from_skey(skey, clock=lambda: 5)
    assert isinstance(note.parse_vkey(vkey), CosignatureVerifier)
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert signer.verifier.vkey == vkey
    assert signer.skey == skey
    assert CosignatureVerifier.from_vkey(vkey) == signer.verifier


def test_key_ids_separate_signature_types() -> None:
    seed = bytes(32)
    plain = Ed25519Signer("same.example", seed)
    cosigner = CosignatureSigner("same.example", seed, clock=lambda: 0)
    assert plain.verifier.public_key == cosigner.verifier.public_key
    assert plain.key_id != cosigner.key_id
    assert plain.verifier != cosigner.verifier
    # A cosignature is not an Ed25519 note signature by the same key: the key
    # ID differs, so the plain verifier ignores the line.
    with pytest.raises(UnverifiedNote):
        note.open_note(note.sign_note("x\n", cosigner), [plain.verifier])


def vkey_with(name: str = "n.example", key_type: int = 1, key: bytes = bytes(32)) -> str:
    material = bytes([key_type]) + key
    return f"{name}+{note.key_id(name, material):08x}+{base64.b64encode(material).decode()}"


NAME, HEX, MATERIAL = vkey_with().split("+", 2)


@pytest.mark.parametrize(
    ("vkey", "problem"),
    [
        ("n.example", "is not <name>+<key ID>+<key>"),
        ("n.example+530d903a", "is not <name>+<key ID>+<key>"),
        (f"+{HEX}+{MATERIAL}", "key name is empty"),
        (f"{NAME}+{HEX.upper()}+{MATERIAL}", f"key ID '{HEX.upper()}' is not 8 lowercase hex"),
        (f"{NAME}+{HEX[1:]}+{MATERIAL}", f"key ID '{HEX[1:]}' is not 8 lowercase hex"),
        (f"{NAME}+0000000g+{MATERIAL}", "key ID '0000000g' is not 8 lowercase hex"),
        (f"{NAME}+0x{HEX[2:]}+{MATERIAL}", "is not 8 lowercase hex"),
        (f"{NAME}+00000000+{MATERIAL}", "vkey key ID 00000000 does not match"),
        (f"{NAME}+{HEX}+{MATERIAL[:-1]}", "is not valid base64"),
        (f"{NAME}+{HEX}+{MATERIAL[:-2]}B=", "not canonical base64"),
        (f"{NAME}+{HEX}+{MATERIAL} ", "is not valid base64"),
        (f"{NAME}+{HEX}+", "vkey key is empty"),
        (vkey_with(key_type=2), "unsupported signature type 0x02"),
        (vkey_with(key=bytes(31)), "Ed25519 key is 31 bytes, not 32"),
        (vkey_with(key=bytes(33)), "Ed25519 key is 33 bytes, not 32"),
    ],
)
def test_malformed_vkeys_are_refused(vkey: str, problem: str) -> None:
    with pytest.raises(MalformedKey, match=re.escape(problem)):
        note.parse_vkey(vkey)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "key name is empty"),
        ("a b", "contains the space U+0020"),
        ("a\u00a0b", "contains the space U+00A0"),
        ("a\u2028b", "contains the space U+2028"),
        ("a\u3000b", "contains the space U+3000"),
        ("a\tb", "contains the space U+0009"),
        ("a+b", "contains '+'"),
        ("a\x00b", "contains control character U+0000"),
        ("a\x1fb", "contains control character U+001F"),
        ("a\ud800b", "contains a lone surrogate"),
    ],
)
def test_key_name_rules(name: str, problem: str) -> None:
    with pytest.raises(MalformedKey, match=re.escape(problem)):
        note.check_key_name(name)
    with pytest.raises(MalformedKey, match=re.escape(problem)):
        Ed25519Signer(name, bytes(32))


def test_names_may_hold_any_other_unicode() -> None:
    for name in ("quasimodo.example/salvatore", "пример.рф/журнал", "a—b", "a\x7fb", "oid/1.3.6"):
        note.check_key_name(name)


def test_verifier_and_signer_type_checks() -> None:
    cosigner_vkey = witness().verifier.vkey
    with pytest.raises(MalformedKey, match="vkey has signature type 0x04, not 0x01"):
        Ed25519Verifier.from_vkey(cosigner_vkey)
    with pytest.raises(MalformedKey, match="vkey has signature type 0x01, not 0x04"):
        CosignatureVerifier.from_vkey(LOG.verifier.vkey)
    with pytest.raises(MalformedKey, match="skey has signature type 0x04, not 0x01"):
        Ed25519Signer.from_skey(witness().skey)
    with pytest.raises(MalformedKey, match="skey has signature type 0x01, not 0x04"):
        CosignatureSigner.from_skey(LOG.skey, clock=lambda: 0)
    with pytest.raises(MalformedKey, match="Ed25519 public key is 31 bytes"):
        Ed25519Verifier("n.example", bytes(31))
    with pytest.raises(MalformedKey, match="Ed25519 seed is 16 bytes"):
        Ed25519Signer("n.example", bytes(16))


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda s: s.replace("PRIVATE+KEY+", "PRIVATE+KEYS+"), "skey is not PRIVATE+KEY+"),
        (lambda s: s.removeprefix("PRIVATE+"), "skey is not PRIVATE+KEY+"),
        (lambda s: s.replace("+c74f20a3+", "+C74F20A3+"), "is not 8 lowercase hex digits"),
        (lambda s: s + "=", "skey key is not valid canonical base64"),
        (lambda s: s[:-1] + "!", "skey key is not valid canonical base64"),
        (lambda s: s.replace("+AYEK", "+AgEK"), "skey has unsupported signature type 0x02"),
    ],
)
def test_malformed_skeys_are_refused_without_leaking_them(mangle: Any, problem: str) -> None:
    skey = SIGNED_NOTES[0]["skey"]
    secret = skey.rsplit("+", 1)[1]
    with pytest.raises(MalformedKey, match=re.escape(problem)) as raised:
        Ed25519Signer.from_skey(mangle(skey))
    assert secret[4:40] not in str(raised.value)


def test_skey_key_id_must_match_the_derived_public_key() -> None:
    skey = SIGNED_NOTES[0]["skey"].replace("+c74f20a3+", "+c74f20a4+")
    with pytest.raises(MalformedKey, match="skey key ID c74f20a4 does not match its name and key"):
        Ed25519Signer.from_skey(skey)
    renamed = SIGNED_NOTES[0]["skey"].replace("PeterNeumann", "PeterNeumann2")
    with pytest.raises(MalformedKey, match="does not match its name and key"):
        Ed25519Signer.from_skey(renamed)


def test_key_reprs_name_the_key_not_the_secret() -> None:
    assert repr(LOG.verifier) == f"Ed25519Verifier({LOG.verifier.vkey!r})"
    assert repr(LOG) == f"Ed25519Signer(name='example.com/log', key_id={LOG.key_id:08x})"
    assert LOG.skey.rsplit("+", 1)[1] not in repr(LOG)
    assert hash(LOG.verifier) == hash(Ed25519Verifier.from_vkey(LOG.verifier.vkey))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("AA=", "is not valid base64"),
        ("AA", "is not valid base64"),
        ("A A=", "is not valid base64"),
        ("AA==\n", "is not valid base64"),
        ("-_==", "is not valid base64"),
        ("AB==", "not canonical base64"),
        ("AAB=", "not canonical base64"),
        ("é===", "is not valid base64"),
    ],
)
def test_base64_is_strict(text: str, problem: str) -> None:
    with pytest.raises(MalformedNote, match=re.escape(problem)):
        note.b64decode_strict(text, "value", MalformedNote)


# -- notes ------------------------------------------------------------------------


def test_a_note_is_text_blank_line_signatures() -> None:
    signed = note.sign_note("line one\nline two\n", LOG)
    text, _, block = signed.decode().partition("\n\n")
    assert text == "line one\nline two"
    assert re.fullmatch(r"— example\.com/log [A-Za-z0-9+/]{91}=\n", block)


def test_text_with_blank_lines_splits_at_the_last_one() -> None:
    text = "a\n\n\nb\n\n— not a signature\n"
    opened = note.open_note(note.sign_note(text, LOG), [LOG.verifier])
    assert opened.text == text


def test_several_signatures_and_unknown_ones() -> None:
    w = witness()
    signed = note.sign_note("hello\n", LOG, OTHER, w)
    opened = note.open_note(signed, [LOG.verifier])
    assert [s.name for s in opened.verified] == ["example.com/log"]
    assert [s.name for s in opened.unverified] == ["example.com/other", "witness.example/w1"]
    opened = note.open_note(signed, [LOG.verifier, OTHER.verifier, w.verifier])
    assert len(opened.verified) == 3
    assert opened.signed_by(w.verifier) is not None
    assert note.open_note(signed, [OTHER.verifier]).signed_by(LOG.verifier) is None


def test_add_signatures_keeps_and_replaces() -> None:
    signed = note.sign_note("hello\n", LOG)
    early, late = witness(timestamp=100), witness(timestamp=200)
    once = note.add_signatures(signed, early, OTHER)
    assert once.startswith(signed)
    twice = note.add_signatures(once, late)
    lines = twice.decode().split("\n\n")[1].splitlines()
    assert [line.split()[1] for line in lines] == [
        "example.com/log",
        "example.com/other",
        "witness.example/w1",
    ]
    cosignature = note.verify_cosignature(twice, late.verifier)
    assert cosignature.timestamp == 200


def test_signing_needs_a_proper_text_and_a_signer() -> None:
    for text, message in [
        ("no newline", "must end with a newline"),
        ("", "must end with a newline"),
        ("tab\there\n", "control character U+0009 at byte 3"),
        ("cr\r\n", "control character U+000D"),
        ("\ud800\n", "lone surrogate"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            note.sign_note(text, LOG)
    with pytest.raises(ValueError, match="at least one signer"):
        note.sign_note("x\n")
    with pytest.raises(ValueError, match="no signer given"):
        note.add_signatures(note.sign_note("x\n", LOG))


def test_signing_refuses_a_signer_with_an_invalid_name() -> None:
    class Impostor:
        name = "bad name"
        key_id = 1

        def sign(self, text: bytes) -> bytes:
            return b"sig"

    with pytest.raises(MalformedKey, match=re.escape("'bad name' contains the space U+0020")):
        note.sign_note("x\n", Impostor())


def test_up_to_100_signatures_and_no_more() -> None:
    signers = [Ed25519Signer(f"k{i}.example", bytes([i]) * 32) for i in range(101)]
    sixteen = note.sign_note("x\n", *signers[:16])
    assert len(note.open_note(sixteen, [s.verifier for s in signers]).verified) == 16
    hundred = note.sign_note("x\n", *signers[:100])
    assert len(note.open_note(hundred, [signers[0].verifier]).unverified) == 99
    with pytest.raises(ValueError, match="101 signatures"):
        note.add_signatures(hundred, signers[100])
    too_many = hundred + "— k100.example AAAAAAA=\n".encode()
    with pytest.raises(MalformedNote, match="note has 101 signatures, more than 100"):
        note.open_note(too_many, [signers[0].verifier])


def test_oversized_notes_are_refused() -> None:
    big = "x" * note.MAX_NOTE_SIZE + "\n"
    with pytest.raises(ValueError, match="more than"):
        note.sign_note(big, LOG)
    with pytest.raises(MalformedNote, match=f"note is {len(big) + 96} bytes, more than"):
        note.parse_note(big.encode() + b"\n" + b"x" * 95)


def non_canonical(char: bytes) -> bytes:
    """The base64 digit with the lowest (padding) bit flipped."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return alphabet[alphabet.index(char) ^ 1 : (alphabet.index(char) ^ 1) + 1]


GOOD = note.sign_note("hello\n", LOG)
GOOD_LINE = GOOD.decode().split("\n\n")[1]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"hello\n\n\xff\n", "not valid UTF-8 at byte 7"),
        (b"hel\xc3\n", "not valid UTF-8 at byte 3"),
        (b"\xed\xa0\x80\n\n" + GOOD_LINE.encode(), "not valid UTF-8 at byte 0"),
        (b"hel\x00lo\n\n" + GOOD_LINE.encode(), "control character U+0000 at byte 3"),
        (GOOD.replace(b"\n", b"\r\n"), "control character U+000D at byte 5"),
        (b"hello\n" + GOOD_LINE.encode(), "no blank line before its signatures"),
        (b"hello\n\n", "no signature line after its last blank line"),
        (GOOD.rstrip(b"\n"), "does not end with a newline"),
        (GOOD + b"\n", "no signature line after its last blank line"),
        (GOOD.replace("—".encode(), b"-"), "line 1 does not start with an em dash and a space"),
        (GOOD.replace("— ".encode(), "—".encode()), "does not start with an em dash"),
        (GOOD.replace(b"log ", b"log\xc2\xa0"), "has no space between key name and signature"),
        (GOOD.replace(b"log ", b"log  "), "line 1: signature ' "),
        (GOOD.replace(b"com/log", b"com/l+g"), "line 1: key name 'example.com/l+g' contains '+'"),
        (GOOD.replace(b"example.com/log", b""), "line 1: key name is empty"),
        (GOOD[:-3] + non_canonical(GOOD[-3:-2]) + b"=\n", "not canonical base64"),
        (b"hello\n\n" + "— k AAAAAA==\n".encode(), "signature is 4 bytes, less than a 4-byte"),
        (b"hello\n\n" + "— k \n".encode(), "line 1: signature is 0 bytes"),
        (GOOD + "— k AAAAAAA=\n\n".encode(), "no signature line after its last blank line"),
    ],
)
def test_malformed_notes_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedNote, match=re.escape(problem)):
        note.open_note(data, [LOG.verifier])


def test_a_blank_line_among_signatures_moves_the_text_boundary() -> None:
    # The text ends at the *last* blank line, so LOG's line becomes text and
    # OTHER's signature (over "hello\n") no longer matches.
    other_line = note.sign_note("hello\n", OTHER).split(b"\n\n")[1]
    signed = GOOD + b"\n" + other_line
    assert note.parse_note(signed).text == GOOD.decode()
    with pytest.raises(BadSignature):
        note.open_note(signed, [OTHER.verifier])
    with pytest.raises(UnverifiedNote):
        note.open_note(signed, [LOG.verifier])


def test_unknown_and_failing_signatures() -> None:
    impostor = Ed25519Signer("example.com/log", bytes(32))  # same name, another key
    assert impostor.key_id != LOG.key_id
    with pytest.raises(UnverifiedNote, match="no signature from any of the 1 known keys"):
        note.open_note(note.sign_note("x\n", impostor), [LOG.verifier])
    with pytest.raises(UnverifiedNote):
        note.open_note(note.sign_note("x\n", OTHER), [LOG.verifier])
    # Same key ID under another name: not the known key, ignored.
    renamed = note.sign_note("x\n", LOG).replace(b"example.com/log", b"example.com/gol")
    with pytest.raises(UnverifiedNote):
        note.open_note(renamed, [LOG.verifier])
    # A known key whose signature fails sinks the note, even with a good one.
    other_text = note.sign_note("y\n", LOG).split(b"\n\n")[1]
    mixed = note.sign_note("x\n", OTHER) + other_text
    with pytest.raises(BadSignature, match=re.escape("line 2, from known key example.com/log")):
        note.open_note(mixed, [LOG.verifier, OTHER.verifier])
    with pytest.raises(UnverifiedNote, match="0 known keys"):
        note.open_note(GOOD, [])


def test_a_key_signing_twice_must_verify_both_times() -> None:
    line = GOOD.split(b"\n\n")[1]
    assert len(note.open_note(GOOD + line, [LOG.verifier]).verified) == 1
    bad_line = note.sign_note("other\n", LOG).split(b"\n\n")[1]
    with pytest.raises(BadSignature, match="line 2"):
        note.open_note(GOOD + bad_line, [LOG.verifier])


def test_ambiguous_known_keys_are_refused() -> None:
    twin = Ed25519Verifier("example.com/log", bytes(32))
    # Force a collision of name and key ID with a different key.
    clash = type("Clash", (), {"name": LOG.name, "key_id": LOG.key_id, "verify": twin.verify})()
    with pytest.raises(
        MalformedKey, match=re.escape("two known keys share the name 'example.com/log'")
    ):
        note.open_note(GOOD, [LOG.verifier, clash])
    # The same key listed twice is fine.
    note.open_note(GOOD, [LOG.verifier, Ed25519Verifier.from_vkey(LOG.verifier.vkey)])


def test_signature_line_round_trip() -> None:
    parsed = note.parse_note(GOOD)
    assert parsed.to_bytes() == GOOD
    assert parsed.signatures[0] == NoteSignature(
        LOG.name, LOG.key_id, parsed.signatures[0].signature
    )


NOTE_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=[chr(c) for c in range(32)])
    | st.just("\n"),
    max_size=200,
).map(lambda t: t + "\n")


@settings(max_examples=200)
@given(NOTE_TEXT)
def test_any_valid_text_signs_and_opens(text: str) -> None:
    signed = note.sign_note(text, LOG)
    assert note.open_note(signed, [LOG.verifier]).text == text
    assert note.parse_note(signed).to_bytes() == signed


@settings(max_examples=300)
@given(NOTE_TEXT, st.integers(min_value=0))
def test_a_flipped_bit_in_a_signed_note_is_detected(text: str, bit: int) -> None:
    flipped = flip(note.sign_note(text, LOG), bit)
    with pytest.raises(LedgerFormatError):
        note.open_note(flipped, [LOG.verifier])


@settings(max_examples=300)
@given(NOTE_TEXT, st.integers(min_value=0))
def test_a_flipped_bit_in_a_cosigned_note_loses_a_required_signature(text: str, bit: int) -> None:
    w = witness()
    keys = [LOG.verifier, OTHER.verifier, w.verifier]
    flipped = flip(note.sign_note(text, LOG, OTHER, w), bit)
    try:
        opened = note.open_note(flipped, keys)
    except LedgerFormatError:
        return
    # A flip in a name or key ID turns a line into an unknown key's, ignored.
    assert not all(opened.signed_by(k) for k in keys)


# -- cosignatures -----------------------------------------------------------------

CHECKPOINT_TEXT = "example.com/log\n5\n" + base64.b64encode(bytes(32)).decode() + "\n"


def test_cosignature_v1_message_is_as_specified() -> None:
    seed = bytes(range(100, 132))
    w = CosignatureSigner("witness.example/w1", seed, clock=lambda: 1679315147)
    text = CHECKPOINT_TEXT + "extension line\n"
    signed = note.add_signatures(note.sign_note(text, LOG), w)
    signature = note.parse_note(signed).signatures[1]
    assert signature.signature[:8] == (1679315147).to_bytes(8, "big")
    # Independent check with the library: the message the spec writes out.
    message = f"cosignature/v1\ntime 1679315147\n{text}".encode()
    Ed25519PrivateKey.from_private_bytes(seed).public_key().verify(signature.signature[8:], message)
    assert note.verify_cosignature(signed, w.verifier) == note.Cosignature(
        "witness.example/w1", w.key_id, 1679315147
    )
    # The extension lines are cosigned too.
    changed = signed.replace(b"extension line", b"extension LINE")
    with pytest.raises(BadSignature):
        note.verify_cosignature(changed, w.verifier)


def test_cosignature_timestamps_above_2_63_are_refused() -> None:
    seed = bytes(range(32))
    too_late = 2**63
    key = Ed25519PrivateKey.from_private_bytes(seed)
    w = CosignatureSigner("witness.example/w1", seed, clock=lambda: 0)
    signature = too_late.to_bytes(8, "big") + key.sign(
        b"cosignature/v1\ntime %d\n" % too_late + CHECKPOINT_TEXT.encode()
    )
    line = NoteSignature(w.name, w.key_id, signature).line
    forged = note.sign_note(CHECKPOINT_TEXT, LOG) + line.encode()
    with pytest.raises(BadSignature, match=re.escape("from known key witness.example/w1")):
        note.verify_cosignature(forged, w.verifier)
    for bad_time in (too_late, -1):

        def clock(t: int = bad_time) -> int:
            return t

        late = CosignatureSigner("witness.example/w1", seed, clock=clock)
        with pytest.raises(ValueError, match=re.escape("outside 0..2^63-1")):
            note.sign_note(CHECKPOINT_TEXT, late)
    largest = CosignatureSigner("witness.example/w1", seed, clock=lambda: 2**63 - 1)
    cosigned = note.sign_note(CHECKPOINT_TEXT, largest)
    assert note.verify_cosignature(cosigned, w.verifier).timestamp == 2**63 - 1


def test_a_cosignature_of_the_wrong_length_fails() -> None:
    w = witness()
    short = NoteSignature(w.name, w.key_id, bytes(64)).line.encode()
    with pytest.raises(BadSignature):
        note.verify_cosignature(note.sign_note(CHECKPOINT_TEXT, LOG) + short, w.verifier)
    with pytest.raises(MalformedNote, match="is 64 bytes, not a timestamp and an Ed25519"):
        note.Cosignature.from_signature(NoteSignature(w.name, w.key_id, bytes(64)))


def test_verify_cosignature_needs_the_witness() -> None:
    with pytest.raises(UnverifiedNote):
        note.verify_cosignature(note.sign_note(CHECKPOINT_TEXT, LOG), witness().verifier)
