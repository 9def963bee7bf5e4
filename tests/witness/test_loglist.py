"""The witness network's ``logs/v0`` log list: the lists published, and errors by line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pouch.ledger.note import CosignatureSigner, Ed25519Signer, Ed25519Verifier
from pouch.witness.loglist import LogEntry, LogList, MalformedLogList, new_entry

# Two entries of transparency-dev/witness-network lists/testing/log-list.1 (commit 02c7ae8),
# byte for byte: no origin line (the key's name is the origin), no bastion.
NETWORK_LIST = """#
# This is an experimental list where witnesses can discover logs.  The
# work-in-progress list format is described here:
#
#   https://witness-network.org/log-list-format
#
# No performance profile - this is only meant for dev/testing.  Expect breakage.
#
logs/v0

vkey sigsum.org/v1/tree/4e89cc51651f0d95f3c6127c15e1a42e3ddf7046c5b17b752689c402e773bb4d+778629b1+AUZEryq9QPSJWgA7yjUPnVkSqzAaScd/E+W22QXCCl/m
qpd 8640
contact sigsum-logs (at) glasklarteknik.se | https://git.glasklar.is/glasklar/services/sigsum-logs/-/blob/main/instances/barreleye.md

vkey keyserver.geomys.org+16b31509+ARLJ+pmTj78HzTeBj04V+LVfB+GFAQyrg54CRIju7Nn8
qpd 1440
contact keyserver-tlog@geomys.org
"""  # noqa: E501

A = Ed25519Signer("a.example/log", bytes(range(32))).verifier
B = Ed25519Signer("b.example/log", bytes(range(1, 33))).verifier

# Fixed, not generated: a test's parameters must be the same in every xdist worker.
WITNESS_VKEY = CosignatureSigner("w.example/w", bytes(32), clock=lambda: 0).verifier.vkey


def test_the_network_s_published_list_parses() -> None:
    logs = LogList.parse(NETWORK_LIST)
    sigsum, geomys = logs.entries
    assert sigsum.origin.startswith("sigsum.org/v1/tree/4e89cc51")
    assert (sigsum.qpd, sigsum.bastion) == (8640, None)
    assert sigsum.contact.endswith("instances/barreleye.md")
    # A base64 key with '+' in it, and the origin taken from the key's name.
    assert geomys.origin == "keyserver.geomys.org" == geomys.verifier.name
    assert logs.keys_for("keyserver.geomys.org") == (geomys.verifier,)
    assert logs.keys_for("unknown.example") == ()


def test_every_field_in_the_format_s_order_and_its_example_s_order() -> None:
    text = f"""logs/v0
# foo's log
vkey {A.vkey}
origin none
bastion https://bastion.a.example/
qpd 86400
contact https://a.example/contact

  # bar's log, its bastion after qpd as in the format's own example
vkey {B.vkey}
origin something-not-equal-to-the-key-name
qpd 24
bastion none
contact sysadmin (at) b.example
"""
    a, b = LogList.parse(text).entries
    assert (a.origin, a.bastion, a.qpd) == ("a.example/log", "https://bastion.a.example/", 86400)
    assert (b.origin, b.bastion, b.contact) == (
        "something-not-equal-to-the-key-name",
        None,
        "sysadmin (at) b.example",
    )


def test_one_origin_may_have_several_keys() -> None:
    rotated = Ed25519Signer("a.example/log", bytes(range(2, 34))).verifier
    text = f"logs/v0\nvkey {A.vkey}\nqpd 1\ncontact x\nvkey {rotated.vkey}\nqpd 1\ncontact x\n"
    assert LogList.parse(text).keys_for("a.example/log") == (A, rotated)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "line 1: the list has no 'logs/v0' header"),
        ("# only a comment\n", "has no 'logs/v0' header"),
        ("logs/v1\n", "line 1: expected the header 'logs/v0', found 'logs/v1'"),
        (f"logs/v0\norigin x\nvkey {A.vkey}\n", "line 2: expected 'vkey VKEY', found 'origin x'"),
        (f"logs/v0\nvkey {A.vkey}\ncontact x\n", "line 3: expected 'origin ORIGIN' or"),
        (f"logs/v0\nvkey {A.vkey}\nqpd 0\ncontact x\n", "line 3: qpd '0' is not a positive"),
        (f"logs/v0\nvkey {A.vkey}\nqpd 1e3\ncontact x\n", "line 3: qpd '1e3' is not"),
        (f"logs/v0\nvkey {A.vkey}\nqpd 5\n", "line 2: the log listed here is incomplete"),
        (f"logs/v0\nvkey {A.vkey}\nqpd 5\ncontact\n", "line 4: 'contact' needs a value"),
        (f"logs/v0\n\nvkey {A.vkey} extra\n", "line 3: 'vkey' takes one value"),
        ("logs/v0\nvkey a.example+00000000+AAAA\n", "line 2: vkey has unsupported signature"),
        (
            f"logs/v0\nvkey {WITNESS_VKEY}\n",
            "line 2: a log's key must be an Ed25519 key",
        ),
        (
            f"logs/v0\nvkey {A.vkey}\nqpd 1\ncontact x\nvkey {A.vkey}\n",
            "line 5: this key is already listed on line 2",
        ),
        (f"logs/v0\nvkey {A.vkey}\norigin a\x07b\n", "line 3: control character U+0007"),
        (
            f"logs/v0\nvkey {A.vkey}\nqpd 1\nbastion none\nbastion none\n",
            "line 5: expected 'contact TEXT', found 'bastion none'",
        ),
    ],
)
def test_errors_name_the_line(text: str, error: str) -> None:
    with pytest.raises(MalformedLogList) as raised:
        LogList.parse(text)
    assert error in str(raised.value)


def test_crlf_and_indentation_are_tolerated() -> None:
    text = f"logs/v0\r\n  vkey {A.vkey}\r\n\tqpd 3\r\ncontact x\r\n"
    assert LogList.parse(text).entries[0].qpd == 3


def test_new_entry_checks_values_as_the_parser_checks_lines() -> None:
    entry = new_entry(vkey=B.vkey, contact="ops@b.example", qpd=24, origin="b.example/other")
    assert (entry.origin, entry.qpd) == ("b.example/other", 24)
    with pytest.raises(MalformedLogList, match="contact 'a\\\\nvkey"):
        new_entry(vkey=B.vkey, contact="a\nvkey x", qpd=1)
    with pytest.raises(MalformedLogList, match="qpd '0'"):
        new_entry(vkey=B.vkey, contact="x", qpd=0)


@given(
    entries=st.lists(
        st.tuples(
            st.sampled_from([A, B]),
            st.one_of(
                st.none(),
                st.from_regex(r"[a-z0-9./-]{1,30}", fullmatch=True).filter(lambda o: o != "none"),
            ),
            st.integers(1, 10**9),
            st.from_regex(r"[ -~]{0,40}[!-~]", fullmatch=True),
            st.one_of(st.none(), st.just("https://bastion.example/")),
        ),
        max_size=2,
        unique_by=lambda t: t[0],
    )
)
def test_formatting_then_parsing_gives_the_same_list(
    entries: list[tuple[Ed25519Verifier, str | None, int, str, str | None]],
) -> None:
    logs = LogList(
        tuple(
            LogEntry(key, origin or key.name, qpd, contact.strip(), bastion)
            for key, origin, qpd, contact, bastion in entries
        )
    )
    assert LogList.parse(logs.to_text()) == logs
