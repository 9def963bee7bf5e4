"""Officers' signed decisions on messages: what the API and the watch pages call.

``confirm`` checks that the decision arrives with the officer's assertion
where ``POUCH_SIGNED_DECISIONS`` asks for one (``identity.passkeys``) and
returns the hash its event logs. ``bundle`` gathers, for anyone entitled to
the decision's event (the same rule as the event's opening), the kept
assertion, the decision's opening and the opening of the officer's
``passkey.registered``: what ``pouch decision verify`` checks offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pouch.errors import FieldError, IntegrityFailure, InvalidInput, NotFound
from pouch.identity import passkeys
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service
from pouch.messages import office_tags
from pouch.messages import service as message_service
from pouch.settings import Settings


def confirm(
    session: Session,
    *,
    settings: Settings,
    decision: passkeys.Decision,
    officer_id: int,
    assertion: Mapping[str, Any] | None,
    now: datetime,
) -> str | None:
    """The hash of the officer's checked assertion for ``decision`` (None when unsigned
    and allowed); refused (403 decision-not-signed) otherwise. The message must exist."""
    message_service.get_message(session, decision.message)
    return passkeys.confirm(
        session,
        decision=decision,
        officer_id=officer_id,
        assertion=assertion,
        policy=settings.signed_decisions,
        rp=passkeys.relying_party(settings.public_url),
        now=now,
    )


def fields_of(action: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """A decision's fields as the action's request will carry them once parsed (a reason
    without its outer spaces, minutes as a number), so that the browser may send the form
    as typed.

    >>> fields_of("hold.request", {"reason": " Check it ", "minutes": "30"})
    {'reason': 'Check it', 'minutes': 30}
    >>> fields_of("route", {"anything": 1})
    {}
    """
    try:
        if action == "hold.request":
            return {"reason": str(given["reason"]).strip(), "minutes": int(given["minutes"])}
        if action == "attachment.quarantine":
            return {"attachment": int(given["attachment"]), "reason": str(given["reason"]).strip()}
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            f"the fields of {action} are not complete",
            field_errors=[FieldError("body.fields", "reason and minutes, or attachment, reason")],
        ) from None
    return {}


def challenge(
    session: Session,
    *,
    settings: Settings,
    decision: passkeys.Decision,
    officer_id: int,
    now: datetime,
) -> dict[str, Any]:
    """What the officer's browser signs for ``decision``; ``sign`` false when the decision
    goes unsigned (the officer has no passkey and the setting allows it, or it is off)."""
    message_service.get_message(session, decision.message)
    decision = passkeys.Decision(
        action=decision.action,
        message=decision.message,
        hold=decision.hold,
        fields=fields_of(decision.action, decision.fields),
    )
    policy = settings.signed_decisions
    if policy == "off" or not passkeys.has_passkey(session, officer_id):
        return {"sign": False, "required": policy == "required"}
    rp = passkeys.relying_party(settings.public_url)
    issued = passkeys.issue_decision(
        session, decision=decision, officer_id=officer_id, rp=rp, now=now
    )
    # The demo's pages sign with the officer's software key (identity/demo_keys.py), for
    # the officers `pouch demo` enrolled so; others use their own authenticators.
    demo = (
        settings.demo_authenticator
        and rp.local
        and passkeys.demo_enrolled(session, officer_id=officer_id, data_dir=settings.data_dir)
    )
    return {"sign": True, "required": True, "demo": demo, **issued}


def bundle(session: Session, *, sha256: str, actor: Actor) -> dict[str, Any]:
    """The assertion, the decision's opening and the key's registration, to an actor
    entitled to the decision's event (403 otherwise, as for its opening)."""
    kept = passkeys.assertion(session, sha256)
    message = message_service.get_message(session, kept.message_public_id)
    logged = [
        e.ledger_index
        for e in message_service.events_of(session, message)
        if (e.details or {}).get("assertion") == sha256
    ]
    if not logged:
        raise NotFound(f"no event logs the decision assertion {sha256}")
    decision = office_tags.opening_for(session, index=logged[0], actor=actor)
    registration = ledger_service.opening(
        session, passkeys.registration_index(session, kept.passkey_id)
    )
    if registration is None:
        raise IntegrityFailure("the passkey's registration is logged but its opening is not kept")
    return {
        "assertion": dict(kept.record),
        "sha256": sha256,
        "decision": decision.to_json(),
        "registration": registration.to_json(),
    }
