"""A mail from its bytes to a message, or to the quarantine: never dropped.

``MailIntake`` is built once per ``pouch mail serve``; the SMTP handler hands
it each mail (``arrive``, on its event loop). In order:

1. **Read.** The bytes are parsed once (``mail.parse``), with no transaction
   open.
2. **Authenticate,** still with no transaction open (DNS may be slow): every
   DKIM signature and the ARC chain, keys pinned first (``mail.authentication``),
   the pins as last read.
3. **Store, log, decide,** in one unit of the group commit, whose batch holds
   the other mails arriving meanwhile (``_take``): the pins read again (a mail
   verified with keys since changed is verified again), the exact bytes stored
   (content-addressed by SHA-256) and each mail's ``received`` event logged
   first; then the directory read once for the batch (sender office by the From
   address, addressee offices by the recipients, ``mail.addresses``) and each
   mail **accepted** through the same path as a signed HTTP submission
   (``MessageIn``, ``intake.flows.submission_of``, ``acceptance.prepare``,
   ``acceptance.accept_many``: sequence numbers, ``accepted`` events with the
   mail's evidence; a Message-ID seen before with the same content is that
   message again), **or quarantined** with the reason (unreadable, malformed
   MIME, unknown sender, failed authentication, no office among the recipients,
   refused by acceptance), and its sender answered. Only once that commits may
   the SMTP server answer 250; if it fails, the server answers 451 and the
   sending MTA tries again. A watch officer releases a quarantined mail (one) or
   rejects it (two).

If reading or deciding fails, the mail is stored and its ``received`` logged on
its own first (``receive``), then read in the steps above (``process``). A
process that dies between the two leaves the mail ``received``;
``process_pending`` takes it up again.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pouch.clock import Clock
from pouch.db import Database
from pouch.errors import Conflict, FieldError, InvalidInput, PouchError
from pouch.groupcommit import Batched, GroupCommitter
from pouch.intake.flows import submission_of
from pouch.mail import addresses, answers, authentication, dmarc, parse, smime
from pouch.mail import service as mail_service
from pouch.mail.authentication import Lookup
from pouch.mail.keys import dns_lookup, dns_txt, pinned_first
from pouch.mail.models import InboundMail, MailState
from pouch.messages import acceptance, receipts
from pouch.messages.rules import Precedence, Timetable
from pouch.messages.schemas import AttachmentIn, MessageIn
from pouch.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
IDEMPOTENCY_PREFIX = "mail:"
#: How long an address found to be an office's is taken from memory at RCPT.
RECIPIENT_MEMORY = 30.0
RECIPIENTS_REMEMBERED = 10_000


@dataclass(frozen=True)
class Outcome:
    """What became of one arrival, as the SMTP reply and the tests tell it."""

    mail_id: int
    sha256: str
    received_index: int
    state: MailState
    reason: str | None = None
    messages: tuple[str, ...] = ()
    receipt_urls: tuple[str, ...] = ()

    def reply(self) -> str:
        """The text after ``250 2.0.0``: the evidence first, then the outcome."""
        said = f"received {self.sha256[:16]} at log index {self.received_index}"
        if self.state == MailState.QUARANTINED:
            return f"{said}; quarantined for a watch officer: {_one_line(self.reason)}"
        if self.messages:
            verb = "already accepted as" if self.state == MailState.REPLAY else "accepted as"
            return f"{said}; {verb} {' '.join(self.messages)}"
        if self.state == MailState.RECEIVED:
            return f"{said}; it will be read shortly"
        return said


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())[:300]


class _StalePins(Exception):
    """The pinned keys changed since the mail was verified with them: verify again."""


@dataclass(frozen=True)
class _Arrived:
    """A mail read and verified before it is stored: all that needs no database."""

    arrival: mail_service.Arrival
    letter: parse.Letter | None
    #: Why the bytes are no letter, when ``letter`` is None.
    unreadable: str | None
    verdicts: authentication.Verdicts | None
    #: The pinned keys the verdicts were reached with.
    pins: Mapping[str, str]


@dataclass
class _Reading:
    """What was read of a mail before the decision."""

    letter: parse.Letter | None = None
    sender_office_id: int | None = None
    addressees: dict[int, Precedence] = field(default_factory=dict)
    verdicts: authentication.Verdicts | None = None


@dataclass
class _Taken:
    """A mail of a batch on its way to acceptance: its messages made."""

    position: int
    mail: InboundMail
    reading: _Reading
    made: list[acceptance.Acceptance]


class MailIntake:
    """The mail channel into the message path (see the module's docstring)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        timetable: Timetable,
        limits: acceptance.Limits,
        dns: Lookup,
        base_url: str,
        answering: answers.Policy | None = None,
        mail_from: str = "pouch@localhost",
        committer: GroupCommitter | None = None,
        policies: dmarc.TxtLookup | None = None,
    ) -> None:
        self.database = database
        #: Writes share commits with other sessions' (one fsync for many mails) when
        #: given; each is durable when its call returns either way.
        self.committer = committer
        self.clock = clock
        self.timetable = timetable
        self.limits = limits
        self.dns = dns
        #: Where DMARC policies are asked for (``mail.dmarc``); None: not asked.
        self.policies = policies
        self.base_url = base_url.rstrip("/")
        #: None: senders are not answered (``mail_answers`` off).
        self.answering = answering
        self.mail_from = mail_from
        # The unit of the group commit for mail: the mails side by side in a batch
        # are stored, logged and decided by one call.
        self._arrivals: Batched[_Arrived, Outcome] = Batched(self._take)
        #: The pinned keys as last read; each batch checks them again (``_take``).
        self._pins: Mapping[str, str] | None = None
        #: Recipients found to be an office's lately (address -> office, when).
        self._recipients: dict[str, tuple[int, float]] = {}

    def _write(self, work: Callable[[Session], T]) -> T:
        """``work`` in a write transaction, committed when this returns."""
        if self.committer is not None:
            return self.committer.submit(work).result()
        with self.database.transaction() as session:
            return work(session)

    # -- SMTP time ---------------------------------------------------------------

    def recipient_office(self, address: str) -> int | None:
        """The office a recipient address is for (RCPT TO is refused when None).

        An address found lately is taken from memory: it only lets the mail in,
        and the mail's addressees are read again when it is stored (an address
        removed meanwhile is no addressee: the mail is quarantined, not lost).
        An address not found is always asked again (a 550 is final).
        """
        now = time.monotonic()
        remembered = self._recipients.get(address)
        if remembered is not None and now - remembered[1] < RECIPIENT_MEMORY:
            return remembered[0]
        with self.database.transaction(write=False) as session:
            office = mail_service.office_of(session, address)
        if office is not None:
            if len(self._recipients) >= RECIPIENTS_REMEMBERED:
                self._recipients.clear()
            self._recipients[address] = (office, now)
        return office

    async def arrive(self, arrival: mail_service.Arrival) -> Outcome:
        """Store, log and decide one mail; durable when this returns. The SMTP
        server's 250 tells the outcome; any failure raises (451, never 250).

        The mail is read and its signatures verified in a worker thread with no
        transaction open; then, in one unit of the group commit (its batch shared
        with other mails), its bytes are stored, ``received`` logged, and it is
        accepted or quarantined and its sender answered: one commit for all of
        it, the ``received`` event first in the log. No thread is held while the
        batch commits, so that a batch can hold as many mails as are arriving. If
        reading or deciding fails, the mail is stored and logged on its own first
        (``receive``), then read (``process``), or left for ``process_pending``.
        """
        for _ in range(2):
            try:
                arrived = await asyncio.to_thread(self._read_pinned, arrival)
            except Exception:
                log.exception("a mail from %s could not be read: stored first", arrival.peer)
                break
            try:
                if self.committer is not None:
                    future = self.committer.submit_item(self._arrivals, arrived)
                    return await asyncio.wrap_future(future)
                return await asyncio.to_thread(self._take_alone, arrived)
            except _StalePins:
                self._pins = None  # changed since: read them again, and verify again
            except Exception:
                log.exception("a mail from %s could not be taken at once", arrival.peer)
                break
        return await asyncio.to_thread(self._stored_then_read, arrival)

    def _stored_then_read(self, arrival: mail_service.Arrival) -> Outcome:
        mail_id, sha256, index = self.receive(arrival)
        try:
            return self.process(mail_id)
        except Exception:
            log.exception("mail %s is stored but could not be read now", mail_id)
            return Outcome(mail_id, sha256, index, MailState.RECEIVED)

    def receive(self, arrival: mail_service.Arrival) -> tuple[int, str, int]:
        """Store and log the mail; durable when this returns (id, SHA-256, log index).

        Any failure raises: the SMTP server then answers 451, never 250.
        """
        now = self.clock.now()

        def store(session: Session) -> tuple[int, str, int]:
            mail = mail_service.receive(session, arrival, now=now)
            return mail.id, mail.sha256, mail.received_index

        return self._write(store)

    def process_pending(self) -> list[Outcome]:
        """Look at every mail stored but never looked at (after a crash)."""
        with self.database.transaction(write=False) as session:
            waiting = mail_service.pending(session)
        return [self.process(mail_id) for mail_id in waiting]

    # -- after SMTP time ----------------------------------------------------------

    def process(self, mail_id: int) -> Outcome:
        """Read, authenticate, and accept or quarantine one stored mail."""
        with self.database.transaction(write=False) as session:
            mail = mail_service.get_mail(session, mail_id)
            if mail.state != MailState.RECEIVED:
                return outcome_of(mail)
            arrival = mail_service.Arrival(
                raw=mail_service.raw_of(session, mail),
                mail_from=mail.mail_from,
                recipients=tuple(mail.recipients),
                peer=mail.peer,
            )
            pinned = mail_service.pins(session)
        arrived = self._read(arrival, pinned)

        def settle(session: Session) -> Outcome:
            mail = mail_service.get_mail(session, mail_id)
            if mail.state != MailState.RECEIVED:
                return outcome_of(mail)
            (outcome,) = self._settle(session, [(mail, arrived)], now=self.clock.now())
            return outcome

        return self._write(settle)

    # -- reading, with no transaction open ---------------------------------------------

    def _pinned(self) -> Mapping[str, str]:
        pinned = self._pins
        if pinned is None:
            with self.database.transaction(write=False) as session:
                pinned = self._pins = mail_service.pins(session)
        return pinned

    def _read_pinned(self, arrival: mail_service.Arrival) -> _Arrived:
        return self._read(arrival, self._pinned())

    def _read(self, arrival: mail_service.Arrival, pinned: Mapping[str, str]) -> _Arrived:
        """Parse the bytes once, and verify every signature (DNS may be slow: no
        transaction is open)."""
        raw = arrival.raw
        try:
            letter = parse.read(raw)
        except parse.Unparseable as error:
            return _Arrived(arrival, None, str(error), None, pinned)
        verdicts = authentication.verify(
            raw,
            from_domain=letter.from_domain,
            lookup=pinned_first(pinned, self.dns),
            policies=self.policies,
        )
        # Evidence, never admission by itself: no chain to a trust root (``mail.smime``).
        signed = smime.verify(raw, from_address=letter.from_address)
        return _Arrived(arrival, letter, None, dataclasses.replace(verdicts, smime=signed), pinned)

    # -- storing and deciding, in the write transaction ----------------------------------

    def _take_alone(self, arrived: _Arrived) -> Outcome:
        """``_take`` for one mail in a transaction of its own (no group commit)."""
        with self.database.transaction() as session:
            (outcome,) = self._take(session, [arrived])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _take(self, session: Session, batch: list[_Arrived]) -> list[Outcome | Exception]:
        """Every mail of a batch stored with its ``received`` event, then each
        accepted (its messages' ``accepted`` events) or quarantined, and answered.

        A mail verified with pinned keys that changed since gets ``_StalePins``
        and nothing is written for it.
        """
        pinned = mail_service.pins(session)
        fresh = [i for i, arrived in enumerate(batch) if arrived.pins == pinned]
        now = self.clock.now()
        mails = mail_service.receive_many(session, [batch[i].arrival for i in fresh], now=now)
        # The batch's outcomes and answers are written in one flush, at its end.
        with session.no_autoflush:
            settled = self._settle(
                session, [(mail, batch[i]) for mail, i in zip(mails, fresh, strict=True)], now=now
            )
        outcomes: list[Outcome | Exception] = [_StalePins() for _ in batch]
        for i, outcome in zip(fresh, settled, strict=True):
            outcomes[i] = outcome
        return outcomes

    def _settle(
        self, session: Session, arrived: Sequence[tuple[InboundMail, _Arrived]], *, now: datetime
    ) -> list[Outcome]:
        """Decide each stored mail: a replay of the same bytes, quarantined with its
        reason, or accepted; the directory read once for all of them."""
        letters = [a.letter for _, a in arrived if a.letter is not None]
        offices = mail_service.offices_of(
            session,
            [letter.from_address for letter in letters]
            + [r for mail, _ in arrived for r in mail.recipients],
        )
        signing = mail_service.signing_required(
            session, {offices[x.from_address] for x in letters if x.from_address in offices}
        )
        earlier = mail_service.first_arrivals(session, {mail.sha256 for mail, _ in arrived})
        sent = (
            mail_service.AnswersSent(session, self.answering, now=now)
            if self.answering is not None
            else None
        )
        outcomes: dict[int, Outcome] = {}
        firsts: dict[str, InboundMail] = {}  # the first of each bytes in this batch
        again: list[tuple[int, InboundMail]] = []
        taken: list[_Taken] = []
        for position, (mail, one) in enumerate(arrived):
            first = earlier.get(mail.sha256)
            if first is not None:
                mail_service.replay(session, mail, first)
                outcomes[position] = outcome_of(mail)
                continue
            if mail.sha256 in firsts:
                again.append((position, mail))  # once the first is decided
                continue
            firsts[mail.sha256] = mail
            reading = _Reading(letter=one.letter, verdicts=one.verdicts)
            reason = one.unreadable
            if one.letter is not None:
                reading.sender_office_id = offices.get(one.letter.from_address)
                reading.addressees = addressees_of(offices, mail.recipients, one.letter)
                reason = _refusal(reading, require_signed=reading.sender_office_id in signing)
            if reason is None:
                _note(session, mail, reading)
                try:
                    made = acceptances_of(mail, reading, officer_id=None, limits=self.limits)
                except PouchError as refusal:
                    reason = refusal.detail
                else:
                    taken.append(_Taken(position, mail, reading, made))
                    continue
            outcomes[position] = self._quarantined(
                session, mail, reading, reason=reason or "unreadable", now=now, sent=sent
            )
        outcomes.update(self._accept_all(session, taken, now=now, sent=sent))
        for position, mail in again:
            mail_service.replay(session, mail, firsts[mail.sha256])
            outcomes[position] = outcome_of(mail)
        return [outcomes[position] for position in range(len(arrived))]

    def _accept_all(
        self,
        session: Session,
        taken: Sequence[_Taken],
        *,
        now: datetime,
        sent: mail_service.AnswersSent | None,
    ) -> dict[int, Outcome]:
        """Accept the mails' messages; a mail one of whose messages is refused is
        quarantined with the reason, and none of its messages accepted."""
        outcomes: dict[int, Outcome] = {}
        # Mails to one office (most): one acceptance each, all in one call; a refused
        # one has written nothing.
        single = [t for t in taken if len(t.made) == 1]
        accepted = acceptance.accept_many(
            session,
            [t.made[0] for t in single],
            now=now,
            timetable=self.timetable,
            limits=self.limits,
        )
        results: list[tuple[_Taken, list[acceptance.Accepted | PouchError]]] = [
            (t, [result]) for t, result in zip(single, accepted, strict=True)
        ]
        for t in taken:
            if len(t.made) > 1:
                # All of the mail's messages or none: in a savepoint of its own.
                session.flush()
                savepoint = session.begin_nested()
                several = acceptance.accept_many(
                    session, t.made, now=now, timetable=self.timetable, limits=self.limits
                )
                if any(isinstance(o, PouchError) for o in several):
                    savepoint.rollback()
                else:
                    savepoint.commit()
                results.append((t, several))
        for t, outcome in results:
            refused = [o for o in outcome if isinstance(o, PouchError)]
            if refused:
                outcomes[t.position] = self._quarantined(
                    session, t.mail, t.reading, reason=_why(refused[0]), now=now, sent=sent
                )
                continue
            done = [o for o in outcome if isinstance(o, acceptance.Accepted)]
            outcomes[t.position] = self._accepted(session, t.mail, t.reading, done, now, sent)
        return outcomes

    def _accepted(
        self,
        session: Session,
        mail: InboundMail,
        reading: _Reading,
        done: Sequence[acceptance.Accepted],
        now: datetime,
        sent: mail_service.AnswersSent | None,
    ) -> Outcome:
        mail_service.accepted(
            session,
            mail,
            public_ids=[o.message.public_id for o in done],
            replayed=all(o.replayed for o in done),
        )
        outcome = outcome_of(mail, receipt_urls=_receipt_urls(self.base_url, done))
        if self.answering is not None and mail.state == MailState.ACCEPTED:
            _answer_accepted(
                session,
                mail,
                outcome,
                withheld=_withheld(mail, reading.letter, self.mail_from),
                policy=self.answering,
                base_url=self.base_url,
                released=False,
                now=now,
                sent=sent,
            )
        return outcome

    def _quarantined(
        self,
        session: Session,
        mail: InboundMail,
        reading: _Reading,
        *,
        reason: str,
        now: datetime,
        sent: mail_service.AnswersSent | None,
    ) -> Outcome:
        _note(session, mail, reading)
        mail_service.quarantine(session, mail, reason=reason, now=now)
        if self.answering is not None:
            mail_service.answer(
                session,
                mail,
                about="quarantined",
                text=answers.quarantined_text(
                    received_index=mail.received_index,
                    sha256=mail.sha256,
                    reason=reason,
                    arrival_url=mail_service.arrival_url(self.base_url, mail.sha256),
                ),
                withheld=_withheld(mail, reading.letter, self.mail_from),
                policy=self.answering,
                now=now,
                sent=sent,
            )
        return outcome_of(mail)

    def release(
        self,
        mail_id: int,
        *,
        officer_id: int,
        sender_office_id: int | None,
        addressee_office_id: int | None,
        reason: str,
    ) -> Outcome:
        """``release`` in a transaction of its own."""
        with self.database.transaction() as session:
            return release(
                session,
                mail_id,
                officer_id=officer_id,
                sender_office_id=sender_office_id,
                addressee_office_id=addressee_office_id,
                reason=reason,
                now=self.clock.now(),
                timetable=self.timetable,
                limits=self.limits,
                base_url=self.base_url,
                answering=self.answering,
                mail_from=self.mail_from,
            )


