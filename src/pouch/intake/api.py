"""The intake API: signed submission (``POST /api/messages``) and sender keys.

A submission must carry both the sender's API token (a ``sender`` of the
sender office) and an RFC 9421 signature, covering the token, the method,
the target URI and the body's Content-Digest, by a key registered to that
office. The route reads the request and renders what ``Intake.submit``
(``intake/flows.py``) returns: 201 with the receipt only once the message is
committed and logged (invariant 1), 200 for a retry with the same
Idempotency-Key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import JSONResponse

from pouch.identity import approvals
from pouch.identity.schemas import PowerRequestOut
from pouch.intake import service as intake_service
from pouch.intake.flows import Intake, SubmissionRequest
from pouch.intake.schemas import SenderKeyIn, SenderKeyOut
from pouch.messages.schemas import AcceptedOut
from pouch.schema import RowId
from pouch.web.deps import AppClock, DbSession, OfficeAdmin

router = APIRouter(prefix="/api", tags=["intake"])


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=AcceptedOut,
    responses={200: {"description": "A retry with the same Idempotency-Key: the same message."}},
)
async def submit_message(
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Submit a message (sender offices). Needs the API token and an RFC 9421 signature."""
    intake: Intake = request.app.state.intake
    submitted = await intake.submit(
        SubmissionRequest(
            method=request.method,
            url=str(request.url),
            headers=list(request.headers.items()),
            body=await request.body(),
            authorization=request.headers.get("authorization"),
            idempotency_key=idempotency_key,
        )
    )
    return JSONResponse(
        submitted.answer,
        status_code=status.HTTP_200_OK if submitted.replayed else status.HTTP_201_CREATED,
        headers={"Location": f"/api/messages/{submitted.message_id}"},
    )


@router.get("/offices/{office_id}/keys", response_model=list[SenderKeyOut])
def list_keys(office_id: RowId, session: DbSession, _: OfficeAdmin) -> list[SenderKeyOut]:
    """The office's signing keys (administrators of the office or of Pouch)."""
    return [
        SenderKeyOut.model_validate(k)
        for k in intake_service.list_keys(session, office_id=office_id)
    ]


@router.post(
    "/offices/{office_id}/keys",
    response_model=SenderKeyOut,
    status_code=201,
    responses={202: {"model": PowerRequestOut, "description": "Waits for a second administrator."}},
)
def register_key(
    office_id: RowId, data: SenderKeyIn, session: DbSession, clock: AppClock, actor: OfficeAdmin
) -> SenderKeyOut | JSONResponse:
    """Register a public key the office will sign submissions with; logged and told to
    the office. Registered by an administrator of Pouch rather than of the office, it
    waits for a second administrator (202)."""
    done = approvals.register_key(
        session,
        actor=actor,
        office_id=office_id,
        key_id=data.key_id,
        public_key=data.raw_public_key(),
        now=clock.now(),
    )
    if isinstance(done, approvals.Asked):
        return JSONResponse(
            PowerRequestOut.model_validate(done.request).model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
        )
    return SenderKeyOut.model_validate(done)


@router.delete("/offices/{office_id}/keys/{key_id}", response_model=SenderKeyOut)
def revoke_key(
    office_id: RowId, key_id: str, session: DbSession, clock: AppClock, actor: OfficeAdmin
) -> SenderKeyOut:
    """Revoke a key: submissions it signs are refused from now on; logged."""
    return SenderKeyOut.model_validate(
        intake_service.revoke_key(
            session, office_id=office_id, key_id=key_id, now=clock.now(), by=actor.user_id
        )
    )
