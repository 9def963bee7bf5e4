"""Reading a letter: the shortcuts taken for speed read what the modern policy reads."""

from __future__ import annotations

import email
import email.policy

import pytest

from pouch.mail import parse


@pytest.mark.parametrize(
    "value",
    [
        "<a@b>",
        " <CAF=x+y/z@mail.gmail.com>\t",
        "<a@b>\r\n (folded, with a comment)",
        "<a@b> <c@d>",
        "<a@b@c>",
        "<a..b@c>",
        '<"q x"@b>',
        "<a@[192.0.2.1]>",
        "a@b",
        "",
    ],
)
def test_a_message_id_is_read_as_the_modern_policy_reads_it(value: str) -> None:
    raw = f"From: desk@mfa.example\r\nMessage-ID: {value}\r\n\r\nA letter.\r\n".encode()
    header = email.message_from_bytes(raw, policy=email.policy.default).get("Message-ID")
    expected = str(header).strip() or None

    assert parse.read(raw).message_id == expected
