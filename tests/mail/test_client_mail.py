"""Mail as real clients write it, and mail as nobody should, over a real SMTP
connection: every one is either a message whose sender, subject and body arrive
decoded, or a quarantined arrival with a clear reason. Never a crash, never a 250
without the mail stored.

Published samples (tests/mail/data/README.md): Gmail, Apple Mail, Outlook with
Exchange Online, Thunderbird, Outlook 2000, Eudora and a Japanese mobile carrier's
mail, captured as those clients sent them. The few cases no published sample shows
(flowed text with ``delsp=yes``, Windows-1252 beyond ISO 8859-1, KOI8-R) and the
malformed mails are written here, which we say at each one: they are ours.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from pouch.db import Database
from pouch.mail import service as mail_service
from pouch.mail.models import InboundMail, MailState
from pouch.messages import service as message_service
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import DnsServer, arrivals, corpus, crlf, send

#: The domains the samples come from, given to the office that does not sign.
DOMAINS = [
    "@ucla.edu",
    "@stalw.art",
    "@example.com",
    "@xyz-webserver.abcd-gestion.local",
    "@company.com",
    "@groupe-company.com",
    "@makita.skynet",
    "@test.lindsaar.net",
    "@x.com",
    "@docomo.ne.jp",
]


@dataclass(frozen=True)
class Arrived:
    """What became of one mail: the arrival, and the message it became (if any)."""

    mail: InboundMail
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    attachments: tuple[tuple[str, str], ...] = ()


@pytest.fixture
def port(database: Database, smtp_port: int, mail_world: MailWorld) -> int:
    with database.transaction() as session:
        mail_service.set_office_mail(
            session,
            mail_world.lax.id,
            mail_service.OfficeMail(addresses=DOMAINS, pins=[], require_signed=False),
            now=datetime.now(UTC),
            by=None,
        )
    return smtp_port


def deliver(database: Database, port: int, raw: bytes, *, sender: str = "x@ucla.edu") -> Arrived:
    """Send ``raw`` as it is; the SMTP answer must be 250 and the mail stored."""
    before = len(arrivals(database))
    _, done = send(port, raw, sender=sender, to=[PRINCIPAL])
    assert done.code == 250, done.text
    found = arrivals(database)
    assert len(found) == before + 1, "a 250 without the mail stored"
    mail = found[-1]
    if mail.state != MailState.ACCEPTED:
        assert mail.state == MailState.QUARANTINED, mail.state
        assert mail.reason and len(mail.reason) > 10, mail.reason
        return Arrived(mail)
    with database.transaction(write=False) as session:
        (public_id,) = mail.messages
        message = message_service.get_message(session, public_id)
        return Arrived(
            mail,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            attachments=tuple((a.filename, a.media_type) for a in message.attachments),
        )


def words(text: str | None) -> str:
    return " ".join((text or "").split())


# -- published samples --------------------------------------------------------------


def test_thunderbird_plain_and_html_with_an_inline_image(database: Database, port: int) -> None:
    """Thunderbird 59: text/plain format=flowed beside multipart/related (HTML + cid: PNG)."""
    got = deliver(database, port, crlf(corpus("mail-parser-thirdparty-017.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "test@example.com"
    assert got.subject == "27 plaintext + (HTML + embedded image)"
    assert "Search for höhö" in words(got.body_text)
    assert got.attachments == (("kigaaldcbanejcbi.png", "image/png"),)


def test_thunderbird_91_small_image(database: Database, port: int) -> None:
    got = deliver(database, port, crlf(corpus("mail-parser-thirdparty-011.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "small image"
    assert [media for _, media in got.attachments] == ["image/png"]


def test_outlook_2000_windows_1252_and_an_encoded_word_subject(
    database: Database, port: int
) -> None:
    got = deliver(database, port, crlf(corpus("mail-parser-legacy-012.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Die Hasen und die Frösche (Microsoft Outlook 00)"
    assert "Die Hasen klagten einst über ihre mißliche Lage" in words(got.body_text)


def test_eudora_iso_8859_1(database: Database, port: int) -> None:
    got = deliver(database, port, crlf(corpus("mail-parser-legacy-002.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Die Hasen und die Frösche"
    assert "Die Hasen klagten einst über" in words(got.body_text)


def test_gmail_alternative_with_a_png_attachment(database: Database, port: int) -> None:
    """Gmail (2012): multipart/mixed of a multipart/alternative (Russian, UTF-8 in
    base64) and a PNG attachment. The sample begins with a line of spaces, as kept."""
    got = deliver(database, port, crlf(corpus("flanker-mailgun-pic.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "hello@example.com"
    assert got.subject == "Mailgun rocks!"
    assert "Мейлган! Хахах!" in (got.body_html or "")
    assert got.attachments == (("mailgun.png", "image/png"),)


def test_headers_dkim_cannot_split_are_unsigned_and_meet_dmarc(
    database: Database, port: int, dns_server: DnsServer
) -> None:
    """The Gmail sample's first line (spaces) continues nothing: dkimpy cannot split
    such headers. The mail is judged unsigned, its domain's DMARC policy included
    (it was once left undecided, stored but never read)."""
    dns_server.records["_dmarc.example.com"] = "v=DMARC1; p=reject"
    got = deliver(database, port, crlf(corpus("flanker-mailgun-pic.eml")))
    assert got.mail.state == MailState.QUARANTINED
    assert got.mail.reason == (
        "DMARC policy reject of example.com (_dmarc.example.com: v=DMARC1; p=reject): unsigned"
    )


def test_gmail_iso_8859_1_encoded_word_subject(database: Database, port: int) -> None:
    """Gmail (2013): a Q-encoded ISO-8859-1 subject, multipart/alternative and an
    attachment. The sample keeps the mbox ``From `` line it was archived with."""
    got = deliver(database, port, crlf(corpus("php-mime-mail-parser-m0001.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "name@company.com"
    assert got.subject == "Mail avec fichier attaché de 1ko"
    # Sniffed from its two bytes ("a\n"); the mail says application/octet-stream.
    assert got.attachments == (("attach01", "text/plain"),)


def test_apple_mail_alternative_with_an_inline_image(database: Database, port: int) -> None:
    """Apple Mail 2.1283: text/plain beside multipart/related (HTML + a PNG by cid:),
    Apple-Mail= boundaries, tab-folded parameters."""
    got = deliver(database, port, crlf(corpus("enmime-html-mime-inline.raw")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "james@makita.skynet"
    assert got.subject == "MIME test 1"
    assert "Test of HTML section" in (got.body_html or "")
    assert got.attachments == (("favicon.png", "image/png"),)


def test_apple_mail_encoded_words_and_an_rfc_2231_file_name(database: Database, port: int) -> None:
    """Apple Mail 2.1076: a subject in four UTF-8 B-encoded words, a file name in
    RFC 2231 continuations (and in encoded words), no text but the attachment."""
    got = deliver(database, port, crlf(corpus("ruby-mail-japanese_attachment_long_name.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "まみむめも" * 10
    assert got.attachments == (("かきくけこ" * 5 + ".txt", "text/plain"),)


def test_outlook_exchange_online_iso_8859_1_and_a_pdf(database: Database, port: int) -> None:
    """Outlook with Exchange Online (Microsoft SMTP Server 15.0, 2014): Thread-Index,
    X-MS-Has-Attach, _002_ boundary, ISO-8859-1 quoted-printable text, a subject and
    a file name in encoded words. The published sample replaced the PDF by a word."""
    got = deliver(database, port, crlf(corpus("php-mime-mail-parser-m0013.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "firstname.name@groupe-company.com"
    assert got.subject == "50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829. pdf"
    body = words(got.body_text)
    assert "Pas à pas, agissons au quotidien pour préserver notre environnement." in body
    assert "Pièce jointe toujours pas conforme" in body
    # The type is sniffed from the bytes ("underscore"), not taken from the mail.
    assert got.attachments == (
        ("50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829.pdf", "text/plain"),
    )


def test_thunderbird_iso_2022_jp(database: Database, port: int) -> None:
    """Thunderbird 31: ISO-2022-JP body and B-encoded ISO-2022-JP subject."""
    got = deliver(database, port, crlf(corpus("mimekit-japanese.txt")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.mail.from_address == "x@x.com"
    assert got.subject == "日本語メールテスト (testing Japanese emails)"
    assert "日本語が\n正常に\n送れているか\nテスト." in (got.body_text or "")


def test_docomo_shift_jis(database: Database, port: int) -> None:
    """A Japanese mobile carrier's mail (docomo): Shift_JIS, 8-bit body."""
    got = deliver(database, port, crlf(corpus("ruby-mail-japanese_shift_jis.eml")))
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "test"
    assert "このメールはテスト用のメールです。" in (got.body_text or "")


