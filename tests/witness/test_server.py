"""``pouch witness serve``'s HTTP interface: every answer of c2sp.org/tlog-witness."""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from pouch.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from pouch.ledger.merkle import EMPTY_ROOT, consistency_proof, leaf_hash
from pouch.ledger.note import (
    CosignatureSigner,
    Ed25519Signer,
    add_signatures,
    parse_note,
    verify_cosignature,
)
from pouch.witness.loglist import LogList
from pouch.witness.protocol import (
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    monitoring_path,
    parse_cosignature_lines,
    parse_size_body,
)
from pouch.witness.server import create_witness_app
from pouch.witness.state import CosignedCheckpoint, WitnessState
from tests.witness.helpers import ORIGIN, T0, VECTORS, Clock, TestLog

ALLOWED = {200, 400, 403, 404, 409, 413, 422}


def add(client: TestClient, body: bytes) -> tuple[int, bytes, str]:
    response = client.post("/add-checkpoint", content=body)
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    return response.status_code, response.content, response.headers.get("content-type", "")


def cosigned(state_path: Path) -> CosignedCheckpoint | None:
    return WitnessState(state_path).latest(ORIGIN)


# -- 200 -------------------------------------------------------------------------


def test_first_checkpoint_is_cosigned_and_served_to_monitors(
    client: TestClient, log: TestLog, witness_signer: CosignatureSigner, state_path: Path
) -> None:
    assert client.get(monitoring_path(ORIGIN)).status_code == 404

    status, body, content_type = add(client, log.request(0, 5))

    assert status == 200 and content_type.startswith("text/plain")
    lines = parse_cosignature_lines(body)
    assert lines.count("\n") == 1 and lines.startswith(f"— {witness_signer.name} ")
    # The client's way (the spec's): append the lines to the checkpoint, verify.
    cosignature = verify_cosignature(log.checkpoint(5) + body, witness_signer.verifier)
    assert cosignature.timestamp == T0
    # Monitors get the checkpoint with the log's signature and the cosignature.
    served = client.get(monitoring_path(ORIGIN))
    assert served.status_code == 200
    signed = open_checkpoint(
        served.content, log=log.signer.verifier, witnesses=[witness_signer.verifier], quorum=1
    )
    assert (signed.checkpoint.size, signed.checkpoint.root_hash) == (5, log.root(5))
    stored = cosigned(state_path)
    assert stored is not None and (stored.size, stored.cosigned_at) == (5, T0)


def test_a_growing_log_is_cosigned_at_each_size(
    client: TestClient, log: TestLog, witness_signer: CosignatureSigner, clock: Clock
) -> None:
    sizes = [0, 1, 2, 7, 8, 9, 16, 40]
    for old, new in itertools.pairwise(sizes):
        clock.now += 60
        status, body, _ = add(client, log.request(old, new))
        assert status == 200, body
        assert verify_cosignature(
            log.checkpoint(new) + body, witness_signer.verifier
        ).timestamp == (clock.now)


def test_the_same_checkpoint_again_is_cosigned_again_with_a_new_time(
    client: TestClient, log: TestLog, witness_signer: CosignatureSigner, clock: Clock
) -> None:
    assert add(client, log.request(0, 6))[0] == 200
    clock.now += 3600
    status, body, _ = add(client, log.request(6, 6))
    assert status == 200
    assert verify_cosignature(log.checkpoint(6) + body, witness_signer.verifier).timestamp == (
        T0 + 3600
    )


def test_an_empty_tree_is_cosigned_and_any_tree_extends_it(
    client: TestClient, log: TestLog
) -> None:
    assert add(client, log.request(0, 0))[0] == 200
    assert add(client, log.request(0, 4))[0] == 200


def test_other_signatures_are_ignored_and_not_served(
    client: TestClient, log: TestLog, witness_signer: CosignatureSigner
) -> None:
    stranger = Ed25519Signer("stranger.example/key", bytes(32))
    checkpoint = add_signatures(log.checkpoint(3), stranger)
    status, _, _ = add(client, log.request(0, 3, checkpoint=checkpoint))
    assert status == 200
    served = parse_note(client.get(monitoring_path(ORIGIN)).content)
    assert [s.name for s in served.signatures] == [log.signer.name, witness_signer.name]