def _withheld(
    mail: InboundMail, letter: parse.Letter | None, mail_from: str
) -> answers.Withheld | None:
    """Why the mail's return path gets no answer, or None (``answers.answerable``)."""
    return answers.answerable(
        mail.mail_from,
        signed_by=answers.signing_domains(mail.verdicts),
        # An unreadable mail is treated as a machine's: no alignment can be trusted.
        automatic=letter.automatic if letter is not None else True,
        ours=mail_from,
    )


def _answer_accepted(
    session: Session,
    mail: InboundMail,
    outcome: Outcome,
    *,
    withheld: answers.Withheld | None,
    policy: answers.Policy,
    base_url: str,
    released: bool,
    now: datetime,
    sent: mail_service.AnswersSent | None = None,
) -> None:
    mail_service.answer(
        session,
        mail,
        about="released" if released else "accepted",
        text=answers.accepted_text(
            received_index=mail.received_index,
            sha256=mail.sha256,
            messages=outcome.messages,
            receipt_urls=outcome.receipt_urls,
            track_url=f"{base_url}/track",
            released=released,
        ),
        withheld=withheld,
        policy=policy,
        now=now,
        sent=sent,
    )


def addressees_of(
    offices: Mapping[str, int], recipients: Sequence[str], letter: parse.Letter
) -> dict[int, Precedence]:
    """Each addressee office (``offices``: address -> office, as
    ``mail_service.offices_of`` finds them) with the precedence asked for it (the
    most urgent of its recipients' tags, else the mail's header)."""
    found: dict[int, Precedence] = {}
    for recipient in recipients:
        split = addresses.split(recipient)
        office_id = offices.get(recipient)
        if split is None or office_id is None:
            continue
        asked = addresses.precedence(split.tag, letter.precedence_header)
        held = found.get(office_id)
        found[office_id] = asked if held is None or asked.rank < held.rank else held
    return found


