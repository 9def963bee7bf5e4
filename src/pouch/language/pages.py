"""The translators' queue in the browser: ``/translations``.

Translators of the operations office claim a queued (or machine) translation,
read the original beside the draft, and submit the final text or release the
claim; watch officers see the same queue and may release anyone's claim.
Everything works without JavaScript: forms post, the service acts under the
same rules (``pouch.language.access``) as the JSON API, and the browser is
sent back (303) with a fixed notice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pouch.identity.service import Actor
from pouch.language import access
from pouch.language import queue as queue_service
from pouch.language.models import TranslationStatus
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


@router.get("/translations")
def translations_page(request: Request, session: DbSession, actor: QueueReader) -> Response:
    include_machine = request.query_params.get("machine") == "1"
    entries = queue_service.entries(session, include_machine=include_machine)
    # Who holds each claim: the page offers Submit and Release to that translator only.
    claimant_ids = {
        entry.translation.id: entry.translation.translator_user_id
        for entry in entries
        if entry.translation.status == TranslationStatus.CLAIMED
    }
    context: dict[str, Any] = {
        "actor": actor,
        "entries": entries,
        "claimant_ids": claimant_ids,
        "include_machine": include_machine,
        "is_translator": access.translates(actor),
        "may_release_others": access.releases_any_claim(actor),
    }
    return render.page(request, "translations.html", context, notices=NOTICES)


@router.post("/translations/{translation_id}/claim")
def claim(
    translation_id: RowId, session: DbSession, clock: AppClock, actor: Translator
) -> Response:
    queue_service.claim(
        session, translation_id=translation_id, user_id=actor.user_id, now=clock.now()
    )
    return render.back(
        "/translations", "/translations", "claimed", anchor=f"translation-{translation_id}"
    )


@router.post("/translations/{translation_id}/submit")
def submit(
    translation_id: RowId,
    session: DbSession,
    clock: AppClock,
    actor: Translator,
    subject: Annotated[str, Form(min_length=1, max_length=1000)],
    body: Annotated[str, Form(max_length=1_000_000)],
) -> Response:
    queue_service.submit(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        # One line, so that the stored text splits back exactly.
        subject=" ".join(subject.split()),
        body=body.replace("\r\n", "\n"),
        source=None,
        now=clock.now(),
    )
    return render.back(
        "/translations", "/translations", "submitted", anchor=f"translation-{translation_id}"
    )


@router.post("/translations/{translation_id}/release")
def release(translation_id: RowId, session: DbSession, actor: QueueReader) -> Response:
    queue_service.release(
        session,
        translation_id=translation_id,
        user_id=actor.user_id,
        may_release_others=access.releases_any_claim(actor),
    )
    return render.back(
        "/translations", "/translations", "released", anchor=f"translation-{translation_id}"
    )
