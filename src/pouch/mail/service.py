"""The mail intake's persistence: arrivals and their bytes, what the directory says
of mail, the outcome of each arrival, and the officers' decisions on quarantine.

Functions take the session first and never commit (``mail.flows`` holds the
transactions); what they change of an arrival is written at the session's next
flush (a batch of mails is written so in one flush). Every change of an arrival
writes its event to the log through ``ledger_service.record_event``:
``received`` before anything reads the bytes, then ``mail.quarantined``,
``mail.reject-requested``, ``mail.rejected`` or ``mail.released``; an accepted
mail's messages have their own ``accepted``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.directory.models import Office
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound
from pouch.events import EventKind
from pouch.identity import record
from pouch.ledger import service as ledger_service
from pouch.ledger.service import Ledger
from pouch.mail import addresses, answers
from pouch.mail.keys import pin_name
from pouch.mail.models import (
    DkimPin,
    InboundMail,
    MailAnswer,
    MailDecision,
    MailState,
    OfficeMailAddress,
    OfficeMailPolicy,
    RawMail,
)
from pouch.messages import notify
from pouch.messages.schemas import OpeningOut, ReceiptOut

REJECT_REQUESTED = "reject-request"
REJECT = "reject"
RELEASE = "release"


@dataclass(frozen=True)
class Arrival:
    """A mail as the SMTP or LMTP session handed it over."""

    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]
    peer: str
    helo: str | None = None
    tls: bool = False

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def receive(session: Session, arrival: Arrival, *, now: datetime) -> InboundMail:
    """Store the bytes (once per SHA-256) and log ``received``: the evidence, before
    anything is read from them. Durable when the caller's transaction commits."""
    (mail,) = receive_many(session, [arrival], now=now)
    return mail


def receive_many(
    session: Session, arrivals: Sequence[Arrival], *, now: datetime
) -> list[InboundMail]:
    """``receive`` for several arrivals: their ``received`` events in one append, in order."""
    if not arrivals:
        return []
    stored = set(
        session.scalars(
            select(RawMail.sha256).where(RawMail.sha256.in_(sorted({a.sha256 for a in arrivals})))
        )
    )
    for arrival in arrivals:
        if arrival.sha256 not in stored:
            session.add(RawMail(sha256=arrival.sha256, size=len(arrival.raw), data=arrival.raw))
            stored.add(arrival.sha256)
    session.flush()  # the bytes before the rows that point to them
    events = ledger_service.record_events(
        session,
        [
            (
                EventKind.RECEIVED,
                {"mail": a.sha256, "size": len(a.raw), "recipients": len(a.recipients)},
                (),
            )
            for a in arrivals
        ],
        at=now,
    )
    mails = [
        InboundMail(
            sha256=arrival.sha256,
            received_at=now,
            received_index=event.index,
            mail_from=arrival.mail_from[:320],
            recipients=list(arrival.recipients),
            peer=arrival.peer[:100],
            helo=arrival.helo[:255] if arrival.helo else None,
            tls=arrival.tls,
            state=MailState.RECEIVED,
            messages=[],
        )
        for arrival, event in zip(arrivals, events, strict=True)
    ]
    session.add_all(mails)
    session.flush()
    return mails


def raw_of(session: Session, mail: InboundMail) -> bytes:
    raw = session.get(RawMail, mail.sha256)
    assert raw is not None, "an arrival's bytes are stored before it"
    return raw.data


def get_mail(session: Session, mail_id: int) -> InboundMail:
    mail = session.get(InboundMail, mail_id)
    if mail is None:
        raise NotFound(f"no mail {mail_id}")
    return mail


def pending(session: Session, *, limit: int = 100) -> list[int]:
    """Arrivals stored but never looked at (a process stopped between the two)."""
    return list(
        session.scalars(
            select(InboundMail.id)
            .where(InboundMail.state == MailState.RECEIVED)
            .order_by(InboundMail.id)
            .limit(limit)
        )
    )


