"""Preparing the principal for each call, and running the call itself.

- ``states.py`` (pure): the call's states and the clearance of papers, what may follow what.
- ``models.py``: a call's record (its steps, its participants and their check-ins), its
  briefing (talking points and background, every version), the packets issued from it
  (the PDF and its SHA-256), its memorandum of conversation (every version).
- ``access.py``: who sees a call's papers and who may act on them (never a sender office).
- ``progress.py``: the call's transitions, each one event in the log; a missed or
  rescheduled call goes back to the scheduler as a follow-up request.
- ``papers.py``: drafting, submitting, clearing or returning a briefing or a memcon.
- ``packet.py``: what a packet says, gathered from the desk, the directory and the mail;
  ``typeset.py``: the PDF (typst, the data passed as JSON inputs, never as markup).
- ``api.py``, ``pages.py``, ``cli.py``: thin.
"""
