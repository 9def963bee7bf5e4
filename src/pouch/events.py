"""The kinds of event Pouch writes to its log: one name for each step.

Every event in the transparency log carries one of these as its ``kind``
(``docs/log-format.md`` lists them). The log itself accepts any kind (it
knows nothing of messages or calls); this is the vocabulary of the domains
that write to it, and how each kind reads in a message's path.
"""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    """What happened, as it is written in the log."""

    # A message's path (pouch.messages, the language desk's translations).
    ACCEPTED = "accepted"
    HOLD_REQUESTED = "hold.requested"
    HOLD_APPROVED = "hold.approved"
    HOLD_WITHDRAWN = "hold.withdrawn"
    HOLD_LAPSED = "hold.lapsed"
    HOLD_RELEASED = "hold.released"
    HOLD_EXPIRED = "hold.expired"
    DELIVERED = "delivered"
    READ = "read"
    ACKNOWLEDGED = "acknowledged"
    OVERDUE = "overdue"
    ATTACHMENT_QUARANTINED = "attachment.quarantined"
    TRANSLATION_ADDED = "translation.added"
    # The call desk (pouch.calls).
    CALL_REQUESTED = "call.requested"
    CALL_CONFIRMED = "call.confirmed"
    CALL_CANCELLED = "call.cancelled"
    CALLS_SCHEDULED = "calls.scheduled"
    PRECEDENCE_CHANGED = "precedence.changed"
    # Running a call and its papers (pouch.briefings).
    CALL_PLACING = "call.placing"
    CALL_CONNECTED = "call.connected"
    CALL_COMPLETED = "call.completed"
    CALL_MISSED = "call.missed"
    CALL_RESCHEDULED = "call.rescheduled"
    CALL_PARTICIPANT_DESIGNATED = "call.participant-designated"
    CALL_CHECKED_IN = "call.checked-in"
    BRIEFING_SUBMITTED = "briefing.submitted"
    BRIEFING_RETURNED = "briefing.returned"
    PACKET_ISSUED = "packet.issued"
    MEMCON_SUBMITTED = "memcon.submitted"
    MEMCON_RETURNED = "memcon.returned"
    MEMCON_FILED = "memcon.filed"
    # Identity (pouch.identity): who holds which role where (invariant 6).
    MEMBERSHIP_GRANTED = "membership.granted"
    MEMBERSHIP_REMOVAL_REQUESTED = "membership.removal-requested"
    MEMBERSHIP_REVOKED = "membership.revoked"
    USER_CREATED = "user.created"
    USER_RENAMED = "user.renamed"
    USER_EMAIL_CHANGED = "user.email-changed"
    USER_ACTIVATED = "user.activated"
    USER_DEACTIVATED = "user.deactivated"
    PASSWORD_RESET_STARTED = "password.reset-started"  # noqa: S105 - an event kind, not a secret
    PASSWORD_SET = "password.set"  # noqa: S105 - an event kind, not a secret
    TOKEN_ISSUED = "token.issued"  # noqa: S105 - an event kind, not a secret
    TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an event kind, not a secret
    # Two people for power (pouch.identity.approvals): asked by one, done by a second.
    POWER_REQUESTED = "power.requested"
    POWER_APPROVED = "power.approved"
    POWER_WITHDRAWN = "power.withdrawn"
    # Officers' own credentials (pouch.identity.passkeys) and logins.
    PASSKEY_REGISTERED = "passkey.registered"
    PASSKEY_REVOKED = "passkey.revoked"
    LOGIN_ALERT = "login.alert"
    # The directory (pouch.directory): offices, their endpoints and keys.
    OFFICE_CREATED = "office.created"
    OFFICE_CHANGED = "office.changed"
    OFFICE_RETIRED = "office.retired"
    OFFICE_REMOVED = "office.removed"
    ENDPOINT_CHANGED = "endpoint.changed"
    SENDER_KEY_REGISTERED = "sender-key.registered"
    SENDER_KEY_REVOKED = "sender-key.revoked"
    # An office's tag key (pouch.messages.office_tags): rotated by its administrator.
    TAG_KEY_ROTATED = "tag-key.rotated"
    # Operations (pouch.messages.worker).
    WORKER_FAILED = "worker.failed"
    # Mail intake (pouch.mail): the bytes first, then what became of them.
    RECEIVED = "received"
    MAIL_QUARANTINED = "mail.quarantined"
    MAIL_REJECT_REQUESTED = "mail.reject-requested"
    MAIL_REJECTED = "mail.rejected"
    MAIL_RELEASED = "mail.released"

    @property
    def label(self) -> str:
        """How the step reads to people.

        >>> EventKind.HOLD_APPROVED.label
        'Held'
        """
        return LABELS[self]


