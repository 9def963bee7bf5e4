"""Bytes Pouch did not write: the spec's examples, published vectors, a Tessera log,
and the witness's cosignature checked by code written here from the spec's words."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.testclient import TestClient

from pouch.ledger.checkpoint import Checkpoint
from pouch.ledger.merkle import NodeID, consistency_proof, root_from_leaf_hashes
from pouch.ledger.note import CosignatureSigner, Ed25519Signer, open_note, parse_note
from pouch.witness.loglist import LogList
from pouch.witness.protocol import (
    AddCheckpoint,
    monitoring_path,
    origin_hash,
    parse_cosignature_lines,
)
from pouch.witness.server import create_witness_app
from tests.witness.helpers import ORIGIN, T0, VECTORS, Clock, TestLog

# c2sp.org/tlog-witness (C2SP/C2SP@5ba5ee8), "add-checkpoint", the example request body.
SPEC_REQUEST = """\
old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
""".encode()  # noqa: E501
# The same section's example response body.
SPEC_RESPONSE = """\
— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==
— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==
— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==
""".encode()  # noqa: E501
SPEC_ORIGIN = "example.com/behind-the-sofa"
# "— <key name> base64(32-bit key ID || signature)", one per line (signed-note).
SIGNATURE_LINE = re.compile(r"— (\S+) ([A-Za-z0-9+/]+={0,2})\n")

TESSERA = Path(__file__).parents[1] / "ledger" / "data" / "tessera-log"
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"


def app_for(
    log_list: LogList, witness: CosignatureSigner, tmp_path: Path, clock: Clock
) -> TestClient:
    return TestClient(
        create_witness_app(
            signer=witness, logs=log_list, state_path=tmp_path / "w.sqlite3", clock=clock
        )
    )


def list_of(vkey: str, origin: str = "none") -> LogList:
    return LogList.parse(f"logs/v0\nvkey {vkey}\norigin {origin}\nqpd 1440\ncontact x\n")


# -- the spec's examples ---------------------------------------------------------


def test_the_spec_s_example_request_parses() -> None:
    request = AddCheckpoint.parse(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.checkpoint == SPEC_REQUEST.partition(b"\n\n")[2]
    note = parse_note(request.checkpoint)
    assert len(note.signatures) == 2
    checkpoint = Checkpoint.parse(note.text)
    assert (checkpoint.origin, checkpoint.size) == (SPEC_ORIGIN, 20852163)
    assert request.to_body() == SPEC_REQUEST


def test_the_spec_s_example_request_reaches_the_signature_check(
    witness_signer: CosignatureSigner, tmp_path: Path, clock: Clock
) -> None:
    """Its log key is not published: a witness that does not list the origin
    answers 404; one that lists it under another key, 403 (unknown keys ignored)."""
    other_log = Ed25519Signer(SPEC_ORIGIN, bytes(32)).verifier
    unlisted = app_for(
        list_of(other_log.vkey, "elsewhere.example"), witness_signer, tmp_path, clock
    )
    assert unlisted.post("/add-checkpoint", content=SPEC_REQUEST).status_code == 404
    listed = app_for(list_of(other_log.vkey), witness_signer, tmp_path, clock)
    response = listed.post("/add-checkpoint", content=SPEC_REQUEST)
    assert response.status_code == 403
    assert "not signed by a key trusted for 'example.com/behind-the-sofa'" in response.text


def test_the_witness_answers_in_the_shape_of_the_spec_s_example_response(
    client: TestClient, log: TestLog
) -> None:
    assert parse_cosignature_lines(SPEC_RESPONSE) == SPEC_RESPONSE.decode()
    theirs = SPEC_RESPONSE.decode().splitlines(keepends=True)
    ours = client.post("/add-checkpoint", content=log.request(0, 5)).content.decode()
    for line in [*theirs, ours]:
        match = SIGNATURE_LINE.fullmatch(line)
        assert match is not None, line
        # tlog-cosignature: key ID (4) || timestamp (8) || Ed25519 signature (64).
        assert len(base64.b64decode(match.group(2))) == 76, line


def test_the_monitoring_path_is_the_lowercase_hex_sha256_of_the_origin() -> None:
    expected = hashlib.sha256(SPEC_ORIGIN.encode()).hexdigest()
    assert origin_hash(SPEC_ORIGIN) == expected
    assert monitoring_path(SPEC_ORIGIN) == f"/{expected}/checkpoint"


# -- a cosignature checked without Pouch's note module ---------------------------


def independent_verify(vkey: str, checkpoint_text: bytes, line: str) -> int:
    """c2sp.org/tlog-cosignature, "Format" and "Ed25519 signed message", from its words:
    the vkey is name+hex(key ID)+base64(0x04 || key); the key ID is SHA-256(name ||
    0x0A || 0x04 || key)[:4]; the signature is key ID || u64 timestamp || Ed25519 over
    "cosignature/v1\\ntime <timestamp>\\n" and the checkpoint text. Returns the time."""
    name, hex_id, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 0x04 and len(raw) == 33
    public_key = raw[1:]
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public_key).digest()[:4]
    assert key_id.hex() == hex_id
    match = SIGNATURE_LINE.fullmatch(line)
    assert match is not None and match.group(1) == name
    decoded = base64.b64decode(match.group(2))
    assert decoded[:4] == key_id
    timestamp = int.from_bytes(decoded[4:12], "big")
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + checkpoint_text
    Ed25519PublicKey.from_public_bytes(public_key).verify(decoded[12:], message)  # raises
    return timestamp


def test_the_cosignature_verifies_by_the_spec_s_words_alone(
    client: TestClient, log: TestLog, witness_signer: CosignatureSigner
) -> None:
    response = client.post("/add-checkpoint", content=log.request(0, 9))
    text = log.checkpoint(9).partition(b"\n\n")[0] + b"\n"
    vkey = witness_signer.verifier.vkey
    assert independent_verify(vkey, text, response.text) == T0
    # And the copy monitors get carries the same cosignature, after the log's signature.
    served = client.get(monitoring_path(ORIGIN)).content.decode()
    log_line, witness_line = served.split("\n\n")[1].splitlines(keepends=True)
    assert witness_line == response.text
    assert log_line.startswith(f"— {ORIGIN} ")
    with pytest.raises(InvalidSignature):
        independent_verify(vkey, text.replace(b"\n9\n", b"\n10\n"), response.text)


# -- the signed-note vector ------------------------------------------------------


def test_a_log_keyed_by_the_signed_note_vector(
    witness_signer: CosignatureSigner, tmp_path: Path, clock: Clock
) -> None:
    (vector,) = json.loads((VECTORS / "signed-notes.json").read_text())["vectors"]
    log_list = list_of(vector["vkey"])  # origin none: the key's name, PeterNeumann
    (entry,) = log_list.entries
    assert entry.origin == "PeterNeumann"
    # The vector's own note verifies under the key the list gave.
    note = (vector["text"] + "\n" + vector["signature_line"]).encode()
    assert open_note(note, log_list.keys_for("PeterNeumann")).text == vector["text"]
    # Its private key signs checkpoints the witness cosigns.
    signer = Ed25519Signer.from_skey(vector["skey"])
    vector_log = TestLog.counting(signer, 4, origin="PeterNeumann")
    client = app_for(log_list, witness_signer, tmp_path, clock)
    assert client.post("/add-checkpoint", content=vector_log.request(0, 2)).status_code == 200
    assert client.post("/add-checkpoint", content=vector_log.request(2, 4)).status_code == 200


# -- a log written by Tessera ----------------------------------------------------


def test_checkpoints_signed_by_tessera_are_cosigned_as_the_log_grows(
    witness_signer: CosignatureSigner, tmp_path: Path, clock: Clock
) -> None:
    tile = (TESSERA / "tile" / "0" / "000.p" / "15").read_bytes()
    leaves = [tile[i : i + 32] for i in range(0, len(tile), 32)]

    def node(n: NodeID) -> bytes:
        return root_from_leaf_hashes(leaves[n.leaves.start : n.leaves.stop])

    def request(old: int, size: int) -> bytes:
        proof = tuple(consistency_proof(old, size, node)) if old else ()
        checkpoint = (TESSERA / f"checkpoint.{size}").read_bytes()
        return AddCheckpoint(old_size=old, proof=proof, checkpoint=checkpoint).to_body()

    client = app_for(list_of(TESSERA_VKEY), witness_signer, tmp_path, clock)
    for old, size in [(0, 1), (1, 3), (3, 8), (8, 15)]:
        response = client.post("/add-checkpoint", content=request(old, size))
        assert response.status_code == 200, response.text
    # Tessera's checkpoint.15, byte for byte, plus the cosignature.
    served = client.get(monitoring_path("example.com/log/testdata")).content
    assert served.startswith((TESSERA / "checkpoint.15").read_bytes())
    # An older checkpoint replayed: the witness answers with the size it is at.
    assert client.post("/add-checkpoint", content=request(0, 8)).text == "15\n"
