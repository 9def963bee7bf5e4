"""Witness policies (c2sp.org/tlog-policy), read as the spec writes them."""

from __future__ import annotations

import pytest

from pouch.ledger.checkpoint import Checkpoint, sign_checkpoint
from pouch.ledger.errors import BadSignature, UnexpectedOrigin, UnverifiedNote
from pouch.ledger.note import CosignatureSigner, Ed25519Signer, add_signatures
from pouch.ledger.policy import MalformedPolicy, Policy

LOG = Ed25519Signer("example.com/log", bytes(range(32)))
WITNESSES = {
    name: CosignatureSigner(f"witness.example/{name}", bytes([i]) * 32, clock=lambda: 1_700_000_000)
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3"], 1)
}


def vkey(name: str) -> str:
    return WITNESSES[name].verifier.vkey


def spec_example() -> str:
    """The spec's example policy ("Example policy"), with keys where it elides them."""
    return f"""log {LOG.verifier.vkey}

witness X1 {vkey("X1")}
witness X2 {vkey("X2")}
witness X3 {vkey("X3")}
group X-witnesses 2 X1 X2 X3

witness Y1 {vkey("Y1")}
witness Y2 {vkey("Y2")}
witness Y3 {vkey("Y3")}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_the_spec_example_needs_two_xs_and_one_y() -> None:
    policy = Policy.parse(spec_example())
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y1", "Y2", "Y3"})  # one X is not two
    assert not policy.satisfied({"X1", "X2", "X3"})  # no Y
    assert policy.describe_quorum() == "2 of (2 of (X1, X2, X3), 1 of (Y1, Y2, Y3))"


def test_urls_comments_tabs_and_quorum_none() -> None:
    policy = Policy.parse(
        f"# the transition team's witness\n"
        f"\tlog {LOG.verifier.vkey} https://pouch.example/log  \n"
        f"witness\tT {vkey('X1')}\thttp://127.0.0.1:9000/\n"
        f"   # indented comment\n"
        f"quorum none\n"
    )
    assert policy.logs[0].url == "https://pouch.example/log"
    assert policy.witness("T").url == "http://127.0.0.1:9000/"
    assert policy.satisfied(set())


def cosigned(*names: str, origin: str = "example.com/log") -> bytes:
    note = sign_checkpoint(Checkpoint(origin, 5, bytes(32)), LOG)
    for name in names:
        note = add_signatures(note, WITNESSES[name])
    return note


def test_open_checks_the_log_signature_and_the_quorum() -> None:
    policy = Policy.parse(spec_example())
    signed, log = policy.open(cosigned("X1", "X2", "Y3"))
    assert signed.checkpoint.size == 5 and log.name == "example.com/log"
    assert len(signed.cosignatures) == 3
    with pytest.raises(UnverifiedNote, match=r"cosigned by X1, Y3; the policy's quorum is 2 of"):
        policy.open(cosigned("X1", "Y3"))
    stranger = Ed25519Signer("example.com/log", bytes(32))
    with pytest.raises(UnverifiedNote):
        policy.open(sign_checkpoint(Checkpoint("example.com/log", 5, bytes(32)), stranger))
    with pytest.raises(UnexpectedOrigin):
        policy.open(cosigned("X1", "X2", "Y1", origin="other.example/log"))


def test_a_cosignature_that_fails_rejects_the_note() -> None:
    note = cosigned("X1", "X2", "Y1")
    forged = note.replace(note.splitlines()[-1][-10:], b"AAAAAAAAA=")
    with pytest.raises(BadSignature, match=r"from known key witness\.example/Y1"):
        Policy.parse(spec_example()).open(forged)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no quorum line"),
        ("quorum none\nquorum none\n", "line 2: a second quorum line"),
        ("quorum X\n", "line 1: quorum 'X' is not defined"),
        ("witness none {X1}\nquorum none\n", "line 1: 'none' is reserved"),
        ("witness A {X1}\nwitness A {X2}\nquorum A\n", "line 2: the name 'A' is defined twice"),
        ("witness A {X1}\nwitness B {X1}\nquorum A\n", "line 2: this public key is listed twice"),
        ("witness A {X1}\ngroup G 2 A\nquorum G\n", "line 2: threshold 2 is not between 1 and 1"),
        ("witness A {X1}\ngroup G 0 A\nquorum G\n", "line 2: threshold 0 is not between"),
        ("witness A {X1}\ngroup G 01 A\nquorum G\n", "leading zero"),
        ("witness A {X1}\ngroup G any A A\nquorum G\n", "line 2: a group member is listed twice"),
        ("witness A {X1}\ngroup G any B\nquorum G\n", "line 2: group member 'B' is not defined"),
        ("group G any\nquorum none\n", "line 1: 'group <name> all|any|<k> <member>...'"),
        ("witness A {LOG}\nquorum A\n", "line 1: a witness's key must be a cosignature key"),
        ("log {X1}\nquorum none\n", "line 1: a log's key must be an Ed25519 key"),
        ("log not-a-key\nquorum none\n", "line 1: "),
        ("witness A {X1} url extra\nquorum A\n", "takes 2 or 3 items"),
        ("witnesses A {X1}\nquorum A\n", "line 1: unknown keyword 'witnesses'"),
        ("quorum none\r\n", "line 1: control character 0x0d"),
        ("# a\x00b\nquorum none\n", "line 1: control character 0x00"),
    ],
)
def test_malformed_policies_name_their_line(text: str, message: str) -> None:
    filled = text.replace("{X1}", vkey("X1")).replace("{X2}", vkey("X2"))
    filled = filled.replace("{LOG}", LOG.verifier.vkey)
    with pytest.raises(MalformedPolicy) as raised:
        Policy.parse(filled)
    assert message in str(raised.value)


def test_names_are_opaque_octets_and_a_huge_policy_is_refused() -> None:
    # "K" and the Kelvin sign are two names (the spec's own example).
    policy = Policy.parse(f"witness K {vkey('X1')}\nwitness \u212a {vkey('X2')}\nquorum \u212a\n")
    assert policy.satisfied({"\u212a"}) and not policy.satisfied({"K"})
    many = "".join(
        f"witness W{i} {CosignatureSigner(f'w{i}', i.to_bytes(32, 'big'), clock=lambda: 0).verifier.vkey}\n"  # noqa: E501
        for i in range(1, 70)
    )
    with pytest.raises(MalformedPolicy, match="line 65: more than 64"):
        Policy.parse(many + "quorum W1\n")