def test_no_from_header_is_quarantined_with_the_reason(database: Database, port: int) -> None:
    """An encoded-word subject (UTF-8, base64) and a binary part, but no From."""
    got = deliver(database, port, crlf(corpus("mail-parser-thirdparty-010.eml")))
    assert got.mail.state == MailState.QUARANTINED
    assert got.mail.reason == "a mail has one From header; this one has 0"


@pytest.mark.parametrize("name", ["mail-parser-malformed-002.eml", "mail-parser-malformed-003.eml"])
def test_truncated_and_nested_same_boundary_multiparts_are_quarantined(
    database: Database, port: int, name: str
) -> None:
    """Dovecot's malformed samples (a multipart whose boundary never comes; a nested
    multipart reusing its parent's boundary), given a From line in memory."""
    raw = b"From: desk@ucla.edu\r\n" + crlf(corpus(name))
    got = deliver(database, port, raw)
    assert got.mail.state == MailState.QUARANTINED
    assert got.mail.reason is not None and got.mail.reason.startswith("malformed MIME")


# -- written here: what no published sample shows ------------------------------------

FLOWED_DELSP = b"""From: Anne Dupont <anne@ucla.edu>\r
Content-Type: text/plain;\r
\tcharset=utf-8;\r
\tformat=flowed;\r
\tdelsp=yes\r
Content-Transfer-Encoding: 8bit\r
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))\r
Subject: Visite d'Etat\r
Message-Id: <A1B2C3D4-1111-2222-3333-444455556666@ucla.edu>\r
Date: Sun, 6 Dec 2026 21:10:00 +0100\r
To: president-elect@pouch.example\r
X-Mailer: Apple Mail (2.3774.600.62)\r
\r
Monsieur le Pr\xc3\xa9sident \xc3\xa9lu, la visite d'\xc3\x89tat est pr\xc3\xa9vue pour  \r
le mois prochain,  \r
\xc3\xa0 Paris.\r
\r
> Une citation  \r
> qui continue.\r
"""


