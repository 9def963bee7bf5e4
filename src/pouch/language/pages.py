"""The translators' queue in the browser: ``/translations``.

Translators of the operations office claim a queued (or machine) translation,
read the original beside the draft, and submit the final text or release the
claim; watch officers see the same queue and may release anyone's claim.
Everything works without JavaScript: forms post, the service acts under the
same rules (``pouch.language.access``) as the JSON API, and the browser is
sent back (303) with a fixed notice.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.errors import FieldError, InvalidInput
from pouch.identity.service import Actor
from pouch.language import access
from pouch.language import queue as queue_service
from pouch.language.models import Translation, TranslationStatus
from pouch.schema import RowId
from pouch.web import render
from pouch.web.deps import AppClock, AuthorizePage, DbSession

router = APIRouter(tags=["pages"], include_in_schema=False)

QueueReader = Annotated[Actor, Depends(AuthorizePage(*access.QUEUE_READER_ROLES))]
Translator = Annotated[Actor, Depends(AuthorizePage(*access.TRANSLATOR_ROLES))]

#: What a redirect's ``notice`` key says; only these fixed texts are ever shown.
NOTICES = {
    "claimed": "Claimed: the translation is yours until you submit or release it.",
    "submitted": "Submitted: the translation is shown to its readers, credited to you.",
    "released": "Released: the translation is back in the queue.",
}


#: A language code as the queue's filter takes it ("fr", "pt", "und").
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@router.get("/translations")
def translations_page(request: Request, session: DbSession, actor: QueueReader) -> Response:
    params = request.query_params
    include_machine = params.get("machine") == "1"
    language = params.get("language", "").strip() or None
    if language is not None and not _LANGUAGE.fullmatch(language):
        raise InvalidInput(
            "language is not a language code",
            field_errors=[FieldError("language", "a code of two or three letters, as fr or pt")],
        )
    after = params.get("after") or None
    page = queue_service.page(
        session,
        include_machine=include_machine,
        language=language,
        after=after,
        limit=queue_service.PAGE_SIZE,
    )
    # Who holds each claim: the page offers Submit and Release to that translator only.
    claimant_ids = {
        entry.translation.id: entry.translation.translator_user_id
        for entry in page.rows
        if entry.translation.status == TranslationStatus.CLAIMED
    }
    asked = {"machine": "1" if include_machine else "", "language": language or ""}
    asked = {name: value for name, value in asked.items() if value}
    context: dict[str, Any] = {
        "actor": actor,
        "entries": page.rows,
        "claimant_ids": claimant_ids,
        "include_machine": include_machine,
        "language": language,
        "languages": queue_service.languages(session, include_machine=include_machine),
        "first_page": f"/translations?{urlencode(asked)}" if after else None,
        "next_page": (
            f"/translations?{urlencode({**asked, 'after': page.next})}" if page.next else None
        ),
        "is_translator": access.translates(actor),
        "may_release_others": access.releases_any_claim(actor),
    }
    return render.page(request, "translations.html", context, notices=NOTICES)


@router.post("/translations/{translation_id}/claim")
def claim(
    translation_id: RowId, session: DbSession, clock: AppClock, actor: Translator
) -> Response:
    row = queue_service.claim(
        session, translation_id=translation_id, user_id=actor.user_id, now=clock.now()
    )
    return _back(row, "claimed")


@router.post("/translations/{translation_id}/submit")
def submit(
    translation_id: RowId,
    session: DbSession,
    clock: AppClock,
    actor: Translator,
    subject: Annotated[str, Form(min_length=1, max_length=1000)],
    body: Annotated[str, Form(max_length=1_000_000)],
) -> Response:
    row = queue_service.submit(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        # One line, so that the stored text splits back exactly.
        subject=" ".join(subject.split()),
        body=body.replace("\r\n", "\n"),
        source=None,
        now=clock.now(),
    )
    return _back(row, "submitted")


@router.post("/translations/{translation_id}/release")
def release(translation_id: RowId, session: DbSession, actor: QueueReader) -> Response:
    row = queue_service.release(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        may_release_others=access.releases_any_claim(actor),
    )
    return _back(row, "released")


def _back(row: Translation, notice: str) -> Response:
    """Back to the queue, narrowed to the translation's language: on a long queue the
    translation would otherwise be on another page than the one the notice is on."""
    params = {"language": row.source} if _LANGUAGE.fullmatch(row.source) else {}
    return render.back(
        "/translations", "/translations", notice, anchor=f"translation-{row.id}", params=params
    )
