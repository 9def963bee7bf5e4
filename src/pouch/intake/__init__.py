"""Intake: how messages reach Pouch and how their senders are authenticated.

- ``signatures``: HTTP Message Signatures (RFC 9421) with Ed25519 keys that a
  sender office registers, and Content-Digest (RFC 9530) over the exact body;
  the server verifies (``verify_request``), senders sign (``sign_request``).
"""
