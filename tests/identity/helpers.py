"""Logging in through the pages, and the table of every API endpoint with the
roles that may call it (checked by test_permissions, used by tests/web)."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from pouch.identity.models import Role
from tests.factories import PASSWORD, World


def csrf_of(html: str) -> str:
    """The anti-forgery token of the first form in ``html``."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form has no csrf_token field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Post the login form as a browser would; the client keeps the session cookie."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )


ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMINISTRATOR})
EDITORS = frozenset({Role.ADMINISTRATOR, Role.PROTOCOL_OFFICER})
CALL_DESK = frozenset({Role.WATCH_OFFICER, Role.PROTOCOL_OFFICER})
CALL_READERS = CALL_DESK | {Role.AUDITOR}
PRINCIPAL_OFFICE = frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF})
SENDERS = frozenset({Role.SENDER})
PARTICIPANTS = CALL_DESK | {Role.PRINCIPAL_STAFF, Role.INTERPRETER}

# (method, path, roles allowed). Ids are ones that do not exist: an allowed
# caller gets past the permission check and then 404 or 400, never 401/403.
TABLE: list[tuple[str, str, frozenset[Role]]] = [
    ("GET", "/api/me", ALL),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/users/999999", ADMIN),
    ("PATCH", "/api/users/999999", ADMIN),
    ("POST", "/api/users/999999/memberships", ADMIN),
    ("DELETE", "/api/users/999999/memberships/999999", ADMIN),
    ("GET", "/api/tokens", ALL),
    ("POST", "/api/tokens", ALL),
    ("DELETE", "/api/tokens/999999", ALL),
    ("GET", "/api/countries", ALL),
    ("GET", "/api/countries/ZZ", ALL),
    ("GET", "/api/offices", ALL),
    ("POST", "/api/offices", EDITORS),
    ("GET", "/api/offices/999999", ALL),
    ("PATCH", "/api/offices/999999", EDITORS),
    ("DELETE", "/api/offices/999999", EDITORS),
    ("GET", "/api/people", ALL),
    ("POST", "/api/people", EDITORS),
    ("GET", "/api/people/999999", ALL),
    ("PATCH", "/api/people/999999", EDITORS),
    ("DELETE", "/api/people/999999", EDITORS),
    ("POST", "/api/membership-removals/999999/approve", ADMIN),
    ("POST", "/api/users/999999/password-reset", ADMIN),
    ("POST", "/api/me/password", ALL),
    ("GET", "/api/power-requests", ADMIN | {Role.AUDITOR}),
    ("POST", "/api/power-requests/999999/approve", ADMIN),
    ("POST", "/api/power-requests/999999/withdraw", ADMIN),
    ("GET", "/api/audit/users", ADMIN | {Role.AUDITOR}),
    ("GET", "/api/audit/events", ADMIN | {Role.AUDITOR}),
    ("POST", "/api/offices/999999/retire", EDITORS),
    # Office-scoped: {principal} and {sender_office} are the world's offices.
    ("GET", "/api/offices/{sender_office}/keys", ADMIN),
    ("POST", "/api/offices/{sender_office}/keys", ADMIN),
    ("DELETE", "/api/offices/{sender_office}/keys/nokey", ADMIN),
    ("PUT", "/api/offices/{sender_office}/endpoint", ADMIN),
    # The office's own members (here its sender), administrators and auditors.
    ("GET", "/api/offices/{sender_office}/endpoint", ADMIN | {Role.AUDITOR, Role.SENDER}),
    ("GET", "/api/offices/{principal}/inbox", frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF})),
    (
        "GET",
        "/api/offices/{principal}/ledger",
        frozenset({Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.AUDITOR}),
    ),
    ("GET", "/api/queue", frozenset({Role.WATCH_OFFICER, Role.AUDITOR})),
    ("GET", "/api/outbox", frozenset({Role.AUDITOR, Role.ADMINISTRATOR})),
    ("GET", "/api/worker/failures", frozenset({Role.AUDITOR, Role.ADMINISTRATOR})),
    # An office's tag key and the log's openings: an unknown office, an index not
    # logged, is 404 to every role; who may rotate a key and open an entry is checked
    # with real ones in tests/messages/test_office_tags.py.
    ("POST", "/api/offices/999999/tag-key", ALL),
    ("GET", "/api/log/openings/999999", ALL),
    ("POST", "/api/log/openings", ALL),
    # Anyone finds messages; each finds only those it may see (tests/messages/test_search.py).
    ("GET", "/api/messages", ALL),
    # Messages: whether a message exists is not for everyone, so an unknown one is
    # 404 to every role; the roles that act on a message are checked with real ones
    # in tests/messages/test_api.py.
    ("GET", "/api/messages/m-none", ALL),
    ("GET", "/api/messages/m-none/status", ALL),
    ("GET", "/api/messages/m-none/events/1/receipt", ALL),
    ("GET", "/api/messages/m-none/attachments/1", ALL),
    ("POST", "/api/messages/m-none/read", ALL),
    ("POST", "/api/messages/m-none/acknowledge", ALL),
    ("POST", "/api/messages/m-none/replies", ALL),
    ("POST", "/api/messages/m-none/route", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/approve", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/release", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/holds/1/withdraw", frozenset({Role.WATCH_OFFICER})),
    ("POST", "/api/messages/m-none/attachments/1/quarantine", frozenset({Role.WATCH_OFFICER})),
    # The language desk: a message's translations go with the message (404 to all here).
    ("GET", "/api/messages/m-none/translations", ALL),
    ("GET", "/api/translations/queue", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("GET", "/api/translations/999999", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("POST", "/api/translations/999999/claim", frozenset({Role.TRANSLATOR})),
    ("POST", "/api/translations/999999/release", frozenset({Role.TRANSLATOR, Role.WATCH_OFFICER})),
    ("POST", "/api/translations/999999/submit", frozenset({Role.TRANSLATOR})),
    ("GET", "/api/interpreters", ALL - {Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.SENDER}),
    ("POST", "/api/interpreters", EDITORS),
    ("GET", "/api/interpreters/999999", ALL - {Role.PRINCIPAL, Role.PRINCIPAL_STAFF, Role.SENDER}),
    ("PATCH", "/api/interpreters/999999", EDITORS),
    ("DELETE", "/api/interpreters/999999", EDITORS),
    # The call desk. Office-level roles pass the gate; which offices, the service checks.
    ("GET", "/api/calls/precedence", CALL_READERS | ADMIN),
    ("PUT", "/api/calls/precedence", EDITORS),
    ("GET", "/api/calls/precedence/versions", CALL_READERS | ADMIN),
    ("GET", "/api/calls/precedence/text", CALL_READERS | ADMIN),
    ("PUT", "/api/calls/precedence/text", EDITORS),
    ("GET", "/api/calls/calendars/{principal}", CALL_READERS | PRINCIPAL_OFFICE),
    ("PUT", "/api/calls/calendars/{principal}", CALL_DESK),
    ("POST", "/api/calls/calendars/{principal}/busy", CALL_DESK),
    ("DELETE", "/api/calls/calendars/{principal}/busy/999999", CALL_DESK),
    ("GET", "/api/calls/requests", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("POST", "/api/calls/requests", CALL_DESK | SENDERS),
    ("GET", "/api/calls/requests/999999", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("GET", "/api/calls/requests/999999/ical", CALL_READERS | PRINCIPAL_OFFICE | SENDERS),
    ("POST", "/api/calls/requests/999999/cancel", CALL_DESK),
    ("POST", "/api/calls/requests/999999/confirm", CALL_DESK),
    ("POST", "/api/calls/schedule", CALL_DESK),
    ("GET", "/api/calls/schedule", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/schedule/ical", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/runs", CALL_READERS | PRINCIPAL_OFFICE),
    ("GET", "/api/calls/runs/999999", CALL_READERS | PRINCIPAL_OFFICE),
    # A call's run and papers (pouch.briefings): no sender passes; which calls, the service.
    ("GET", "/api/calls/999999/run", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("POST", "/api/calls/999999/run/steps", CALL_DESK),
    ("PUT", "/api/calls/999999/run/logistics", CALL_DESK),
    ("POST", "/api/calls/999999/run/participants", CALL_DESK),
    ("POST", "/api/calls/999999/run/check-in", PARTICIPANTS),
    ("GET", "/api/calls/999999/briefing", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("PUT", "/api/calls/999999/briefing", CALL_DESK | {Role.PRINCIPAL_STAFF}),
    ("GET", "/api/calls/999999/packets", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("GET", "/api/calls/999999/packet.pdf", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("GET", "/api/calls/999999/memcon", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("PUT", "/api/calls/999999/memcon", PARTICIPANTS),
    ("GET", "/api/calls/999999/memcon/filed", CALL_READERS | PRINCIPAL_OFFICE | {Role.INTERPRETER}),
    ("POST", "/api/calls/999999/briefing/submit", PARTICIPANTS),
    ("POST", "/api/calls/999999/briefing/clear", PARTICIPANTS),
    ("POST", "/api/calls/999999/briefing/return", PARTICIPANTS),
    ("POST", "/api/calls/999999/memcon/submit", PARTICIPANTS),
    ("POST", "/api/calls/999999/memcon/clear", PARTICIPANTS),
    ("POST", "/api/calls/999999/memcon/return", PARTICIPANTS),
    # One's own passkeys; signed decisions (tests/identity/test_passkeys.py).
    ("GET", "/api/passkeys", ALL),
    ("POST", "/api/passkey-options", ALL),
    ("POST", "/api/passkeys", ALL),
    ("DELETE", "/api/passkeys/999999", ALL),
    ("POST", "/api/decision-challenges", frozenset({Role.WATCH_OFFICER})),
    ("GET", "/api/decisions/" + "0" * 64, ALL),
]

# Submission authenticates by token *and* HTTP signature: without a signature
# every role gets 401 (tests/intake/test_api.py covers it).
SIGNED = {("POST", "/api/messages")}
#: Called without a login, with a secret of its own in the body (a password code).
WITH_CODE = {("POST", "/api/password-reset")}

# Endpoints anyone may call without credentials: (method, path, an example).
# The log is public by design: it holds only commitments.
PUBLIC = [
    ("GET", "/api/openapi.json", "/api/openapi.json"),
    ("GET", "/api/docs", "/api/docs"),
    ("GET", "/api/log", "/api/log"),
    ("GET", "/api/log/proof", "/api/log/proof?index=0&size=1"),
    ("GET", "/api/log/consistency", "/api/log/consistency?from=0&to=0"),
    ("GET", "/api/log/receipt/{}", "/api/log/receipt/0"),
    # A mail's arrival, named by the SHA-256 of its bytes: only their holder knows it.
    ("GET", "/api/mail/{}/receipt", f"/api/mail/{'0' * 64}/receipt"),
    ("GET", "/log/checkpoint", "/log/checkpoint"),
    ("GET", "/log/tile/{}", "/log/tile/0/000.p/1"),
    # A passkey login's options: a one-time challenge, before anyone is logged in.
    ("POST", "/api/login/passkey/options", "/api/login/passkey/options"),
]


def template(path: str) -> str:
    """The path with its ids as ``{}``, as the OpenAPI document's paths normalize."""
    parts = [
        "{}" if p.isdigit() or p in ("ZZ", "m-none", "nokey") or p.startswith("{") else p
        for p in path.split("/")
    ]
    return "/".join(parts)


def concrete(path: str, world: World) -> str:
    """The path with the world's offices in place of ``{principal}`` and ``{sender_office}``."""
    return path.format(
        principal=world.offices["president-elect"].id,
        sender_office=world.offices["ie-taoiseach"].id,
    )
