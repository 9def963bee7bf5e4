"""Telling the party: each new alarm, once, by webhook and by e-mail.

A webhook gets ``POST`` of JSON (``{"monitor": …, "alarms": [...]}``, each
alarm with its evidence), with an ``Idempotency-Key`` made of the alarms'
keys, retried with backoff on a failure or a 5xx, each try bounded by a
timeout. An e-mail goes through an SMTP relay (``POUCH_SMTP_*``). An alert
that could not be sent is tried again at the next poll: the alarm is marked
alerted only once every channel took it.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from pouch.messages.outbox import MailRelay
from pouch.monitor.alarms import Alarm, render


class AlertFailed(Exception):
    """A channel did not take the alert; the message says why."""


class Alerter(Protocol):
    name: str

    def send(self, alarms: Sequence[Alarm], *, monitor: dict[str, Any]) -> None:
        """Deliver the alarms or raise ``AlertFailed``."""
        ...


def _idempotency_key(alarms: Sequence[Alarm]) -> str:
    return hashlib.sha256("\n".join(sorted(a.key for a in alarms)).encode()).hexdigest()[:32]


class WebhookAlerter:
    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client,
        attempts: int = 3,
        timeout: float = 10.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = f"webhook {url}"
        self.url = url
        self.client = client
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self.sleep = sleep

    def send(self, alarms: Sequence[Alarm], *, monitor: dict[str, Any]) -> None:
        body = json.dumps({"monitor": monitor, "alarms": [a.to_json() for a in alarms]}).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": _idempotency_key(alarms),
        }
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.client.post(
                    self.url, content=body, headers=headers, timeout=self.timeout
                )
            except httpx.HTTPError as error:
                problem = f"{error.__class__.__name__}: {error}"
                continue
            if 200 <= response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # refused: asking again will not help
        raise AlertFailed(f"{self.name}: {problem} (after {attempt + 1} tries)")


class MailAlerter:
    def __init__(self, address: str, *, relay: MailRelay, timeout: float = 10.0) -> None:
        self.name = f"e-mail to {address}"
        self.address = address
        self.relay = relay
        self.timeout = timeout

    def send(self, alarms: Sequence[Alarm], *, monitor: dict[str, Any]) -> None:
        mail = EmailMessage()
        mail["From"] = self.relay.mail_from
        mail["To"] = self.address
        what = alarms[0].summary if len(alarms) == 1 else f"{len(alarms)} alarms"
        mail["Subject"] = f"Pouch monitor ({monitor.get('party', '')}): {what}"[:200]
        domain = self.relay.mail_from.rpartition("@")[2] or "pouch.invalid"
        mail["Message-ID"] = f"<{_idempotency_key(alarms)}@{domain}>"
        party, url = monitor.get("party", ""), monitor.get("url", "")
        mail.set_content(f"The Pouch monitor of {party} at {url} found:\n\n{render(alarms)}\n")
        try:
            with smtplib.SMTP(self.relay.host, self.relay.port, timeout=self.timeout) as smtp:
                if self.relay.starttls:
                    smtp.starttls()
                if self.relay.username:
                    smtp.login(self.relay.username, self.relay.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as error:
            raise AlertFailed(f"{self.name}: {error.__class__.__name__}: {error}") from None
