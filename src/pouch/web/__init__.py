"""The web layer every domain's API and pages share; it knows no business rule.

``deps`` (what a route may ask for: the transaction, the clock, the actor, a
permission), ``problems`` (errors as problem JSON, an htmx fragment or a
page), ``limits`` (the request body limit), ``render`` (a page with its
notice, the redirect after a form), ``format`` (countdowns, runs of numbers,
gaps in plain words), and the ``templates`` and ``static`` files.
"""
