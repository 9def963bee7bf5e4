"""Settings that follow one another: the public URL follows where ``pouch serve`` listens."""

from __future__ import annotations

import pytest

from pouch.settings import Settings


@pytest.mark.parametrize(
    ("given", "public_url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"port": 8101}, "http://127.0.0.1:8101"),
        ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000"),  # noqa: S104
        ({"host": "::1", "port": 9000}, "http://[::1]:9000"),
        ({"host": "localhost"}, "http://localhost:8000"),
        ({"port": 8101, "public_url": "https://pouch.mfa.example"}, "https://pouch.mfa.example"),
    ],
)
def test_the_public_url_follows_host_and_port_unless_set(
    given: dict[str, object], public_url: str
) -> None:
    assert Settings(_env_file=None, **given).public_url == public_url  # type: ignore[call-arg, arg-type]


def test_the_environment_is_followed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POUCH_PORT", "8202")
    monkeypatch.delenv("POUCH_PUBLIC_URL", raising=False)
    assert Settings(_env_file=None).public_url == "http://127.0.0.1:8202"  # type: ignore[call-arg]
