"""Intake: how messages reach Pouch and how their senders are authenticated.

- ``flows``: ``Intake``, a signed submission from the request's bytes to its
  receipt (built once in ``create_app``; ``api`` only reads and renders).
- ``signatures``: HTTP Message Signatures (RFC 9421) with Ed25519 keys that a
  sender office registers, and Content-Digest (RFC 9530) over the exact body;
  the server verifies (``verify_request``), senders sign (``sign_request``);
  the one parser of a registered public key (``parse_public_key``).
- ``credentials``: a sender's token and key remembered between submissions,
  and checked again at every commit.
- ``service``: sender keys, nonces, and ``accept_signed`` (a group commit's
  batch of verified submissions accepted at once).
- ``access``: who may submit for which office.
"""