LABELS: dict[EventKind, str] = {
    EventKind.ACCEPTED: "Accepted",
    EventKind.HOLD_REQUESTED: "Hold requested",
    EventKind.HOLD_APPROVED: "Held",
    EventKind.HOLD_WITHDRAWN: "Hold request withdrawn",
    EventKind.HOLD_LAPSED: "Hold request lapsed: delivered before a second officer approved it",
    EventKind.HOLD_RELEASED: "Hold released",
    EventKind.HOLD_EXPIRED: "Hold expired",
    EventKind.DELIVERED: "Delivered",
    EventKind.READ: "Read",
    EventKind.ACKNOWLEDGED: "Acknowledged",
    EventKind.OVERDUE: "Overdue",
    EventKind.ATTACHMENT_QUARANTINED: "Attachment quarantined",
    EventKind.TRANSLATION_ADDED: "Translation added",
    EventKind.CALL_REQUESTED: "Call requested",
    EventKind.CALL_CONFIRMED: "Call confirmed",
    EventKind.CALL_CANCELLED: "Call cancelled",
    EventKind.CALLS_SCHEDULED: "Calls scheduled",
    EventKind.PRECEDENCE_CHANGED: "Order of precedence changed",
    EventKind.CALL_PLACING: "Call being placed",
    EventKind.CALL_CONNECTED: "Call connected",
    EventKind.CALL_COMPLETED: "Call completed",
    EventKind.CALL_MISSED: "Call missed (a follow-up request goes back to the scheduler)",
    EventKind.CALL_RESCHEDULED: "Call to be rescheduled (a follow-up request is entered)",
    EventKind.CALL_PARTICIPANT_DESIGNATED: "Participant designated for a call",
    EventKind.CALL_CHECKED_IN: "Interpreter or notetaker checked in for a call",
    EventKind.BRIEFING_SUBMITTED: "Briefing submitted for clearance",
    EventKind.BRIEFING_RETURNED: "Briefing returned with comments",
    EventKind.PACKET_ISSUED: "Briefing cleared: packet issued (its SHA-256)",
    EventKind.MEMCON_SUBMITTED: "Memorandum of conversation submitted for clearance",
    EventKind.MEMCON_RETURNED: "Memorandum of conversation returned with comments",
    EventKind.MEMCON_FILED: "Memorandum of conversation cleared and filed (its SHA-256)",
    EventKind.MEMBERSHIP_GRANTED: "Role granted",
    EventKind.MEMBERSHIP_REMOVAL_REQUESTED: "Removal of a role asked (a second officer approves)",
    EventKind.MEMBERSHIP_REVOKED: "Role removed",
    EventKind.USER_CREATED: "User created",
    EventKind.USER_RENAMED: "User renamed",
    EventKind.USER_EMAIL_CHANGED: "User's e-mail address changed",
    EventKind.USER_ACTIVATED: "User activated",
    EventKind.USER_DEACTIVATED: "User deactivated",
    EventKind.PASSWORD_RESET_STARTED: "Password reset started (the user sets the new one)",
    EventKind.PASSWORD_SET: "Password set by its user",
    EventKind.TOKEN_ISSUED: "API token issued",
    EventKind.TOKEN_REVOKED: "API token revoked",
    EventKind.POWER_REQUESTED: "Change of power asked (a second administrator approves)",
    EventKind.POWER_APPROVED: "Change of power approved by a second administrator",
    EventKind.POWER_WITHDRAWN: "Change of power withdrawn",
    EventKind.PASSKEY_REGISTERED: "Passkey registered",
    EventKind.PASSKEY_REVOKED: "Passkey revoked",
    EventKind.LOGIN_ALERT: "Repeated failed logins",
    EventKind.OFFICE_CREATED: "Office created",
    EventKind.OFFICE_CHANGED: "Office changed",
    EventKind.OFFICE_RETIRED: "Office retired",
    EventKind.OFFICE_REMOVED: "Office removed",
    EventKind.ENDPOINT_CHANGED: "Office's notification endpoint changed",
    EventKind.SENDER_KEY_REGISTERED: "Signing key registered",
    EventKind.SENDER_KEY_REVOKED: "Signing key revoked",
    EventKind.TAG_KEY_ROTATED: "Office tag key rotated (the new key applies from from_counter)",
    EventKind.WORKER_FAILED: "Background work failed on a row (it is tried again)",
    EventKind.RECEIVED: "Mail received (its exact bytes stored, before any parsing)",
    EventKind.MAIL_QUARANTINED: "Mail quarantined (a watch officer decides)",
    EventKind.MAIL_REJECT_REQUESTED: "Rejection of a mail asked (a second officer confirms)",
    EventKind.MAIL_REJECTED: "Quarantined mail rejected by two officers",
    EventKind.MAIL_RELEASED: "Quarantined mail accepted by an officer",
}


def label_of(kind: str) -> str:
    """The label of a kind read back from storage; an unknown kind shows as it is.

    >>> label_of("translation.added"), label_of("something.new")
    ('Translation added', 'something.new')
    """
    try:
        return EventKind(kind).label
    except ValueError:
        return kind
