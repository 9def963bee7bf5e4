"""``pouch monitor``: each party checks Pouch on its own machine (invariant 7).

An addressee office or a sender office runs it with its API token, the log's
key (and the witness policy), and its office tag keys; it trusts nothing the
server says that it cannot check against the log. Its modules:

- ``logview``: the log, extended one poll at a time (checkpoints, tiles, root);
- ``keys``: the office's tag key history, as its administrator keeps it;
- ``party``: what the log says about the office (pure): its entries found by
  their tags, the dossier of each message, the alarms that follow;
- ``content``: the content hash of what a sender kept of what it sent;
- ``client``: what it asks Pouch's API;
- ``state``: its state directory (plain files, replaced atomically);
- ``alarms`` and ``alerts``: what it found, and who is told, once;
- ``service``: one poll, and the loop; ``cli``: the command.

Errors::

    Unreachable       the server did not answer (the poll ends, the state is kept)
    LogProblem        the log as served does not check (carries its Alarm)
    StateProblem      the state directory cannot be used (exit 2)
    AlertFailed       a channel did not take an alert (tried again next poll)
"""