def _note(session: Session, mail: InboundMail, reading: _Reading) -> None:
    letter = reading.letter
    mail_service.note_letter(
        session,
        mail,
        from_address=letter.from_address if letter else None,
        subject=letter.subject if letter else None,
        message_id=letter.message_id if letter else None,
        sender_office_id=reading.sender_office_id,
        verdicts=reading.verdicts.evidence() if reading.verdicts else None,
    )


def acceptances_of(
    mail: InboundMail, reading: _Reading, *, officer_id: int | None, limits: acceptance.Limits
) -> list[acceptance.Acceptance]:
    """One acceptance per addressee office, through the API's own checks (``MessageIn``)
    and preparation (sanitizer, sniffing, caps).

    :raises InvalidInput: the letter is not a message the API would accept.
    :raises PayloadTooLarge: an attachment over the limit.
    """
    letter = reading.letter
    assert letter is not None
    assert reading.sender_office_id is not None
    evidence: dict[str, Any] = {"mail": mail.sha256, "received": mail.received_index}
    if reading.verdicts is not None:
        # Each signature with the key it was checked with (the record's SHA-256), so that
        # a key swapped in the directory or DNS afterwards shows against the log.
        evidence["dkim"] = [
            {"d": v.domain, "s": v.selector, "result": v.result, "key": v.evidence()["key_sha256"]}
            for v in reading.verdicts.dkim
        ]
        evidence["dmarc"] = reading.verdicts.dmarc
        if reading.verdicts.policy is not None:
            evidence["dmarc_policy"] = reading.verdicts.policy.evidence()
        if reading.verdicts.smime is not None:
            smime_verdict = reading.verdicts.smime
            evidence["smime"] = {
                key: smime_verdict[key]
                for key in ("result", "certificate_sha256", "aligned")
                if key in smime_verdict
            }
    # Who let an unauthenticated mail through is said to its readers, not only logged.
    released: dict[str, Any] = {}
    if officer_id is not None:
        evidence["released_by"] = officer_id
        released["released_by"] = officer_id
    identity = letter.message_id or f"sha256:{mail.sha256}"
    # Where the message's steps and replies are mailed (``notify.correspondent_of``):
    # the From address, only when a passing DKIM signature is aligned with it.
    reports: dict[str, Any] = {}
    if (mail.verdicts or {}).get("dmarc") == "pass" and not letter.automatic:
        reports = {"answer_to": letter.from_address, "message_id": letter.message_id}
    made = []
    for office_id, precedence in sorted(reading.addressees.items()):
        try:
            data = MessageIn(
                sender_office_id=reading.sender_office_id,
                addressee_office_id=office_id,
                subject=letter.subject,
                body=letter.body,
                body_format=letter.body_format,
                precedence=precedence,
                attachments=[
                    AttachmentIn(
                        filename=part.filename,
                        content_type=part.content_type[:127],
                        content_base64=_base64(part.content),
                    )
                    for part in letter.attachments
                ],
            )
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise InvalidInput(f"not a message Pouch accepts: {where}: {first['msg']}") from None
        prepared = acceptance.prepare(submission_of(data), limits)
        made.append(
            acceptance.Acceptance(
                prepared,
                submitted_by_user_id=officer_id,
                signature={
                    "mail": {"sha256": mail.sha256, **(mail.verdicts or {}), **released, **reports}
                },
                idempotency_key=_idempotency_key(identity, office_id),
                request_hash=prepared.content_hash,
                evidence=evidence,
            )
        )
    return made


