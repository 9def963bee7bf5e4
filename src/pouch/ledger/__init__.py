"""The transparency log: every event of Pouch is a leaf of one append-only tree.

The pure wire-format modules, standard library and ``cryptography`` only:

- ``merkle``: RFC 6962/9162 hashing, inclusion and consistency proofs, and
  ``CompactRange``, the O(log n) right edge the sequencer extends.
- ``layout``: c2sp.org/tlog-tiles tiles, entry bundles and their paths.
- ``note``: c2sp.org/signed-note keys and notes, and c2sp.org/tlog-cosignature
  (cosignature/v1) witness cosignatures.
- ``checkpoint``: c2sp.org/tlog-checkpoint signed tree heads.
- ``receipt``: c2sp.org/tlog-proof@v1 receipts a sender verifies offline.
- ``errors``: the ``LedgerFormatError`` tree they raise.

Import the module, not its names: ``from pouch.ledger import merkle`` then
``merkle.verify_inclusion(...)``, so each call shows which format it speaks.
"""