# -- 400, 403, 404 ---------------------------------------------------------------


def test_old_size_larger_than_the_checkpoint_is_400(client: TestClient, log: TestLog) -> None:
    assert add(client, log.request(0, 8))[0] == 200
    body = log.request(8, 3, proof=())
    status, text, _ = add(client, body)
    assert status == 400 and b"old size 8 is larger" in text


def test_no_signature_from_a_trusted_key_is_403(client: TestClient, log: TestLog) -> None:
    impostor = Ed25519Signer(ORIGIN, bytes(range(1, 33)))  # same name, another key
    checkpoint = sign_checkpoint(Checkpoint(ORIGIN, 3, log.root(3)), impostor)
    status, text, _ = add(client, log.request(0, 3, checkpoint=checkpoint))
    assert status == 403 and b"not signed by a key trusted" in text


def test_a_trusted_key_whose_signature_fails_is_403(client: TestClient, log: TestLog) -> None:
    note = parse_note(log.checkpoint(3))
    signature = note.signatures[0]
    bad = signature.signature[:-1] + bytes([signature.signature[-1] ^ 1])
    line = "— {} {}\n".format(
        signature.name, base64.b64encode(signature.key_id.to_bytes(4, "big") + bad).decode()
    )
    status, text, _ = add(client, log.request(0, 3, checkpoint=(note.text + "\n" + line).encode()))
    assert status == 403 and b"does not verify" in text


def test_unknown_origin_is_404(client: TestClient) -> None:
    other = TestLog(Ed25519Signer("other.example/log", bytes(32)), [b"a"], "other.example/log")
    status, text, _ = add(client, other.request(0, 1))
    assert status == 404 and b"unknown log origin 'other.example/log'" in text


def test_monitoring_path_of_a_log_never_cosigned_is_404(client: TestClient) -> None:
    assert client.get(monitoring_path("other.example/log")).status_code == 404
    assert client.get("/NOT-A-HASH/checkpoint").status_code == 404
    upper = monitoring_path(ORIGIN).removesuffix("/checkpoint").upper()
    assert client.get(upper + "/checkpoint").status_code == 404


# -- 409 -------------------------------------------------------------------------


def test_old_size_other_than_the_cosigned_size_is_409_with_that_size(
    client: TestClient, log: TestLog
) -> None:
    assert add(client, log.request(0, 5))[0] == 200
    for old in (0, 3, 6):
        status, body, content_type = add(client, log.request(old, 9))
        assert status == 409
        assert content_type == SIZE_CONTENT_TYPE  # exactly, no charset
        assert body == b"5\n" and parse_size_body(body) == 5


def test_a_client_without_state_probes_with_old_0_then_catches_up(
    client: TestClient, log: TestLog
) -> None:
    assert add(client, log.request(0, 12))[0] == 200
    status, body, _ = add(client, log.request(0, 20))
    assert status == 409
    assert add(client, log.request(parse_size_body(body), 20))[0] == 200


# -- 422 -------------------------------------------------------------------------


def test_a_failing_consistency_proof_is_422(client: TestClient, log: TestLog) -> None:
    assert add(client, log.request(0, 5))[0] == 200
    proof = list(log.proof(5, 9))
    proof[1] = bytes(32)
    status, text, _ = add(client, log.request(5, 9, proof=tuple(proof)))
    assert status == 422 and b"consistency proof fails" in text


def test_a_proof_of_the_wrong_length_is_422(client: TestClient, log: TestLog) -> None:
    assert add(client, log.request(0, 5))[0] == 200
    assert add(client, log.request(5, 9, proof=log.proof(5, 9)[:-1]))[0] == 422
    assert add(client, log.request(5, 9, proof=()))[0] == 422
    assert add(client, log.request(5, 5, proof=log.proof(5, 9)[:1]))[0] == 422


def test_a_non_empty_proof_from_size_0_is_422(client: TestClient, log: TestLog) -> None:
    status, text, _ = add(client, log.request(0, 5, proof=log.proof(3, 5)))
    assert status == 422 and b"from size 0 must be empty" in text