def test_format_flowed_delsp_yes_is_unwrapped(database: Database, port: int) -> None:
    """No published sample has flowed text over several lines with delsp=yes (the
    captured Apple Mail ones are one line or HTML): written here as Apple Mail lays it
    out, 8-bit UTF-8. A line ending in a space continues on the next (RFC 3676); with
    delsp=yes the space is the client's, not the writer's."""
    got = deliver(database, port, FLOWED_DELSP, sender="anne@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Visite d'Etat"
    assert got.body_text is not None
    assert "la visite d'État est prévue pour le mois prochain, à Paris.\n" in got.body_text
    assert "> Une citation qui continue." in got.body_text


WINDOWS_1252 = b"""From: "Kowalski, Jan" <jan.kowalski@ucla.edu>\r
To: "president-elect@pouch.example" <president-elect@pouch.example>\r
Subject: =?windows-1252?Q?Zaproszenie_=96_szczyt_w_Warszawie?=\r
Date: Sun, 6 Dec 2026 20:15:02 +0000\r
Message-ID: <AM0PR07MB1234ABCD@AM0PR07MB1234.eurprd07.prod.outlook.com>\r
Accept-Language: pl-PL, en-US\r
Content-Language: pl-PL\r
X-MS-Has-Attach:\r
Content-Type: multipart/alternative;\r
\tboundary="_000_AM0PR07MB1234ABCDAM0PR07MB1234eurp_"\r
MIME-Version: 1.0\r
\r
--_000_AM0PR07MB1234ABCDAM0PR07MB1234eurp_\r
Content-Type: text/plain; charset="windows-1252"\r
Content-Transfer-Encoding: quoted-printable\r
\r
Szanowny Panie Prezydencie =96 zaproszenie na szczyt w Warszawie.\r
\r
--_000_AM0PR07MB1234ABCDAM0PR07MB1234eurp_\r
Content-Type: text/html; charset="windows-1252"\r
Content-Transfer-Encoding: quoted-printable\r
\r
<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=\r
=3DWindows-1252"></head><body><p class=3D"MsoNormal">Szanowny Panie Prezyde=\r
ncie =96 zaproszenie na szczyt w Warszawie.<o:p></o:p></p></body></html>\r
\r
--_000_AM0PR07MB1234ABCDAM0PR07MB1234eurp_--\r
"""


def test_windows_1252_beyond_iso_8859_1(database: Database, port: int) -> None:
    """No published sample has a Windows-1252 character outside ISO 8859-1 (the
    captured Outlook 2000 and Exchange mails have none): written here as Outlook
    (Microsoft 365) lays it out, with the en dash (0x96) in body and subject."""
    got = deliver(database, port, WINDOWS_1252, sender="jan.kowalski@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Zaproszenie – szczyt w Warszawie"
    assert "Szanowny Panie Prezydencie – zaproszenie" in words(got.body_html)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_koi8_r(database: Database, port: int) -> None:
    """No published KOI8-R sample was found: written here as a Russian client (The Bat!,
    old Outlook) writes, 8-bit body and B-encoded words."""
    raw = (
        b"From: =?koi8-r?B?" + _b64("Посольство".encode("koi8-r")).encode() + b"?= "
        b"<embassy@ucla.edu>\r\n"
        b"To: president-elect@pouch.example\r\n"
        b"Subject: =?koi8-r?B?" + _b64("Поздравление".encode("koi8-r")).encode() + b"?=\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "Уважаемый господин избранный президент!\r\n".encode("koi8-r")
    )
    got = deliver(database, port, raw, sender="embassy@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Поздравление"
    assert "Уважаемый господин избранный президент!" in (got.body_text or "")


# -- malformed, written here -------------------------------------------------------------


def test_8bit_utf8_in_headers_is_read(database: Database, port: int) -> None:
    """Raw UTF-8 in Subject and the display name, no encoded words (as RFC 6532 allows
    and many scripts do without announcing SMTPUTF8)."""
    raw = (
        "From: Zoë Ångström <zoe@ucla.edu>\r\nTo: president-elect@pouch.example\r\n"
        "Subject: Félicitations, Monsieur le Président\r\n\r\nBonjour.\r\n"
    ).encode()
    got = deliver(database, port, raw, sender="zoe@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Félicitations, Monsieur le Président"


def test_latin1_bytes_in_a_header_are_read_as_windows_1252(database: Database, port: int) -> None:
    raw = (
        b"From: Fran\xe7ois <francois@ucla.edu>\r\nTo: president-elect@pouch.example\r\n"
        b"Subject: R\xe9union\r\n\r\nBonjour.\r\n"
    )
    got = deliver(database, port, raw, sender="francois@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Réunion"  # undeclared 8-bit, not UTF-8: read as Windows-1252


def test_a_huge_header_is_stored_and_decided(database: Database, port: int) -> None:
    """A 100 KB header, folded as RFC 5322 allows (the SMTP line limit is 1000)."""
    folded = "\r\n ".join(["x" * 70] * 1400)
    raw = (
        "From: desk@ucla.edu\r\nTo: president-elect@pouch.example\r\n"
        f"X-Tracking: {folded}\r\nSubject: Long header\r\n\r\nShort body.\r\n"
    ).encode()
    got = deliver(database, port, raw, sender="desk@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert got.subject == "Long header"


def test_nul_bytes_are_stored_and_decided(database: Database, port: int) -> None:
    raw = (
        b"From: desk@ucla.edu\r\nTo: president-elect@pouch.example\r\nSubject: Nul\x00led\r\n"
        b"\r\nBody with a \x00 NUL.\r\n"
    )
    got = deliver(database, port, raw, sender="desk@ucla.edu")
    assert got.mail.state == MailState.ACCEPTED
    assert (got.subject, got.body_text) == ("Nulled", "Body with a  NUL.\n")
    with database.transaction(write=False) as session:
        assert b"\x00" in mail_service.raw_of(session, got.mail)  # the original keeps them


def test_a_boundary_that_is_not_the_declared_one_is_quarantined(
    database: Database, port: int
) -> None:
    raw = (
        b"From: desk@ucla.edu\r\nTo: president-elect@pouch.example\r\nSubject: Parts\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="declared"\r\n\r\n'
        b"--actual\r\nContent-Type: text/plain\r\n\r\nFirst part.\r\n--actual--\r\n"
    )
    got = deliver(database, port, raw, sender="desk@ucla.edu")
    assert got.mail.state == MailState.QUARANTINED
    assert got.mail.reason is not None and "malformed MIME" in got.mail.reason
