"""What may follow what: a call's states, and the clearance of its papers (pure).

A call::

    scheduled ─► confirmed ─► placing ─► connected ─► completed
        │            │           │
        │            │           └─► missed
        │            ├─► missed
        └────────────┴─► rescheduled, cancelled

A paper (briefing or memcon)::

    draft ─► submitted ─► cleared          (a memcon cleared is filed)
      ▲          │
      └─returned◄┘   (with the clearing officer's comments; edited, submitted again)

A cleared briefing edited again starts a new draft; its packet stays issued.
"""

from __future__ import annotations

import enum


class CallState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    PLACING = "placing"
    CONNECTED = "connected"
    COMPLETED = "completed"
    MISSED = "missed"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


class Mode(enum.StrEnum):
    PHONE = "phone"
    VIDEO = "video"


class ParticipantKind(enum.StrEnum):
    INTERPRETER = "interpreter"
    NOTETAKER = "notetaker"
    CLEARING = "clearing"


class Clearance(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    CLEARED = "cleared"


NEXT: dict[CallState, frozenset[CallState]] = {
    CallState.SCHEDULED: frozenset(
        {CallState.CONFIRMED, CallState.RESCHEDULED, CallState.CANCELLED}
    ),
    CallState.CONFIRMED: frozenset(
        {CallState.PLACING, CallState.MISSED, CallState.RESCHEDULED, CallState.CANCELLED}
    ),
    CallState.PLACING: frozenset({CallState.CONNECTED, CallState.MISSED}),
    CallState.CONNECTED: frozenset({CallState.COMPLETED}),
    CallState.COMPLETED: frozenset(),
    CallState.MISSED: frozenset(),
    CallState.RESCHEDULED: frozenset(),
    CallState.CANCELLED: frozenset(),
}

#: States after which the call goes back to the scheduler as a follow-up request.
BACK_TO_SCHEDULER = frozenset({CallState.MISSED, CallState.RESCHEDULED})
#: States in which interpreters and notetakers check in.
CHECK_IN_STATES = frozenset({CallState.SCHEDULED, CallState.CONFIRMED, CallState.PLACING})
#: States in which notetakers draft the memcon: during or after the call.
MEMCON_STATES = frozenset({CallState.CONNECTED, CallState.COMPLETED})


def may_move(current: CallState, target: CallState) -> bool:
    """Whether a call in ``current`` may move to ``target``.

    >>> may_move(CallState.CONFIRMED, CallState.PLACING)
    True
    >>> may_move(CallState.SCHEDULED, CallState.CONNECTED)
    False
    >>> may_move(CallState.COMPLETED, CallState.CANCELLED)
    False
    """
    return target in NEXT[current]


def refusal(current: CallState, target: CallState) -> str:
    """Why a move is refused, naming what may follow.

    >>> refusal(CallState.SCHEDULED, CallState.CONNECTED)
    'a scheduled call cannot become connected; it may become: cancelled, confirmed, rescheduled'
    >>> refusal(CallState.COMPLETED, CallState.PLACING)
    'a completed call cannot become placing; nothing follows completed'
    """
    allowed = sorted(NEXT[current])
    if not allowed:
        return f"a {current} call cannot become {target}; nothing follows {current}"
    return f"a {current} call cannot become {target}; it may become: {', '.join(allowed)}"


PAPER_NEXT: dict[Clearance, frozenset[Clearance]] = {
    Clearance.DRAFT: frozenset({Clearance.SUBMITTED}),
    Clearance.SUBMITTED: frozenset({Clearance.CLEARED, Clearance.RETURNED}),
    Clearance.RETURNED: frozenset({Clearance.SUBMITTED}),
    Clearance.CLEARED: frozenset(),
}

#: Clearances in which a paper may be edited (a cleared briefing too: a new draft).
EDITABLE = frozenset({Clearance.DRAFT, Clearance.RETURNED})


def may_clear(current: Clearance, target: Clearance) -> bool:
    """Whether a paper in ``current`` may move to ``target``.

    >>> may_clear(Clearance.SUBMITTED, Clearance.CLEARED)
    True
    >>> may_clear(Clearance.DRAFT, Clearance.CLEARED)
    False
    """
    return target in PAPER_NEXT[current]


def too_many_points(points: int, limit: int) -> str | None:
    """The flag a briefing carries when it has more talking points than advised.

    >>> too_many_points(3, 5) is None
    True
    >>> too_many_points(7, 5)
    '7 talking points: more than the 5 advised'
    """
    if points <= limit:
        return None
    return f"{points} talking points: more than the {limit} advised"