def first_arrivals(session: Session, shas: Iterable[str]) -> dict[str, InboundMail]:
    """The first arrival of each of these bytes already looked at: one arriving now is
    its replay."""
    found: dict[str, InboundMail] = {}
    for mail in session.scalars(
        select(InboundMail)
        .where(InboundMail.sha256.in_(sorted(set(shas))), InboundMail.state != MailState.RECEIVED)
        .order_by(InboundMail.id)
    ):
        found.setdefault(mail.sha256, mail)
    return found


def arrival_url(base_url: str, sha256: str) -> str:
    """Where the receipt of a mail's arrival is (``mail.api``)."""
    return f"{base_url}/api/mail/{sha256}/receipt"


def arrival_receipt(session: Session, sha256: str, *, ledger: Ledger, base_url: str) -> ReceiptOut:
    """The receipt of the first arrival of these bytes: its ``received`` event's opening
    and, once a checkpoint covers it, the tlog-proof.

    :raises NotFound: no mail with these bytes arrived.
    """
    first = session.scalar(
        select(InboundMail.received_index)
        .where(InboundMail.sha256 == sha256)
        .order_by(InboundMail.id)
        .limit(1)
    )
    opening = ledger_service.opening(session, first) if first is not None else None
    if opening is None or opening.event.get("mail") != sha256:
        raise NotFound("no mail with this SHA-256 arrived")
    return ReceiptOut(
        opening=OpeningOut.of(opening),
        receipt=ledger_service.receipt_once_published(
            session, index=opening.index, cache=ledger.cache
        ),
        receipt_url=arrival_url(base_url, sha256),
    )


# -- what the directory says of mail -------------------------------------------------


def office_of(session: Session, address: str) -> int | None:
    """The office whose address or domain ``address`` is (a live office only)."""
    return offices_of(session, [address]).get(address)


def offices_of(session: Session, wanted: Iterable[str]) -> dict[str, int]:
    """``office_of`` for many addresses in one query: each that is a live office's."""
    splits = {address: addresses.split(address) for address in set(wanted)}
    names = {n for s in splits.values() if s is not None for n in (s.plain, s.whole_domain)}
    if not names:
        return {}
    rows = dict(
        session.execute(
            select(OfficeMailAddress.address, OfficeMailAddress.office_id)
            .join(Office, Office.id == OfficeMailAddress.office_id)
            .where(OfficeMailAddress.address.in_(sorted(names)), Office.retired_at.is_(None))
        ).all()
    )
    found: dict[str, int] = {}
    for address, split in splits.items():
        if split is None:
            continue
        office = rows.get(split.plain, rows.get(split.whole_domain))
        if office is not None:
            found[address] = office
    return found


def requires_signed(session: Session, office_id: int) -> bool:
    return office_id in signing_required(session, [office_id])


def signing_required(session: Session, office_ids: Iterable[int]) -> set[int]:
    """Which of these offices take only DKIM-signed mail."""
    wanted = set(office_ids)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(OfficeMailPolicy.office_id).where(
                OfficeMailPolicy.office_id.in_(wanted), OfficeMailPolicy.require_signed
            )
        )
    )


def pins(session: Session) -> dict[str, str]:
    """Every pinned key, by the DNS name it stands for."""
    rows = session.execute(select(DkimPin.domain, DkimPin.selector, DkimPin.record))
    return {pin_name(domain, selector): record for domain, selector, record in rows}


@dataclass(frozen=True)
class OfficeMail:
    """What the directory says of one office's mail (``pouch directory`` import/export)."""

    addresses: list[str]
    pins: list[dict[str, str]]
    require_signed: bool


def office_mail(session: Session, office_id: int) -> OfficeMail:
    return OfficeMail(
        addresses=list(
            session.scalars(
                select(OfficeMailAddress.address)
                .where(OfficeMailAddress.office_id == office_id)
                .order_by(OfficeMailAddress.address)
            )
        ),
        pins=[
            {"domain": p.domain, "selector": p.selector, "record": p.record}
            for p in session.scalars(
                select(DkimPin)
                .where(DkimPin.office_id == office_id)
                .order_by(DkimPin.domain, DkimPin.selector)
            )
        ],
        require_signed=requires_signed(session, office_id),
    )


