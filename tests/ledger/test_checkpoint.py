"""c2sp.org/tlog-checkpoint: strict text format, signing and opening."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.ledger import checkpoint, note
from pouch.ledger.checkpoint import Checkpoint
from pouch.ledger.errors import (
    BadSignature,
    LedgerFormatError,
    MalformedCheckpoint,
    UnexpectedOrigin,
    UnverifiedNote,
)
from pouch.ledger.note import CosignatureSigner, Ed25519Signer

ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
# The example of c2sp.org/tlog-checkpoint.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

LOG = Ed25519Signer("example.com/log", bytes(range(32)))
OTHER_LOG = Ed25519Signer("example.com/other", bytes(range(1, 33)))
W1 = CosignatureSigner("witness.example/1", bytes([1]) * 32, clock=lambda: 1_700_000_001)
W2 = CosignatureSigner("witness.example/2", bytes([2]) * 32, clock=lambda: 1_700_000_002)
W3 = CosignatureSigner("witness.example/3", bytes([3]) * 32, clock=lambda: 1_700_000_003)


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_the_spec_example_parses() -> None:
    parsed = Checkpoint.parse(SPEC_TEXT)
    assert parsed == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert parsed.to_text() == SPEC_TEXT


def test_extension_lines_round_trip() -> None:
    text = SPEC_TEXT + "ext one\nsecond ext\n"
    parsed = Checkpoint.parse(text)
    assert parsed.extensions == ("ext one", "second ext")
    assert parsed.to_text() == text


def test_origin_may_contain_spaces_and_plus() -> None:
    # Only a SHOULD in the spec, and clients must not assume the format.
    parsed = Checkpoint.parse("a log + co\n0\n" + base64.b64encode(bytes(32)).decode() + "\n")
    assert (parsed.origin, parsed.size) == ("a log + co", 0)


LINE = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300)
@given(
    LINE,
    st.integers(0, checkpoint.MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(LINE, max_size=3),
)
def test_parse_inverts_format(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    original = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(original.to_text()) == original


ROOT_LINE = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"o\n007\n{ROOT_LINE}\n", "checkpoint line 2: tree size '007' has a leading zero"),
        (f"o\n00\n{ROOT_LINE}\n", "checkpoint line 2: tree size '00' has a leading zero"),
        (f"o\n+5\n{ROOT_LINE}\n", "checkpoint line 2: tree size '+5' is not a decimal number"),
        (f"o\n-1\n{ROOT_LINE}\n", "tree size '-1' is not a decimal number"),
        (f"o\n 5\n{ROOT_LINE}\n", "tree size ' 5' is not a decimal number"),
        (f"o\n5 \n{ROOT_LINE}\n", "tree size '5 ' is not a decimal number"),
        (f"o\n1_000\n{ROOT_LINE}\n", "tree size '1_000' is not a decimal number"),
        (f"o\n\u0665\n{ROOT_LINE}\n", "is not a decimal number"),
        (f"o\n0x10\n{ROOT_LINE}\n", "is not a decimal number"),
        (f"o\n18446744073709551616\n{ROOT_LINE}\n", "is larger than 18446744073709551615"),
        (f"o\n{'9' * 5000}\n{ROOT_LINE}\n", "is larger than 18446744073709551615"),
        (f"o\n5\n{ROOT_LINE}", "does not end with a newline"),
        (f"o\n5\n{ROOT_LINE}\r\n", "checkpoint line 3 contains control character U+000D"),
        ("o\n5\n", "checkpoint text has 2 lines, needs origin, size and root hash"),
        ("", "does not end with a newline"),
        (f"\n5\n{ROOT_LINE}\n", "checkpoint line 1 is empty"),
        (f"o\n5\n{ROOT_LINE}\n\next\n", "checkpoint line 4 is empty"),
        (f"o\n5\n{ROOT_LINE}\next\n\n", "checkpoint line 5 is empty"),
        (f"o\tx\n5\n{ROOT_LINE}\n", "checkpoint line 1 contains control character U+0009"),
        (f"o\n5\n{ROOT_LINE[:-1]}\n", "checkpoint line 3: root hash"),
        (f"o\n5\n{ROOT_LINE[:-2]}J=\n", "is not canonical base64"),
        (f"o\n5\n{ROOT_LINE.replace('/', '_')}\n", "is not valid base64"),
        (f"o\n5\n{ROOT_LINE} \n", "is not valid base64"),
        ("o\n5\nAAAA\n", "checkpoint line 3: root hash is 3 bytes, not 32"),
        (f"o\n5\n{base64.b64encode(bytes(33)).decode()}\n", "root hash is 33 bytes, not 32"),
    ],
)
def test_malformed_checkpoints_are_refused(text: str, problem: str) -> None:
    with pytest.raises(MalformedCheckpoint, match=re.escape(problem)):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (("", 1, ROOT, ()), "checkpoint origin is empty"),
        (("a\nb", 1, ROOT, ()), "checkpoint origin contains control character U+000A"),
        (("o", -1, ROOT, ()), "tree size -1 is outside"),
        (("o", 2**64, ROOT, ()), "tree size 18446744073709551616 is outside"),
        (("o", 1, bytes(31), ()), "root hash is 31 bytes, not 32"),
        (("o", 1, ROOT, ("",)), "checkpoint extension line 1 is empty"),
        (("o", 1, ROOT, ("ok", "a\nb")), "checkpoint extension line 2 contains control"),
    ],
)
def test_checkpoints_refuse_impossible_fields(
    fields: tuple[str, int, bytes, tuple[str, ...]], problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Checkpoint(*fields)


def test_parse_decimal() -> None:
    assert checkpoint.parse_decimal("0", "n", ValueError) == 0
    assert checkpoint.parse_decimal("18446744073709551615", "n", ValueError) == 2**64 - 1
    with pytest.raises(ValueError, match="n 11 is larger than 10"):
        checkpoint.parse_decimal("11", "n", ValueError, limit=10)


# -- signed checkpoints -----------------------------------------------------------

TREE = Checkpoint("example.com/log", 42, ROOT)


def test_sign_and_open() -> None:
    signed = checkpoint.sign_checkpoint(TREE, LOG)
    assert signed.startswith(TREE.to_text().encode() + "\n— example.com/log ".encode())
    opened = checkpoint.open_checkpoint(signed, log=LOG.verifier)
    assert opened == checkpoint.SignedCheckpoint(TREE, signed, ())


def test_witness_cosignatures_and_quorum() -> None:
    cosigned = note.add_signatures(checkpoint.sign_checkpoint(TREE, LOG), W1, W3)
    witnesses = [W1.verifier, W2.verifier, W3.verifier]
    opened = checkpoint.open_checkpoint(cosigned, log=LOG.verifier, witnesses=witnesses, quorum=2)
    assert [(c.name, c.timestamp) for c in opened.cosignatures] == [
        ("witness.example/1", 1_700_000_001),
        ("witness.example/3", 1_700_000_003),
    ]
    with pytest.raises(UnverifiedNote, match=r"2 cosignatures from known witnesses, .* needs 3"):
        checkpoint.open_checkpoint(cosigned, log=LOG.verifier, witnesses=witnesses, quorum=3)
    # A witness listed twice still counts once.
    with pytest.raises(UnverifiedNote, match="1 cosignatures"):
        checkpoint.open_checkpoint(
            cosigned, log=LOG.verifier, witnesses=[W1.verifier, W1.verifier, W2.verifier], quorum=2
        )
    with pytest.raises(ValueError, match="a quorum of 2 cannot be met by 1 witnesses"):
        checkpoint.open_checkpoint(cosigned, log=LOG.verifier, witnesses=[W1.verifier], quorum=2)


def test_a_known_witness_with_a_bad_cosignature_sinks_the_checkpoint() -> None:
    cosigned = note.add_signatures(checkpoint.sign_checkpoint(TREE, LOG), W1)
    other = Checkpoint("example.com/log", 43, ROOT)
    foreign = note.add_signatures(checkpoint.sign_checkpoint(other, LOG), W2)
    spliced = cosigned + foreign.splitlines(keepends=True)[-1]
    with pytest.raises(BadSignature, match=re.escape("witness.example/2")):
        checkpoint.open_checkpoint(spliced, log=LOG.verifier, witnesses=[W2.verifier])
    # An unknown witness's line is ignored.
    checkpoint.open_checkpoint(spliced, log=LOG.verifier, witnesses=[W1.verifier])


def test_the_log_itself_must_sign() -> None:
    only_witness = note.sign_note(TREE.to_text(), W1)
    with pytest.raises(
        UnverifiedNote, match=re.escape("not signed by the log key example.com/log")
    ):
        checkpoint.open_checkpoint(only_witness, log=LOG.verifier, witnesses=[W1.verifier])
    with pytest.raises(UnverifiedNote):
        checkpoint.open_checkpoint(checkpoint.sign_checkpoint(TREE, OTHER_LOG), log=LOG.verifier)


def test_origin_must_be_the_expected_one() -> None:
    foreign = Checkpoint("example.com/other", 42, ROOT)
    signed = checkpoint.sign_checkpoint(foreign, LOG)
    with pytest.raises(
        UnexpectedOrigin,
        match=re.escape(
            "checkpoint origin 'example.com/other' is not the expected 'example.com/log'"
        ),
    ):
        checkpoint.open_checkpoint(signed, log=LOG.verifier)
    opened = checkpoint.open_checkpoint(signed, log=LOG.verifier, origin="example.com/other")
    assert opened.checkpoint == foreign


def test_a_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    signed = note.sign_note("example.com/log\n42\n", LOG)
    with pytest.raises(MalformedCheckpoint, match="checkpoint text has 2 lines"):
        checkpoint.open_checkpoint(signed, log=LOG.verifier)


@settings(max_examples=300)
@given(
    st.integers(0, checkpoint.MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(LINE, max_size=2),
    st.integers(min_value=0),
)
def test_a_flipped_bit_in_a_signed_checkpoint_is_detected(
    size: int, root: bytes, extensions: list[str], bit: int
) -> None:
    tree = Checkpoint("example.com/log", size, root, tuple(extensions))
    cosigned = note.add_signatures(checkpoint.sign_checkpoint(tree, LOG), W1)
    witnesses = [W1.verifier]
    opened = checkpoint.open_checkpoint(cosigned, log=LOG.verifier, witnesses=witnesses, quorum=1)
    assert opened.checkpoint == tree
    with pytest.raises(LedgerFormatError):
        checkpoint.open_checkpoint(
            flip(cosigned, bit), log=LOG.verifier, witnesses=witnesses, quorum=1
        )
