"""A mail's bytes read as a letter: who wrote it, its subject, body and attachments.

Pure, with the standard library's ``email`` and its modern policy. Whatever
the mail says is taken as the sender's words, never as an instruction to
Pouch: no ``X-Pouch-*`` header means anything here. A mail whose MIME
structure is broken (a boundary that never opens or closes, a multipart
without parts) is read as far as it goes, and its defects are named so that
the flow quarantines it rather than deliver a letter that may be cut short.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from typing import Any

#: Defects that mean a part of the letter may be missing or misread.
STRUCTURAL = (
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
)
NO_SUBJECT = "(no subject)"
SUBJECT_LENGTH = 300


class Unparseable(ValueError):
    """The bytes are not a letter Pouch can read: the reason says why."""


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Letter:
    """What a mail says, read once from its bytes."""

    from_address: str
    subject: str
    message_id: str | None
    precedence_header: str | None
    body: str
    body_format: str  # "text" or "html", as the API's ``body_format``
    attachments: tuple[Part, ...]
    #: The MIME defects that make the reading doubtful; empty for a sound mail.
    defects: tuple[str, ...]
    #: Sent by a machine or a list (RFC 3834 ``Auto-Submitted``, ``Precedence: bulk``,
    #: ``List-Id``): never answered automatically, so that no two robots talk forever.
    automatic: bool = False

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2]


def read(raw: bytes) -> Letter:
    """Read ``raw`` as a letter.

    :raises Unparseable: no single From address, or headers the parser cannot read.
    """
    try:
        message = email.message_from_bytes(
            _headers_as_utf8(raw), _class=_ReadOnce, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        return _letter(message)
    except Unparseable:
        raise
    except (ValueError, LookupError, TypeError, IndexError, AttributeError) as error:
        # The modern policy parses headers lazily and can raise on a malformed one.
        raise Unparseable(f"cannot read the mail: {type(error).__name__}: {error}") from None


class _ReadOnce(EmailMessage):
    """A message (and each of its parts) whose headers are parsed once each.

    The modern policy parses a header anew at every read (``get``, and each
    ``get_content_type`` or ``get_param`` reads ``Content-Type`` again): reading a
    letter asks for the same few headers a dozen times. The mail is never changed
    here, so the first answer for a name stands.
    """

    def __init__(self, policy: Any = None) -> None:
        super().__init__(policy=policy)
        self._read: dict[str, Any] = {}

    def get(self, name: str, failobj: Any = None) -> Any:
        key = name.lower()
        try:
            found = self._read[key]
        except KeyError:
            found = self._read[key] = super().get(name, _ABSENT)
        return failobj if found is _ABSENT else found

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        key = "\0all:" + name.lower()
        try:
            found = self._read[key]
        except KeyError:
            found = self._read[key] = super().get_all(name, _ABSENT)
        return failobj if found is _ABSENT else found

    # Whatever changes a header forgets what was read (the parser sets them raw).
    def set_raw(self, name: str, value: Any) -> None:
        self._read.clear()
        super().set_raw(name, value)

    def __setitem__(self, name: str, value: Any) -> None:
        self._read.clear()
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self._read.clear()
        super().__delitem__(name)

    def replace_header(self, name: str, value: Any) -> None:
        self._read.clear()
        super().replace_header(name, value)


_ABSENT = object()


def _headers_as_utf8(raw: bytes) -> bytes:
    """The mail with 8-bit header lines that are not UTF-8 read as Windows-1252 (what
    old clients mean by them) and written as UTF-8, which the parser reads; the body
    is left as it is. The stored original is unchanged.

    >>> _headers_as_utf8(b"Subject: R\\xe9union\\r\\n\\r\\n\\xe9")
    b'Subject: R\\xc3\\xa9union\\r\\n\\r\\n\\xe9'
    """
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = raw.partition(b"\n\n")
    if head.isascii():
        return raw
    lines = []
    for line in head.split(b"\n"):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            line = line.decode("cp1252", "replace").encode("utf-8")
        lines.append(line)
    return b"\n".join(lines) + separator + body


def _letter(message: EmailMessage) -> Letter:
    from_address = _single_from(message)
    subject = _printable(" ".join(str(message.get("Subject", "")).split()))
    subject = subject[:SUBJECT_LENGTH] or NO_SUBJECT
    message_id = _message_id(message)
    header = message.get("MMHS-Primary-Precedence")
    body_part = message.get_body(preferencelist=("html", "plain"))
    body, body_format = ("", "text") if body_part is None else _body(body_part)
    attachments = tuple(_attachments(message, body_part))
    defects = [type(d).__name__ for d in _all_defects(message) if isinstance(d, STRUCTURAL)]
    return Letter(
        from_address=from_address,
        subject=subject,
        message_id=str(message_id).strip() or None if message_id is not None else None,
        precedence_header=str(header) if header is not None else None,
        body=body,
        body_format=body_format,
        attachments=attachments,
        defects=tuple(dict.fromkeys(defects)),
        automatic=_automatic(message),
    )


def _message_id(message: EmailMessage) -> str | None:
    """The Message-ID. The modern policy's parser of message ids is slow, and for a
    plain one (``<left@right>``, the header's whole value) it gives back the text
    as it is; any other is left to it.

    >>> _message_id(email.message_from_string("Message-ID:\\n <a@b> \\n\\nx",
    ...     _class=_ReadOnce, policy=email.policy.default))
    '<a@b>'
    """
    for name, value in message.raw_items():
        if name.lower() == "message-id":
            if isinstance(value, str):
                plain = "".join(value.splitlines()).strip()
                if _PLAIN_ID.fullmatch(plain):
                    return plain
            break
    found = message.get("Message-ID")
    return None if found is None else str(found)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_PLAIN_ID = re.compile(rf"<{_ATOM}@{_ATOM}>")


def _automatic(message: EmailMessage) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        not submitted.startswith("no")
        or precedence in ("bulk", "junk", "list")
        or message.get("List-Id") is not None
    )


def _single_from(message: EmailMessage) -> str:
    values = message.get_all("From") or []
    if len(values) != 1:
        raise Unparseable(f"a mail has one From header; this one has {len(values)}")
    addresses = email.utils.getaddresses([str(values[0])])
    found = [address for _, address in addresses if "@" in address]
    if len(found) != 1:
        raise Unparseable("the From header does not name exactly one address")
    return found[0].lower()


def _text_of(part: MIMEPart) -> str:
    try:
        text = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or wrong charset: the bytes as far as UTF-8 reads them.
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", "replace")
    return _printable(text.replace("\r\n", "\n").replace("\r", "\n"))


def _printable(text: str) -> str:
    """Without NUL: no letter means one, and PostgreSQL's text cannot hold it (the
    stored original keeps it)."""
    return text.replace("\x00", "")


def _body(part: MIMEPart) -> tuple[str, str]:
    text = _text_of(part)
    if part.get_content_type() == "text/plain" and _param(part, "format") == "flowed":
        text = unflow(text, delsp=_param(part, "delsp") == "yes")
    return text, "html" if part.get_content_subtype() == "html" else "text"


def _param(part: MIMEPart, name: str) -> str:
    value = part.get_param(name)
    return value.strip().lower() if isinstance(value, str) else ""


def unflow(text: str, *, delsp: bool) -> str:
    """Text sent ``format=flowed`` (RFC 3676, Apple Mail and Thunderbird) as written:
    a line ending in a space goes on with the next line of the same quote depth;
    with ``delsp=yes`` that space was the client's and goes.

    >>> unflow("one \\ntwo\\n> quoted \\n> on\\n-- \\nsig", delsp=False)
    'one two\\n> quoted on\\n-- \\nsig'
    >>> unflow("pour  \\nle mois\\n", delsp=True)
    'pour le mois\\n'
    """
    lines: list[str] = []
    held: str | None = None
    held_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):  # space-stuffed
            content = content[1:]
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if held is not None and depth != held_depth:
            lines.append(_quoted(held_depth, held))
            held = None
        held, held_depth = (held or "") + content, depth
        if not soft:
            lines.append(_quoted(held_depth, held))
            held = None
    if held is not None:
        lines.append(_quoted(held_depth, held))
    return "\n".join(lines)


def _quoted(depth: int, text: str) -> str:
    return (">" * depth + " " + text) if depth else text


def _attachments(message: MIMEPart, body: MIMEPart | None) -> list[Part]:
    """Every leaf part but the body and its plain or HTML alternatives, a forwarded
    mail as one ``.eml`` file."""
    found: list[Part] = []
    for part, within_alternative in _leaves(message, alternative=False):
        if part is body or (within_alternative and _is_text(part)):
            continue
        content_type = part.get_content_type()
        if part.get_content_maintype() == "message":
            # A forwarded mail (or a delivery report's fields): its parts as they came.
            inner = part.get_payload()
            parts = inner if isinstance(inner, list) else []
            content = b"".join(p.as_bytes() for p in parts if isinstance(p, MIMEPart))
        else:
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
        name = part.get_filename() or f"part-{len(found) + 1}{_extension(content_type)}"
        found.append(Part(filename=_safe_name(name), content_type=content_type, content=content))
    return found


def _is_text(part: MIMEPart) -> bool:
    return part.get_content_type() in ("text/plain", "text/html") and part.get_filename() is None


def _leaves(message: MIMEPart, *, alternative: bool) -> list[tuple[MIMEPart, bool]]:
    """The parts that are not containers, each with whether it is one of the body's
    alternatives (under a multipart/alternative)."""
    if message.get_content_maintype() == "message" or not message.is_multipart():
        return [(message, alternative)]
    leaves: list[tuple[MIMEPart, bool]] = []
    inner = alternative or message.get_content_subtype() == "alternative"
    for part in message.iter_parts():
        assert isinstance(part, MIMEPart)
        leaves.extend(_leaves(part, alternative=inner))
    return leaves


def _all_defects(message: MIMEPart) -> list[email.errors.MessageDefect]:
    defects = list(message.defects)
    if message.is_multipart():
        for part in message.iter_parts():
            assert isinstance(part, MIMEPart)
            defects.extend(_all_defects(part))
    return defects


def _extension(content_type: str) -> str:
    return {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}.get(
        content_type, ".bin"
    )


def _safe_name(name: str) -> str:
    """A file name without any path, one line, at most 255 characters.

    >>> _safe_name("../../etc/passwd"), _safe_name("a\\nb.txt")
    ('passwd', 'a b.txt')
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = " ".join(base.split())[:255]
    return base if base not in ("", ".", "..") else "attachment.bin"