def set_office_mail(
    session: Session, office_id: int, mail: OfficeMail, *, now: datetime, by: int | None
) -> None:
    """Replace what the directory says of an office's mail with ``mail``; a change is
    logged (``office.changed``) and the office told, as any change of the directory.

    :raises Conflict: an address or a pinned key is another office's already.
    """
    before = _described(office_mail(session, office_id))
    for address in {addresses.normalized(a) for a in mail.addresses}:
        row = session.get(OfficeMailAddress, address)
        if row is not None and row.office_id != office_id:
            raise Conflict(
                f"the mail address {address} is office {row.office_id}'s",
                field_errors=[FieldError("mail.addresses", "another office's address")],
            )
    for pin in mail.pins:
        row_pin = session.get(DkimPin, (pin["domain"].lower(), pin["selector"].lower()))
        if row_pin is not None and row_pin.office_id != office_id:
            raise Conflict(
                f"the DKIM key {pin['selector']}._domainkey.{pin['domain']} is pinned "
                f"by office {row_pin.office_id}",
                field_errors=[FieldError("mail.pins", "another office's key")],
            )
    for old in session.scalars(
        select(OfficeMailAddress).where(OfficeMailAddress.office_id == office_id)
    ):
        session.delete(old)
    for old_pin in session.scalars(select(DkimPin).where(DkimPin.office_id == office_id)):
        session.delete(old_pin)
    session.flush()
    for address in sorted({addresses.normalized(a) for a in mail.addresses}):
        session.add(OfficeMailAddress(address=address, office_id=office_id))
    for pin in mail.pins:
        session.add(
            DkimPin(
                domain=pin["domain"].lower().rstrip("."),
                selector=pin["selector"].lower(),
                office_id=office_id,
                record=pin["record"].strip(),
            )
        )
    policy = session.get(OfficeMailPolicy, office_id)
    if policy is None:
        session.add(OfficeMailPolicy(office_id=office_id, require_signed=mail.require_signed))
    else:
        policy.require_signed = mail.require_signed
    session.flush()
    after = _described(office_mail(session, office_id))
    if after != before:
        record.change(
            session,
            EventKind.OFFICE_CHANGED,
            at=now,
            by=by,
            details={"office": office_id, "changes": {"mail": after}},
            offices=[office_id],
            tell_offices=[office_id],
        )


def _described(mail: OfficeMail) -> dict[str, Any]:
    """An office's mail as its change is logged: each pinned key by its SHA-256."""
    return {
        "addresses": mail.addresses,
        "pins": [
            {
                "domain": p["domain"],
                "selector": p["selector"],
                "sha256": hashlib.sha256(p["record"].encode()).hexdigest(),
            }
            for p in mail.pins
        ],
        "require_signed": mail.require_signed,
    }


# -- outcomes ------------------------------------------------------------------------


def _parties(mail: InboundMail) -> tuple[int, ...]:
    return (mail.sender_office_id,) if mail.sender_office_id is not None else ()


def note_letter(
    session: Session,
    mail: InboundMail,
    *,
    from_address: str | None,
    subject: str | None,
    message_id: str | None,
    sender_office_id: int | None,
    verdicts: dict[str, Any] | None,
) -> None:
    """What reading the mail found out, kept on the arrival whatever its outcome."""
    mail.from_address = from_address[:320] if from_address else None
    mail.subject = subject[:300] if subject else None
    mail.message_id_header = message_id[:998] if message_id else None
    mail.sender_office_id = sender_office_id
    mail.verdicts = verdicts


def quarantine(session: Session, mail: InboundMail, *, reason: str, now: datetime) -> None:
    """Hold the mail for a watch officer, with its reason, and log it."""
    mail.state = MailState.QUARANTINED
    mail.reason = reason
    details: dict[str, Any] = {"mail": mail.sha256, "received": mail.received_index}
    details["reason"] = reason
    if mail.verdicts is not None:
        details["dmarc"] = mail.verdicts.get("dmarc")
    ledger_service.record_event(
        session,
        kind=EventKind.MAIL_QUARANTINED,
        at=now,
        details=details,
        parties=_parties(mail),
    )


