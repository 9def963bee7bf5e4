"""Mail intake: letters by e-mail into the same message path as the HTTP API.

The bytes are stored and their ``received`` event logged before anything reads
them; then the sender is authenticated (DKIM, ARC, DMARC alignment, kept as
evidence), the addressee office is found from the recipient address, and the
mail is accepted as a message (``messages.acceptance``) or quarantined for a
watch officer, never dropped.
"""
