"""c2sp.org/tlog-proof@v1 receipts: writing, parsing, verifying."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.ledger import checkpoint, merkle, note, receipt
from pouch.ledger.checkpoint import Checkpoint
from pouch.ledger.errors import (
    BadSignature,
    InvalidProof,
    LedgerFormatError,
    MalformedCheckpoint,
    MalformedNote,
    MalformedReceipt,
    UnexpectedOrigin,
    UnverifiedNote,
)
from pouch.ledger.merkle import CompactRange, NodeID
from pouch.ledger.note import CosignatureSigner, Ed25519Signer
from pouch.ledger.receipt import Receipt

LOG = Ed25519Signer("example.com/log", bytes(range(32)))
W1 = CosignatureSigner("witness.example/1", bytes([1]) * 32, clock=lambda: 1_700_000_001)
W2 = CosignatureSigner("witness.example/2", bytes([2]) * 32, clock=lambda: 1_700_000_002)
WITNESSES = [W1.verifier, W2.verifier]


class Log:
    """A small log: entries, the store of complete nodes, a cosigned checkpoint."""

    def __init__(self, size: int, origin: str = "example.com/log") -> None:
        self.entries = [b"event %d" % i for i in range(size)]
        tree = CompactRange()
        self.store: dict[NodeID, bytes] = dict(
            tree.extend(merkle.leaf_hash(e) for e in self.entries)
        )
        self.tree = Checkpoint(origin, size, tree.root())
        self.note = note.add_signatures(checkpoint.sign_checkpoint(self.tree, LOG), W1, W2)

    def receipt(self, index: int, extra: bytes = b"") -> bytes:
        return receipt.build_receipt(
            index=index,
            proof=merkle.inclusion_proof(index, self.tree.size, self.store.__getitem__),
            checkpoint=self.note,
            leaf_hash=merkle.leaf_hash(self.entries[index]),
            extra=extra,
        )


LOG_13 = Log(13)


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_a_receipt_looks_like_the_spec() -> None:
    written = LOG_13.receipt(5, extra=b"opening")
    lines = written.decode().split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == "extra " + base64.b64encode(b"opening").decode()
    assert lines[2] == "index 5"
    proof = merkle.inclusion_proof(5, 13, LOG_13.store.__getitem__)
    assert lines[3 : 3 + len(proof)] == [base64.b64encode(h).decode() for h in proof]
    assert lines[3 + len(proof)] == ""
    assert written.endswith(b"\n\n" + LOG_13.note)
    without_extra = LOG_13.receipt(5)
    assert without_extra.split(b"\n")[1] == b"index 5"


def test_verify_returns_what_the_receipt_proves() -> None:
    verified = receipt.verify_receipt(
        LOG_13.receipt(5, extra=b"x"),
        LOG_13.entries[5],
        log=LOG.verifier,
        witnesses=WITNESSES,
        quorum=2,
    )
    assert verified.index == 5
    assert verified.checkpoint == LOG_13.tree
    assert [c.timestamp for c in verified.cosignatures] == [1_700_000_001, 1_700_000_002]
    assert verified.extra == b"x"


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_receipts_verify_for_any_entry(size: int, data: st.DataObject) -> None:
    log = Log(size)
    index = data.draw(st.integers(0, size - 1))
    written = log.receipt(index)
    verified = receipt.verify_receipt(written, log.entries[index], log=LOG.verifier)
    assert (verified.index, verified.checkpoint.size) == (index, size)
    other = data.draw(st.integers(0, size - 1))
    if other != index:
        with pytest.raises(InvalidProof):
            receipt.verify_receipt(written, log.entries[other], log=LOG.verifier)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 12), st.integers(min_value=0))
def test_a_flipped_bit_in_a_receipt_is_detected(index: int, bit: int) -> None:
    written = LOG_13.receipt(index)
    with pytest.raises(LedgerFormatError):
        receipt.verify_receipt(
            flip(written, bit),
            LOG_13.entries[index],
            log=LOG.verifier,
            witnesses=WITNESSES,
            quorum=2,
        )


def test_the_extra_data_is_not_authenticated() -> None:
    # The spec: applications must not trust it; it is only handed back.
    written = LOG_13.receipt(3, extra=b"first")
    changed = written.replace(base64.b64encode(b"first"), base64.b64encode(b"other"), 1)
    verified = receipt.verify_receipt(changed, LOG_13.entries[3], log=LOG.verifier)
    assert verified.extra == b"other"


PROOF = st.lists(st.binary(min_size=32, max_size=32), max_size=64).map(tuple)


@settings(max_examples=200)
@given(st.integers(0, 2**64 - 1), PROOF, st.binary(max_size=100))
def test_parse_inverts_format(index: int, proof: tuple[bytes, ...], extra: bytes) -> None:
    original = Receipt(index, proof, LOG_13.note, extra)
    assert Receipt.parse(original.to_bytes()) == original


HEADER = b"c2sp.org/tlog-proof@v1\n"
HASH = base64.b64encode(bytes(32))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"c2sp.org/tlog-proof@v2\nindex 0\n\n", "receipt line 1 is not 'c2sp.org/tlog-proof@v1'"),
        (b"c2sp.org/tlog-proof@v1 \nindex 0\n\n", "receipt line 1 is not"),
        (b"", "receipt ends before the newline of line 1"),
        (HEADER, "receipt ends before the newline of line 2"),
        (HEADER + b"index 0", "receipt ends before the newline of line 2"),
        (HEADER + b"index 0\n" + HASH, "receipt ends before the newline of line 3"),
        (HEADER + b"extra \nindex 0\n\n", "extra line without data (omit the line)"),
        (HEADER + b"extra AB==\nindex 0\n\n", "receipt line 2: extra data 'AB==' is not canonical"),
        (HEADER + b"extra !!\nindex 0\n\n", "receipt line 2: extra data '!!' is not valid base64"),
        (HEADER + b"extra\nindex 0\n\n", "receipt line 2 does not start with 'index '"),
        (HEADER + b"extra YQ==\nextra YQ==\n\n", "receipt line 3 does not start with 'index '"),
        (HEADER + b"index 01\n\n", "receipt line 2: index '01' has a leading zero"),
        (HEADER + b"index -1\n\n", "receipt line 2: index '-1' is not a decimal number"),
        (HEADER + b"index  1\n\n", "index ' 1' is not a decimal number"),
        (HEADER + b"index 18446744073709551616\n\n", "is larger than 18446744073709551615"),
        (HEADER + b"Index 1\n\n", "receipt line 2 does not start with 'index '"),
        (HEADER + b"index 0\r\n\n", "receipt line 2 is not printable ASCII"),
        (HEADER + "index \u0661\n\n".encode(), "receipt line 2 is not printable ASCII"),
        (HEADER + b"index 0\n" + HASH[:-1] + b"\n\n", "receipt line 3: proof hash"),
        (HEADER + b"index 0\n" + base64.b64encode(bytes(31)) + b"\n\n", "is 31 bytes, not 32"),
        (HEADER + b"index 0\n" + (HASH + b"\n") * 65 + b"\n", "more than 64 proof hashes"),
        (HEADER + b"index 0\n" + HASH + b"\n", "receipt ends before the newline of line 4"),
        (HEADER + b"index 0\n\n", "receipt has no checkpoint after its blank line"),
    ],
)
def test_malformed_receipts_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedReceipt, match=re.escape(problem)):
        Receipt.parse(data)


def test_the_embedded_checkpoint_must_be_well_formed() -> None:
    with pytest.raises(MalformedNote):
        Receipt.parse(HEADER + b"index 0\n\nnot a note\n")
    not_a_checkpoint = note.sign_note("hello\n", LOG)
    with pytest.raises(MalformedCheckpoint):
        Receipt.parse(HEADER + b"index 0\n\n" + not_a_checkpoint)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ((-1, (), b"cp"), "receipt index -1 is outside"),
        ((2**64, (), b"cp"), "receipt index 18446744073709551616 is outside"),
        ((0, (bytes(31),), b"cp"), "receipt proof hash 0 is 31 bytes"),
        ((0, (bytes(32),) * 65, b"cp"), "receipt proof has 65 hashes, more than 64"),
    ],
)
def test_receipts_refuse_impossible_fields(
    fields: tuple[int, tuple[bytes, ...], bytes], problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        Receipt(*fields)


def test_build_receipt_refuses_a_proof_that_does_not_hold() -> None:
    proof = merkle.inclusion_proof(5, 13, LOG_13.store.__getitem__)
    with pytest.raises(InvalidProof, match="inclusion proof of leaf 5 leads to root"):
        receipt.build_receipt(
            index=5,
            proof=proof,
            checkpoint=LOG_13.note,
            leaf_hash=merkle.leaf_hash(b"not the entry"),
        )
    with pytest.raises(InvalidProof, match="leaf index 13 is outside a tree of size 13"):
        receipt.build_receipt(
            index=13, proof=proof, checkpoint=LOG_13.note, leaf_hash=merkle.leaf_hash(b"x")
        )
    with pytest.raises(MalformedNote):
        receipt.build_receipt(
            index=5, proof=proof, checkpoint=b"junk", leaf_hash=merkle.leaf_hash(b"x")
        )


def test_verification_failures() -> None:
    written = LOG_13.receipt(7)
    entry = LOG_13.entries[7]
    other_log = Ed25519Signer("example.com/log", bytes(32))
    with pytest.raises(UnverifiedNote, match="no signature from any of the 1 known keys"):
        receipt.verify_receipt(written, entry, log=other_log.verifier)
    with pytest.raises(UnexpectedOrigin):
        receipt.verify_receipt(written, entry, log=LOG.verifier, origin="example.com/elsewhere")
    w3 = CosignatureSigner("witness.example/3", bytes([3]) * 32, clock=lambda: 0)
    with pytest.raises(UnverifiedNote, match="the policy needs 2"):
        receipt.verify_receipt(
            written, entry, log=LOG.verifier, witnesses=[W1.verifier, w3.verifier], quorum=2
        )
    with pytest.raises(InvalidProof):
        receipt.verify_receipt(written, b"event 8", log=LOG.verifier)
    # A proof from another log's checkpoint with the same key does not fit.
    bigger = Log(14)
    spliced = written.replace(LOG_13.note, bigger.note)
    with pytest.raises(InvalidProof):
        receipt.verify_receipt(spliced, entry, log=LOG.verifier)
    # Cosignatures lifted from another checkpoint fail as known witnesses.
    forged = LOG_13.note.split(b"\n\n")[0] + b"\n\n" + bigger.note.split(b"\n\n")[1]
    with pytest.raises(BadSignature):
        receipt.verify_receipt(written.replace(LOG_13.note, forged), entry, log=LOG.verifier)


def test_a_receipt_of_the_only_entry_has_no_proof_lines() -> None:
    single = Log(1)
    written = single.receipt(0)
    assert written.startswith(HEADER + b"index 0\n\n")
    receipt.verify_receipt(written, single.entries[0], log=LOG.verifier)