def test_a_size_0_checkpoint_must_have_the_empty_root(client: TestClient, log: TestLog) -> None:
    checkpoint = log.checkpoint(0, root=log.root(1))
    status, text, _ = add(client, log.request(0, 0, checkpoint=checkpoint))
    assert status == 422 and b"size 0 must have the root" in text
    assert add(client, log.request(0, 0, checkpoint=log.checkpoint(0, root=EMPTY_ROOT)))[0] == 200


# -- a fork ----------------------------------------------------------------------


def test_a_fork_is_refused_kept_as_evidence_and_monitors_still_see_the_first_tree(
    client: TestClient, log: TestLog, state_path: Path
) -> None:
    assert add(client, log.request(0, 10))[0] == 200
    first = client.get(monitoring_path(ORIGIN)).content
    fork = log.fork()
    assert fork.root(10) != log.root(10)

    # The log signs another tree of the same size with the same key.
    same_size = fork.request(10, 10)
    status, text, _ = add(client, same_size)
    assert status == 422 and b"another tree of the cosigned size 10" in text
    # ... or a larger tree that does not extend the cosigned one.
    larger = fork.request(10, 14, proof=fork.proof(10, 14))
    status, text, _ = add(client, larger)
    assert status == 422 and b"consistency proof fails" in text
    # ... or another tree of size 10 with an old size the witness did not cosign.
    stale = fork.request(4, 10)
    status, text, _ = add(client, stale)
    assert status == 409 and text == b"10\n"

    assert client.get(monitoring_path(ORIGIN)).content == first
    state = WitnessState(state_path)
    kept = {refusal.body: refusal for refusal in state.refusals(limit=10)}
    assert set(kept) == {same_size, larger, stale}  # byte for byte
    assert kept[same_size].status == 422 and "a fork" in kept[same_size].reason
    assert kept[stale].status == 409 and "another tree of size 10" in kept[stale].reason
    # The honest log goes on being cosigned.
    assert add(client, log.request(10, 14))[0] == 200


def test_replaying_a_forked_checkpoint_counts_and_does_not_fill_the_disk(
    client: TestClient, log: TestLog, state_path: Path, clock: Clock
) -> None:
    assert add(client, log.request(0, 10))[0] == 200
    fork = log.fork()
    for garbage in range(20):
        clock.now += 1
        proof = (bytes([garbage]) * 32,)
        assert add(client, fork.request(10, 12, proof=proof))[0] == 422
    state = WitnessState(state_path)
    assert state.refusal_count() == 1
    (refusal,) = state.refusals()
    assert refusal.count == 20 and refusal.last_seen == refusal.first_seen + 19


# -- the RFC 6962 reference tree -------------------------------------------------


def test_rfc6962_reference_tree_growing_0_3_8(
    client: TestClient, log_signer: Ed25519Signer
) -> None:
    vector = json.loads((VECTORS / "rfc6962-tree.json").read_text())
    rfc = TestLog(log_signer, [bytes.fromhex(leaf) for leaf in vector["leaves"]])
    for size in (0, 3, 8):
        assert rfc.root(size).hex() == vector["roots"][str(size)]

    # RFC 9162 §2.1.4.1: PROOF(3, D[8]) = [d(2), d(3), MTH(D[0:2]), MTH(D[4:8])].
    proof_3_8 = tuple(consistency_proof(3, 8, rfc.node))
    assert len(proof_3_8) == 4
    assert proof_3_8[:2] == (leaf_hash(bytes.fromhex("10")), leaf_hash(bytes.fromhex("2021")))
    assert proof_3_8[2].hex() == vector["roots"]["2"]
    assert add(client, rfc.request(0, 0))[0] == 200
    assert add(client, rfc.request(0, 3))[0] == 200
    tampered = list(proof_3_8)
    tampered[2] = bytes([tampered[2][0] ^ 0x80]) + tampered[2][1:]
    assert add(client, rfc.request(3, 8, proof=tuple(tampered)))[0] == 422
    assert add(client, rfc.request(3, 8, proof=proof_3_8))[0] == 200
    served = parse_note(client.get(monitoring_path(ORIGIN)).content)
    assert Checkpoint.parse(served.text).root_hash.hex() == vector["roots"]["8"]


# -- hostile input ---------------------------------------------------------------