def accepted(
    session: Session, mail: InboundMail, *, public_ids: Sequence[str], replayed: bool
) -> None:
    """The mail became these messages, or (``replayed``) they are the messages an
    earlier mail with its Message-ID and content became."""
    mail.state = MailState.REPLAY if replayed else MailState.ACCEPTED
    mail.messages = list(public_ids)


def replay(session: Session, mail: InboundMail, first: InboundMail) -> None:
    """The same bytes again: no second acceptance, no second quarantine."""
    mail.state = MailState.REPLAY
    mail.replay_of_id = first.id
    mail.messages = list(first.messages)
    mail.reason = first.reason
    mail.verdicts = first.verdicts
    mail.sender_office_id = first.sender_office_id


# -- the quarantine: seen by watch officers, counted for auditors ----------------------


def quarantined(session: Session, *, limit: int = 200) -> list[InboundMail]:
    return list(
        session.scalars(
            select(InboundMail)
            .where(InboundMail.state == MailState.QUARANTINED)
            .order_by(InboundMail.received_at, InboundMail.id)
            .limit(limit)
        )
    )


def counts(session: Session) -> dict[str, int]:
    """Arrivals by state: what auditors count."""
    rows = session.execute(
        select(InboundMail.state, func.count()).group_by(InboundMail.state)
    ).all()
    found = {str(state.value if isinstance(state, MailState) else state): n for state, n in rows}
    return {state.value: found.get(state.value, 0) for state in MailState}


def decisions_of(session: Session, mail_ids: Sequence[int]) -> dict[int, list[MailDecision]]:
    found: dict[int, list[MailDecision]] = {i: [] for i in mail_ids}
    if mail_ids:
        for decision in session.scalars(
            select(MailDecision).where(MailDecision.mail_id.in_(mail_ids)).order_by(MailDecision.id)
        ):
            found[decision.mail_id].append(decision)
    return found


