"""The message path: accept, route, hold, deliver, read, acknowledge, reply.

Where a reader finds each step: ``acceptance.accept_many`` (acceptance,
office sequence numbers), ``service.deliver`` (delivery to the inbox),
``holds.py`` (requesting, approving, releasing and expiring holds),
``worker.run_due`` (deadlines: automatic delivery, hold expiry, overdue).
Every state change goes through ``service.record`` and so writes exactly one
ledger event.

Who may see and do what is ``access.py`` (pure predicates); what a caller is
shown, ``views.py``; an office's sequence check, ``sequence.py`` (pure). The
web layer: ``api.py`` (JSON), ``watch_pages.py``, ``inbox_pages.py`` and
``track_pages.py`` (pages, sharing ``rendering.py``); the command line,
``cli.py``.
"""