def release(
    session: Session,
    mail_id: int,
    *,
    officer_id: int,
    sender_office_id: int | None,
    addressee_office_id: int | None,
    reason: str,
    now: datetime,
    timetable: Timetable,
    limits: acceptance.Limits,
    base_url: str,
    answering: answers.Policy | None = None,
    mail_from: str = "pouch@localhost",
) -> Outcome:
    """One watch officer accepts a quarantined mail into the normal path, in the
    caller's transaction, naming the sender office (and the addressee) where the
    directory could not; ``mail.released`` is logged with the messages it became.

    :raises Conflict: not in quarantine, or a message refused (its Message-ID used for
        another letter). ``InvalidInput``: no sender or addressee office, an unreadable
        mail, or a letter the API would refuse.
    """
    mail = mail_service.quarantined_for_update(session, mail_id)
    try:
        letter = parse.read(mail_service.raw_of(session, mail))
    except parse.Unparseable as error:
        raise InvalidInput(f"the mail cannot be read ({error}); reject it") from None
    reading = _Reading(letter=letter, sender_office_id=sender_office_id or mail.sender_office_id)
    if addressee_office_id is not None:
        reading.addressees = {
            addressee_office_id: addresses.precedence(None, letter.precedence_header)
        }
    else:
        reading.addressees = addressees_of(
            mail_service.offices_of(session, mail.recipients), mail.recipients, letter
        )
    if reading.sender_office_id is None:
        raise InvalidInput(
            "name the office that sent this mail",
            field_errors=[FieldError("sender_office_id", "required: the directory does not know")],
        )
    if not reading.addressees:
        raise InvalidInput(
            "name the office this mail is for",
            field_errors=[FieldError("addressee_office_id", "required")],
        )
    made = acceptances_of(mail, reading, officer_id=officer_id, limits=limits)
    outcomes = acceptance.accept_many(session, made, now=now, timetable=timetable, limits=limits)
    for outcome in outcomes:
        if isinstance(outcome, PouchError):
            raise outcome
    done = [o for o in outcomes if isinstance(o, acceptance.Accepted)]
    mail_service.released(
        session,
        mail,
        officer_id=officer_id,
        reason=reason.strip(),
        public_ids=[o.message.public_id for o in done],
        now=now,
    )
    released = outcome_of(mail, receipt_urls=_receipt_urls(base_url, done))
    if answering is not None:
        _answer_accepted(
            session,
            mail,
            released,
            withheld=_withheld(mail, letter, mail_from),
            policy=answering,
            base_url=base_url,
            released=True,
            now=now,
        )
    return released


