"""The message path's permissions as route dependencies, for its API and its pages.

The rules are ``access.py``'s; here they are stated once as what a route asks
for. A page asked for without a session sends the browser to log in
(``QueueReaderPage``); an API call, or a form posted, without one is 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from pouch.identity.service import Actor
from pouch.messages import access
from pouch.web.deps import Allow, AllowPage

_ACT = "only the watch officers act on the queue"
_READ = "the watch floor is for watch officers and auditors"

#: Routes, holds, approves, releases, quarantines.
WatchOfficer = Annotated[Actor, Depends(Allow(access.may_act_on_queue, _ACT))]
#: Reads the queue: watch officers, and auditors read-only.
QueueReader = Annotated[Actor, Depends(Allow(access.may_read_queue, _READ))]
QueueReaderPage = Annotated[Actor, Depends(AllowPage(access.may_read_queue, _READ))]
#: Auditors and administrators: the outbox and the worker's failures.
OperationsWatcher = Annotated[
    Actor,
    Depends(Allow(access.may_read_operations, "only auditors and administrators see the outbox")),
]
#: Follows the messages its office sent or received.
TrackerPage = Annotated[
    Actor,
    Depends(AllowPage(access.may_use_tracking, "tracking is for the senders of an office")),
]
