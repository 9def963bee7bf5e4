"""The message path: accept, route, hold, deliver, read, acknowledge, reply.

Where a reader finds each step: ``acceptance.accept_many`` (acceptance,
office sequence numbers), ``service.deliver`` (delivery to the inbox),
``holds.py`` (requesting, approving, releasing and expiring holds),
``worker.run_due`` (deadlines: automatic delivery, hold expiry, overdue).
Every state change goes through ``service.record`` and so writes exactly one
ledger event.
"""