def reject(
    session: Session,
    mail_id: int,
    *,
    officer_id: int,
    reason: str,
    now: datetime,
    answering: answers.Policy | None,
    mail_from: str,
    base_url: str,
) -> MailState:
    """``mail_service.reject``; once two officers have rejected it, the sender is told
    why (under the same conditions as every automatic answer), with where the receipt
    of its arrival is."""
    state = mail_service.reject(session, mail_id, officer_id=officer_id, reason=reason, now=now)
    if state == MailState.REJECTED and answering is not None:
        mail = mail_service.get_mail(session, mail_id)
        try:
            letter: parse.Letter | None = parse.read(mail_service.raw_of(session, mail))
        except parse.Unparseable:
            letter = None
        mail_service.answer(
            session,
            mail,
            about="rejected",
            text=answers.rejected_text(
                received_index=mail.received_index,
                sha256=mail.sha256,
                reason=reason.strip(),
                arrival_url=mail_service.arrival_url(base_url, mail.sha256),
            ),
            withheld=_withheld(mail, letter, mail_from),
            policy=answering,
            now=now,
        )
    return state


def _receipt_urls(base_url: str, done: Sequence[acceptance.Accepted]) -> tuple[str, ...]:
    return tuple(receipts.receipt_url(base_url, o.message, o.ledger_index) for o in done)


