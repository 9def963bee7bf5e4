"""The in-memory engine: a phrasebook of known translations, for tests and the demo.

It translates exactly the texts it holds (after trimming white space) and
fails on any other, as a real engine fails on a text it cannot handle.

>>> engine = MemoryEngine({("fr", "en"): {"Merci.": "Thank you."}})
>>> engine.translate(" Merci. ", "fr", "en").text
'Thank you.'
>>> sorted(engine.languages())
[('fr', 'en')]
"""

from __future__ import annotations

from collections.abc import Mapping

from pouch.language.translate import EngineFailed, Pair, Translation, UnsupportedPair


class MemoryEngine:
    """Translates the phrases it was given, pair by pair."""

    def __init__(
        self,
        phrases: Mapping[Pair, Mapping[str, str]],
        *,
        name: str = "memory",
        version: str = "1",
    ) -> None:
        self.name = name
        self.version = version
        self._phrases = {
            pair: {source.strip(): target for source, target in book.items()}
            for pair, book in phrases.items()
        }

    def languages(self) -> frozenset[Pair]:
        return frozenset(self._phrases)

    def translate(self, text: str, source: str, target: str) -> Translation:
        book = self._phrases.get((source, target))
        if book is None:
            raise UnsupportedPair(self.name, f"has no phrasebook for {source}->{target}")
        if not text.strip():
            return Translation(text, source, target, self.name, self.version)
        translated = book.get(text.strip())
        if translated is None:
            raise EngineFailed(
                self.name, f"no phrase for {text.strip()[:60]!r} in {source}->{target}"
            )
        return Translation(translated, source, target, self.name, self.version)