def _in_quarantine(session: Session, mail_id: int) -> InboundMail:
    mail = session.get(InboundMail, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound(f"no mail {mail_id}")
    if mail.state != MailState.QUARANTINED:
        raise Conflict(f"mail {mail_id} is not in quarantine (it is {mail.state.value})")
    return mail


def _decide(
    session: Session,
    mail: InboundMail,
    *,
    kind: EventKind,
    action: str,
    officer_id: int,
    reason: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> MailDecision:
    event = ledger_service.record_event(
        session,
        kind=kind,
        at=now,
        details={
            "mail": mail.sha256,
            "received": mail.received_index,
            "officer": officer_id,
            "reason": reason,
            **(extra or {}),
        },
        parties=_parties(mail),
    )
    decision = MailDecision(
        mail_id=mail.id,
        officer_id=officer_id,
        action=action,
        reason=reason,
        at=now,
        ledger_index=event.index,
    )
    session.add(decision)
    session.flush()
    return decision


def reject(
    session: Session, mail_id: int, *, officer_id: int, reason: str, now: datetime
) -> MailState:
    """An officer's rejection: the first asks (``mail.reject-requested``), a second
    officer's rejects (``mail.rejected``); the same officer twice is refused."""
    if not reason.strip():
        raise InvalidInput(
            "say why the mail is rejected", field_errors=[FieldError("reason", "required")]
        )
    mail = _in_quarantine(session, mail_id)
    asked = session.scalars(
        select(MailDecision).where(
            MailDecision.mail_id == mail.id, MailDecision.action == REJECT_REQUESTED
        )
    ).all()
    if not asked:
        _decide(
            session,
            mail,
            kind=EventKind.MAIL_REJECT_REQUESTED,
            action=REJECT_REQUESTED,
            officer_id=officer_id,
            reason=reason.strip(),
            now=now,
        )
        return mail.state
    if any(d.officer_id == officer_id for d in asked):
        raise Conflict(
            "a second officer must confirm the rejection you asked for",
            field_errors=[FieldError("officer", "the same officer")],
        )
    _decide(
        session,
        mail,
        kind=EventKind.MAIL_REJECTED,
        action=REJECT,
        officer_id=officer_id,
        reason=reason.strip(),
        now=now,
        extra={"asked_by": asked[0].officer_id},
    )
    mail.state = MailState.REJECTED
    mail.decided_at = now
    session.flush()
    return mail.state


def released(
    session: Session,
    mail: InboundMail,
    *,
    officer_id: int,
    reason: str,
    public_ids: Sequence[str],
    now: datetime,
) -> None:
    """An officer accepted a quarantined mail into the normal path: logged with the
    messages it became."""
    _decide(
        session,
        mail,
        kind=EventKind.MAIL_RELEASED,
        action=RELEASE,
        officer_id=officer_id,
        reason=reason,
        now=now,
        extra={"messages": list(public_ids)},
    )
    mail.state = MailState.ACCEPTED
    mail.messages = list(public_ids)
    mail.decided_at = now
    session.flush()


def quarantined_for_update(session: Session, mail_id: int) -> InboundMail:
    return _in_quarantine(session, mail_id)


def answer(
    session: Session,
    mail: InboundMail,
    *,
    about: str,
    text: str,
    withheld: answers.Withheld | None,
    policy: answers.Policy,
    now: datetime,
    sent: AnswersSent | None = None,
) -> MailAnswer:
    """Answer the mail's return path (unless ``withheld`` says why not, or the limits
    for its address or domain are reached), in the caller's transaction: the answer
    is an outbox notice that exists exactly when the outcome it tells does. Either
    way a row says what was done. ``sent`` counts the answers already sent across
    the answers of one transaction (a batch of mails), read once."""
    address = mail.mail_from.strip().lower()
    domain = answers.domain_of(address)
    outcome = withheld.value if withheld is not None else answers.SENT
    sent = sent if sent is not None else AnswersSent(session, policy, now=now)
    if withheld is None and sent.over_limit(address, domain):
        outcome = answers.Withheld.LIMITED.value
    key = None
    if outcome == answers.SENT:
        key = notify.mail_to(
            session,
            address=address,
            subject=f"[Pouch] {about}: {mail.subject or 'your mail'}",
            text=text,
            in_reply_to=mail.message_id_header,
            payload={"event": f"mail.{about}", "mail_sha256": mail.sha256},
            automatic=True,
            at=now,
        )
        sent.count(address, domain)
    row = MailAnswer(
        mail_id=mail.id,
        about=about,
        address=address[:320],
        domain=domain[:253],
        at=now,
        outcome=outcome,
        notice_key=key,
    )
    session.add(row)
    return row


class AnswersSent:
    """Answers sent within the policy's window, per address and per domain: each
    count read once, then counted on by ``answer`` as it sends."""

    def __init__(self, session: Session, policy: answers.Policy, *, now: datetime) -> None:
        self.session = session
        self.policy = policy
        self.since = now - policy.window
        self.to_address: dict[str, int] = {}
        self.to_domain: dict[str, int] = {}

    def _read(self, column: Any, value: str) -> int:
        return (
            self.session.scalar(
                select(func.count())
                .select_from(MailAnswer)
                .where(
                    MailAnswer.outcome == answers.SENT,
                    MailAnswer.at > self.since,
                    column == value,
                )
            )
            or 0
        )

    def over_limit(self, address: str, domain: str) -> bool:
        if address not in self.to_address:
            self.to_address[address] = self._read(MailAnswer.address, address)
        if self.to_address[address] >= self.policy.per_address:
            return True
        if domain not in self.to_domain:
            self.to_domain[domain] = self._read(MailAnswer.domain, domain)
        return self.to_domain[domain] >= self.policy.per_domain

    def count(self, address: str, domain: str) -> None:
        """One more answer sent to ``address`` (and its domain)."""
        self.over_limit(address, domain)  # both counts read before they are counted on
        self.to_address[address] += 1
        self.to_domain[domain] += 1


def answered(session: Session, mail_id: int) -> bool:
    """Whether the mail's sender was answered before (so may be told the decision)."""
    found = session.scalar(
        select(MailAnswer.id).where(
            MailAnswer.mail_id == mail_id, MailAnswer.outcome == answers.SENT
        )
    )
    return found is not None


def answers_of(session: Session, mail_id: int) -> list[MailAnswer]:
    return list(
        session.scalars(
            select(MailAnswer).where(MailAnswer.mail_id == mail_id).order_by(MailAnswer.id)
        )
    )