def _hostile(log: TestLog) -> dict[str, tuple[bytes, int, bytes]]:
    """what: (body, status, words the answer must contain), against a witness at size 5."""
    good = log.request(5, 9)
    head, _, checkpoint = good.partition(b"\n\n")
    note = parse_note(checkpoint)
    zero = base64.b64encode(bytes(32))
    stranger = Ed25519Signer("stranger.example/k", bytes(32))
    stranger_line = parse_note(add_signatures(checkpoint, stranger)).signatures[-1].line.encode()
    no_root = note.text.rsplit("\n", 2)[0] + "\n\n" + note.signatures[0].line
    return {
        "empty body": (b"", 400, b"no empty line"),
        "not UTF-8 in the checkpoint": (
            head + b"\n\n" + checkpoint.replace(ORIGIN.encode(), b"\xff\xfe"),
            400,
            b"not valid UTF-8",
        ),
        "not ASCII in the proof lines": (b"old 5\n\xc3\xa9\n\n" + checkpoint, 400, b"not ASCII"),
        "64 proof lines": (
            b"old 5\n" + (zero + b"\n") * 64 + b"\n" + checkpoint,
            400,
            b"64 consistency proof lines",
        ),
        "a leading zero": (good.replace(b"old 5", b"old 05", 1), 400, b"leading zero"),
        "old -1": (good.replace(b"old 5", b"old -1", 1), 400, b"not a decimal"),
        "old 2^64": (good.replace(b"old 5", b"old 18446744073709551616", 1), 400, b"larger"),
        "two spaces": (good.replace(b"old 5", b"old  5", 1), 400, b"not a decimal"),
        "no old line": (good.replace(b"old 5", b"new 5", 1), 400, b"is not 'old <size>'"),
        # The checkpoint's lines are then read as proof lines.
        "no blank line": (good.replace(b"\n\n", b"\n", 1), 400, b"not valid base64"),
        "CRLF lines": (good.replace(b"\n", b"\r\n"), 400, b"no empty line"),
        "a short proof hash": (
            b"old 5\n" + base64.b64encode(bytes(31)) + b"\n\n" + checkpoint,
            400,
            b"31 bytes, not 32",
        ),
        "non-canonical base64": (
            b"old 5\n" + zero[:-2] + b"B=\n\n" + checkpoint,
            400,
            b"not canonical base64",
        ),
        "101 signatures": (
            head + b"\n\n" + checkpoint + stranger_line * 100,
            400,
            b"101 signatures, more than 100",
        ),
        "a bell in the origin": (
            head + b"\n\n" + checkpoint.replace(ORIGIN.encode(), ORIGIN.encode() + b"\x07"),
            400,
            b"control character U+0007",
        ),
        "a NUL in the old line": (good.replace(b"old 5", b"old 5\x00", 1), 400, b"not a decimal"),
        "a checkpoint without a root": (
            head + b"\n\n" + no_root.encode(),
            400,
            b"checkpoint text has 2 lines",
        ),
        "a size of 2^64": (
            head + b"\n\n" + checkpoint.replace(b"\n9\n", b"\n18446744073709551616\n"),
            400,
            b"larger than",
        ),
        "no signature lines": (
            head + b"\n\n" + note.text.encode(),
            400,
            b"no blank line before its signatures",
        ),
        # The log's signature, its key ID kept, its last bytes zeroed (still canonical base64).
        "a signature altered": (good[:-11] + b"AAAAAAAAA=\n", 403, b"does not verify"),
        "a proof from elsewhere": (
            log.request(5, 9, proof=log.proof(4, 9)),
            422,
            b"consistency proof fails",
        ),
    }


HOSTILE = [
    "empty body",
    "not UTF-8 in the checkpoint",
    "not ASCII in the proof lines",
    "64 proof lines",
    "a leading zero",
    "old -1",
    "old 2^64",
    "two spaces",
    "no old line",
    "no blank line",
    "CRLF lines",
    "a short proof hash",
    "non-canonical base64",
    "101 signatures",
    "a bell in the origin",
    "a NUL in the old line",
    "a checkpoint without a root",
    "a size of 2^64",
    "no signature lines",
    "a signature altered",
    "a proof from elsewhere",
]