def outcome_of(mail: InboundMail, *, receipt_urls: tuple[str, ...] = ()) -> Outcome:
    return Outcome(
        mail_id=mail.id,
        sha256=mail.sha256,
        received_index=mail.received_index,
        state=mail.state,
        reason=mail.reason,
        messages=tuple(mail.messages),
        receipt_urls=receipt_urls,
    )


def _refusal(reading: _Reading, *, require_signed: bool) -> str | None:
    """Why the mail goes to quarantine rather than in, or None."""
    letter, verdicts = reading.letter, reading.verdicts
    assert letter is not None
    assert verdicts is not None
    if letter.defects:
        return f"malformed MIME ({', '.join(letter.defects)}): the letter may be cut short"
    if reading.sender_office_id is None:
        return f"unknown sender: {letter.from_address} is no office's address or domain"
    failure = verdicts.failure(require_signed=require_signed)
    if failure is not None:
        return failure
    if not reading.addressees:
        return "no recipient is an office's address"
    return None


def _why(refusal: PouchError) -> str:
    """A refused acceptance's reason, as the quarantine tells it."""
    # A Message-ID seen with other content, a retired office ...: an officer looks.
    if isinstance(refusal, Conflict):
        return "the Message-ID was used before for another content"
    return refusal.detail


def _idempotency_key(identity: str, office_id: int) -> str:
    """The key that makes a Message-ID seen again the same message (per addressee).

    >>> _idempotency_key("<a@b>", 3)
    'mail:fd42a84f5894fff57e5203d69d27c92f5cf07249d41e0ec7af66293609371210:3'
    """
    digest = hashlib.sha256(identity.strip().encode("utf-8", "replace")).hexdigest()
    return f"{IDEMPOTENCY_PREFIX}{digest}:{office_id}"


def _base64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def intake_from_settings(
    settings: Settings,
    *,
    database: Database,
    clock: Clock,
    committer: GroupCommitter | None = None,
) -> MailIntake:
    """The mail intake as the settings describe it (``pouch mail serve``)."""
    return MailIntake(
        database,
        clock=clock,
        timetable=Timetable.from_settings(settings),
        limits=acceptance.Limits.from_settings(settings),
        dns=dns_lookup(
            server=settings.mail_dns_server, timeout=settings.mail_dns_timeout.total_seconds()
        ),
        base_url=settings.public_url,
        answering=answering_of(settings),
        mail_from=settings.mail_from,
        committer=committer,
        policies=dns_txt(
            server=settings.mail_dns_server, timeout=settings.mail_dns_timeout.total_seconds()
        ),
    )


def answering_of(settings: Settings) -> answers.Policy | None:
    """The limits on automatic answers, or None when senders are not answered."""
    if not settings.mail_answers:
        return None
    return answers.Policy(
        per_address=settings.mail_answer_limit,
        per_domain=settings.mail_answer_domain_limit,
        window=settings.mail_answer_window,
    )