@pytest.mark.parametrize("what", HOSTILE)
def test_hostile_input_is_refused_with_a_clear_answer_and_changes_nothing(
    client: TestClient, log: TestLog, state_path: Path, what: str
) -> None:
    assert add(client, log.request(0, 5))[0] == 200
    before = cosigned(state_path)
    body, expected, words = _hostile(log)[what]
    status, text, content_type = add(client, body)
    assert status == expected, text
    assert content_type.startswith("text/plain") and text.endswith(b"\n")
    assert words in text, text
    assert len(text) < 300  # short: the problem, not a dump of the input
    assert cosigned(state_path) == before


def test_every_hostile_case_is_run(log: TestLog) -> None:
    assert sorted(_hostile(log)) == sorted(HOSTILE)


def test_an_oversized_body_is_413_without_being_read(
    client: TestClient, log: TestLog, state_path: Path
) -> None:
    assert add(client, log.request(0, 5))[0] == 200
    before = cosigned(state_path)
    huge = log.request(5, 9) + b"x" * MAX_REQUEST_SIZE
    status, text, _ = add(client, huge)
    assert status == 413 and b"over" in text

    # Streamed without a Content-Length: refused once the limit is passed.
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_REQUEST_SIZE // 65536 + 10):
            yield b"y" * 65536

    response = client.post("/add-checkpoint", content=chunks())
    assert response.status_code == 413
    assert cosigned(state_path) == before


def test_a_state_locked_by_another_writer_is_503_and_changes_nothing(
    witness_signer: CosignatureSigner, log_list: LogList, state_path: Path, log: TestLog
) -> None:
    app = create_witness_app(
        signer=witness_signer, logs=log_list, state_path=state_path, clock=Clock(), busy_timeout=0
    )
    client = TestClient(app)
    assert client.post("/add-checkpoint", content=log.request(0, 3)).status_code == 200
    holder = sqlite3.connect(state_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process, in the middle of its write
    try:
        response = client.post("/add-checkpoint", content=log.request(3, 8))
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert response.text == "witness state is busy or unavailable; retry\n"
        assert client.get(monitoring_path(ORIGIN)).status_code == 200  # readers go on
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.post("/add-checkpoint", content=log.request(3, 8)).status_code == 200


# -- fuzzing ---------------------------------------------------------------------


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in edits:
        if not out:
            out.append(value)
            continue
        at = where % len(out)
        if kind == 0:
            out[at] = value
        elif kind == 1:
            out.insert(at, value)
        elif kind == 2:
            del out[at]
        else:
            del out[at:]
    return bytes(out)


_edits = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_bodies_never_get_a_500(
    client: TestClient, log: TestLog, state_path: Path, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["random", "mutated", "lines", "proof", "old"]))
    if kind == "random":
        body = data.draw(st.binary(max_size=600))
    else:
        # A request the witness would cosign, from the size it is at, then damaged.
        latest = cosigned(state_path)
        old = 0 if latest is None else latest.size
        # (What is drawn must not depend on that size: hypothesis replays draws.)
        valid = log.request(old, min(old + data.draw(st.integers(0, 3)), 40))
        if kind == "mutated":
            body = _mutate(valid, data.draw(_edits))
        elif kind == "proof":
            # Damage only the proof: a well-formed request that does not prove.
            head, _, rest = valid.partition(b"\n\n")
            lines = head.split(b"\n")
            where, bit = data.draw(st.integers(0, 99)), data.draw(st.integers(0, 255))
            if len(lines) > 1:
                line = 1 + where % (len(lines) - 1)
                node = bytearray(base64.b64decode(lines[line]))
                node[bit % 32] ^= 1 << (bit % 8)
                lines[line] = base64.b64encode(bytes(node))
            body = b"\n".join(lines) + b"\n\n" + rest
        elif kind == "old":
            claimed = data.draw(st.integers(0, 45))
            body = valid.replace(b"old %d\n" % old, b"old %d\n" % claimed, 1)
        else:
            lines = valid.split(b"\n")
            picks = data.draw(st.lists(st.integers(0, 99), min_size=1, max_size=14))
            body = b"\n".join(lines[i % len(lines)] for i in picks)
    response = client.post("/add-checkpoint", content=body)
    event(f"{kind}: {response.status_code}")
    assert response.status_code in ALLOWED, (body, response.text)
    assert response.text.endswith("\n")
