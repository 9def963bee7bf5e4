"""Language identification of a message, with lingua, restricted to a set of languages.

A ``LanguageDetector`` is built once from a set of ISO 639-1 codes (or
``"all"``) and reused for every message; ``detect(subject, body, declared)``
returns a ``Detection`` and never raises, whatever the text.

The default set
---------------
``DEFAULT_LANGUAGES`` holds 25 languages a foreign ministry meets most:
en fr es de it pt ru zh ja ko ar hi tr pl uk nl sv el he fa id vi th sw ur.
Amharic (am) was on the wish list, but lingua 2.1.1 cannot identify it (none of
its 75 languages is written in the Ethiopic script); Urdu (ur) takes its place,
since an Urdu letter would otherwise be read as Persian or Arabic. A text in
Amharic comes out ``uncertain`` with no language (every language scores 0), so
it reaches a person instead of being mislabelled.

Memory and start-up
-------------------
lingua's models are large, and the builder is slow, so the lingua detector is
built once per configuration and shared by every ``LanguageDetector`` of the
same configuration (and lingua itself loads each model once per process).
By default all models of the set are loaded up front (``preload=True``), so
that memory is paid at start-up rather than at the first message in a new
script, and stays flat afterwards. Measured with ``bench/bench_language.py``
(peak RSS growth of a fresh process while the detector is built, lingua 2.1.1,
x86-64 Linux, 2 CPUs; memory agreed within ~15 % over four runs):

=====================  =============  ============  ========
languages              high accuracy  low accuracy  start-up
=====================  =============  ============  ========
2 (en, fr)             ~120 MB        ~10 MB        1.1 s
5                      ~170 MB        ~14 MB        2.0 s
10                     ~225 MB        ~16 MB        2.8 s
25 (the default set)   ~540 MB        ~33 MB        6.0 s
50                     ~1,020 MB      ~58 MB        13.6 s
75 (``"all"``)         ~1,290 MB      ~76 MB        22.1 s
=====================  =============  ============  ========

Start-up is that of high accuracy, measured with a load average of 9 on the
two CPUs; on the idle machine 25 languages took 3.0 s and all 75 took 8.9 s.
Low accuracy starts in under a second whatever the set.

Memory grows with the set, ~17 MB a language on average but unevenly: the
big languages' models are the largest (English and French alone take
~120 MB). The low-accuracy mode (``low_accuracy=True``) keeps only trigram
models, a fifteenth of the memory, but is much weaker on texts under ~120
characters. With ``preload=False`` a model is loaded when a text first needs
it, so memory grows towards the figures above as traffic arrives. Identifying
a 1 KB message takes about 1 ms of CPU with 25 languages (about 1,000 messages
a CPU-second) and three to four times that with all 75, which weigh more
candidates per script.

How a text is judged
--------------------
1. The subject and the body are joined, and only their first
   ``MAX_ANALYSED_CHARS`` (4,000) characters are analysed: accuracy does not
   improve past a few hundred characters, and a 10 MB body then costs what a
   page costs. Control characters, lone surrogates, private-use and unassigned
   code points and U+FFFD become spaces; the text is NFC-normalised.
2. More than ``JUNK_MAX_INVALID_SHARE`` (5 %) of such characters: binary data,
   ``uncertain``. No letters at all (empty, white space, digits, punctuation):
   ``empty``. Letters under ``JUNK_MAX_NON_LETTER_SHARE`` (half) of the
   visible characters (tables of figures, junk): ``uncertain``.
3. Letters are counted with their combining marks (Thai, Devanagari), and a
   Han, kana or Hangul character, which stands for a syllable or a word,
   counts as ``WIDE_LETTER_WEIGHT`` (3) letters.
4. Whole sentences are gathered into runs of at least ``SEGMENT_MIN_LETTERS``
   (50) letters, at most about ``MAX_SEGMENTS`` (6) runs a text; a run also
   ends at a line break once it has half that, since bilingual letters switch
   language at paragraphs. lingua gives each run a probability per language,
   and a language's confidence is its probability averaged over the runs,
   weighted by their letters. (lingua's probability for a whole long text
   saturates at 1.0 for one language even when half of it is in another;
   averaging runs does not.)
5. A declared language (``"pt-BR"`` counts as ``pt``) wins, status
   ``declared``, when the text supports it: its confidence is above 0 and at
   least ``DECLARED_MIN_RATIO`` (half) of the best language's. It cannot win
   on an empty text, on junk, or when it is not among the detector's languages.
6. Otherwise the text is ``uncertain``, with no language, when it is short
   (fewer than ``SHORT_TEXT_LETTERS``, 20, letters); when it is mixed (runs
   that lingua puts in a second language with at least
   ``SEGMENT_LABEL_CONFIDENCE``, 0.5, hold ``MIXED_MIN_SHARE``, a quarter, of
   the letters); or when the best confidence is under
   ``CERTAIN_MIN_CONFIDENCE`` (0.6). Else it is ``certain``.

On the 25 test languages this identifies every sentence of 20 letters or
more, and finds all 600 ordered pairs of them mixed when the two are written
one after the other. Mixed texts are found with run confidences rather than
lingua's ``detect_multiple_languages_of``: that method ran at ~200 messages/s
on 1 KB messages, a fifth of this, and labels short runs of words with
unrelated languages (Ganda inside a French sentence).

>>> base_code(" pt-BR ")
'pt'
>>> base_code("english") is None
True
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Literal

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
from lingua import LanguageDetector as LinguaDetector

DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "fr", "es", "de", "it", "pt", "ru", "zh", "ja", "ko", "ar", "hi", "tr",
    "pl", "uk", "nl", "sv", "el", "he", "fa", "id", "vi", "th", "sw", "ur",
)  # fmt: skip

#: Every language lingua can identify, by ISO 639-1 code.
SUPPORTED_LANGUAGES: frozenset[str] = frozenset(
    language.iso_code_639_1.name.lower() for language in Language.all()
)

MAX_ANALYSED_CHARS = 4_000
SHORT_TEXT_LETTERS = 20
JUNK_MAX_NON_LETTER_SHARE = 0.5
JUNK_MAX_INVALID_SHARE = 0.05
SEGMENT_MIN_LETTERS = 50
WIDE_LETTER_WEIGHT = 3
MAX_SEGMENTS = 6
SEGMENT_LABEL_CONFIDENCE = 0.5
MIXED_MIN_SHARE = 0.25
CERTAIN_MIN_CONFIDENCE = 0.6
DECLARED_MIN_RATIO = 0.5
MAX_ALTERNATIVES = 3
MIN_ALTERNATIVE_CONFIDENCE = 0.01

_INVALID_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
# Letters are word characters that are not digits; \w has no combining marks.
_LETTER = re.compile(r"[^\W\d_]")
# Neither word characters nor white space: punctuation, symbols, marks, controls.
_OTHER = re.compile(r"[^\w\s]")
_WIDE = re.compile(
    "[\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u9fff"  # CJK ideographs and extension A
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff]"  # CJK extensions B and beyond
)
_SPACE = re.compile(r"\s")
_CODE = re.compile(r"([a-z]{2})(?:[-_][a-z0-9]{1,8})*")
# A sentence ends at . ! ? … (optionally closed by a quote or bracket) before
# white space, at the CJK full stops, and at line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’»)\]])\s+|(?<=[。！？])")


class DetectionStatus(StrEnum):
    CERTAIN = "certain"
    UNCERTAIN = "uncertain"
    DECLARED = "declared"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A language and how likely the text is in it, from 0 to 1."""

    language: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Detection:
    """What the text says about its language.

    ``language`` is set for ``certain`` and ``declared`` only; an ``uncertain``
    text leaves it ``None`` and lists its likeliest languages in
    ``alternatives``. ``confidence`` is that of ``language``, or of the
    likeliest candidate when there is none. ``reason`` says why, in a line.
    """

    language: str | None
    confidence: float
    status: DetectionStatus
    alternatives: tuple[Candidate, ...]
    reason: str


def base_code(code: str) -> str | None:
    """The lower-case ISO 639-1 part of a language tag, or None if it is not one.

    >>> base_code("zh-Hans"), base_code("PT_br"), base_code("fr")
    ('zh', 'pt', 'fr')
    >>> base_code("") is None
    True
    """
    match = _CODE.fullmatch(code.strip().lower())
    return match.group(1) if match else None


@cache
def _lingua_detector(
    codes: frozenset[str] | None, preload: bool, low_accuracy: bool
) -> LinguaDetector:
    """One lingua detector per configuration for the whole process."""
    if codes is None:
        builder = LanguageDetectorBuilder.from_all_languages()
    else:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(IsoCode639_1.from_str(code) for code in sorted(codes))
        )
    if preload:
        builder = builder.with_preloaded_language_models()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


_build_lock = threading.Lock()


def language_set(languages: Iterable[str] | Literal["all"]) -> frozenset[str] | None:
    """The base codes of a set of languages to identify, or None for ``all``.

    >>> sorted(language_set(["pt-BR", "EN"]) or ())
    ['en', 'pt']
    >>> language_set(["en", "xx"])
    Traceback (most recent call last):
    ...
    ValueError: lingua cannot identify xx; supported: ...
    """
    if languages == "all":
        return None
    if isinstance(languages, str):
        raise ValueError(f"languages must be a collection of codes or 'all', not {languages!r}")
    codes = frozenset(base_code(code) or code for code in languages)
    unknown = sorted(codes - SUPPORTED_LANGUAGES)
    if unknown:
        raise ValueError(
            f"lingua cannot identify {', '.join(unknown)}; "
            f"supported: {' '.join(sorted(SUPPORTED_LANGUAGES))}"
        )
    if len(codes) < 2:
        raise ValueError("a language detector needs at least two languages")
    return codes


class LanguageDetector:
    """Identifies the language of messages among a fixed set of languages.

    Thread-safe; build one per process and share it.
    """

    def __init__(
        self,
        languages: Iterable[str] | Literal["all"] = DEFAULT_LANGUAGES,
        *,
        preload: bool = True,
        low_accuracy: bool = False,
    ) -> None:
        codes = language_set(languages)
        self.languages = SUPPORTED_LANGUAGES if codes is None else codes
        with _build_lock:
            self._lingua = _lingua_detector(codes, preload, low_accuracy)
        self._code_of = {
            language: language.iso_code_639_1.name.lower() for language in Language.all()
        }

    def detect(self, subject: str, body: str, declared: str | None = None) -> Detection:
        """The language of a message whose subject and body are given."""
        text, invalid = _analysed_text(subject, body)
        sentences = _sentences(text)
        letters = sum(sentence.letters for sentence in sentences)
        weight = sum(sentence.weight for sentence in sentences)
        visible = sum(sentence.visible for sentence in sentences)
        if invalid > JUNK_MAX_INVALID_SHARE * (visible + invalid):
            return Detection(
                None,
                0.0,
                DetectionStatus.UNCERTAIN,
                (),
                f"looks like binary data ({invalid} control or invalid characters "
                f"among {visible + invalid})",
            )
        if letters == 0:
            return Detection(None, 0.0, DetectionStatus.EMPTY, (), "no letters to identify")
        if letters < visible * (1 - JUNK_MAX_NON_LETTER_SHARE):
            return Detection(
                None,
                0.0,
                DetectionStatus.UNCERTAIN,
                (),
                f"mostly not letters ({letters} letters among {visible} visible characters)",
            )

        scores, shares = self._score(_segments(sentences, weight))
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        best, best_confidence = ranked[0] if ranked else (None, 0.0)

        declared_code = base_code(declared) if declared else None
        if declared_code is not None and best is not None:
            confidence = scores.get(declared_code, 0.0)
            if confidence > 0 and confidence >= DECLARED_MIN_RATIO * best_confidence:
                return Detection(
                    declared_code,
                    round(confidence, 4),
                    DetectionStatus.DECLARED,
                    _alternatives(ranked, without=declared_code),
                    f"declared {declared_code} is supported by the text "
                    f"({confidence:.2f}; best {best} {best_confidence:.2f})",
                )

        if best is None:
            reason = f"none of the {len(self.languages)} languages matches the text"
        elif weight < SHORT_TEXT_LETTERS:
            reason = f"too short to tell ({weight} letters, fewer than {SHORT_TEXT_LETTERS})"
        elif (
            len(present := [code for code, share in shares.items() if share >= MIXED_MIN_SHARE]) > 1
        ):
            reason = "mixed languages: " + ", ".join(
                f"{code} {shares[code]:.0%}" for code in sorted(present, key=lambda c: -shares[c])
            )
        elif best_confidence < CERTAIN_MIN_CONFIDENCE:
            reason = f"low confidence ({best} {best_confidence:.2f})"
        else:
            return Detection(
                best,
                round(best_confidence, 4),
                DetectionStatus.CERTAIN,
                _alternatives(ranked, without=best),
                f"{best} over {weight} letters",
            )
        if declared and declared_code is None:
            reason += f"; declared {declared!r} is not a language code"
        elif declared_code is not None:
            reason += f"; declared {declared_code} is not supported by the text"
        return Detection(
            None,
            round(best_confidence, 4),
            DetectionStatus.UNCERTAIN,
            _alternatives(ranked, without=None),
            reason,
        )

    def _score(self, segments: list[tuple[str, int]]) -> tuple[dict[str, float], dict[str, float]]:
        """Letter-weighted mean confidence per language, and each confident language's share."""
        total = sum(weight for _, weight in segments)
        scores: dict[str, float] = {}
        shares: dict[str, float] = {}
        for segment, weight in segments:
            values = self._lingua.compute_language_confidence_values(segment)
            for value in values:
                if value.value > 0:
                    code = self._code_of[value.language]
                    scores[code] = scores.get(code, 0.0) + value.value * weight / total
            if values and values[0].value >= SEGMENT_LABEL_CONFIDENCE:
                code = self._code_of[values[0].language]
                shares[code] = shares.get(code, 0.0) + weight / total
        return {code: min(1.0, score) for code, score in scores.items()}, shares


def _alternatives(ranked: list[tuple[str, float]], *, without: str | None) -> tuple[Candidate, ...]:
    return tuple(
        Candidate(code, round(confidence, 4))
        for code, confidence in ranked
        if code != without and confidence >= MIN_ALTERNATIVE_CONFIDENCE
    )[:MAX_ALTERNATIVES]


def _analysed_text(subject: str, body: str) -> tuple[str, int]:
    """The cleaned prefix of subject and body that is analysed, and its count of invalid characters.

    Control characters, surrogates, private-use and unassigned code points,
    and U+FFFD left by a failed decoding carry no language (and lone
    surrogates cannot even cross into lingua): they become spaces, and are
    counted, since real text has next to none of them and binary data plenty.
    """
    joined = subject[:MAX_ANALYSED_CHARS] + "\n" + body[: MAX_ANALYSED_CHARS - len(subject)]
    # Only characters that are neither word characters nor white space can be
    # invalid; re finds those in C, and each distinct one is classified once.
    others = _OTHER.findall(joined)
    bad = {char for char in set(others) if _is_invalid(char)}
    if not bad:
        return unicodedata.normalize("NFC", joined), 0
    invalid = sum(char in bad for char in others)
    cleaned = joined.translate({ord(char): " " for char in bad})
    return unicodedata.normalize("NFC", cleaned), invalid


def _is_invalid(char: str) -> bool:
    return char == "\ufffd" or unicodedata.category(char) in _INVALID_CATEGORIES


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    letters: int
    weight: int
    visible: int
    # Where a line ends: bilingual letters switch language at paragraphs.
    ends_line: bool


def _sentences(text: str) -> list[_Sentence]:
    """The sentences of ``text``, line by line, each weighed."""
    sentences: list[_Sentence] = []
    for line in text.split("\n"):
        pieces = [piece for piece in _SENTENCE_END.split(line) if piece and not piece.isspace()]
        for index, piece in enumerate(pieces):
            letters, weight, visible = _weigh(piece)
            sentences.append(_Sentence(piece, letters, weight, visible, index == len(pieces) - 1))
    return sentences


def _weigh(text: str) -> tuple[int, int, int]:
    """Letters, their weight, and visible characters of ``text``.

    Letters include combining marks, which Thai and Devanagari need. A Han,
    kana or Hangul character stands for a word or a syllable rather than a
    sound, so it weighs ``WIDE_LETTER_WEIGHT`` letters.
    """
    # Counting by deletion keeps the loop over characters in C.
    letters = len(text) - len(_LETTER.sub("", text))
    others = _OTHER.findall(text)
    if others:
        marks = {char for char in set(others) if unicodedata.category(char)[0] == "M"}
        letters += sum(char in marks for char in others) if marks else 0
    wide = len(text) - len(_WIDE.sub("", text))
    visible = len(_SPACE.sub("", text))
    return letters, letters + (WIDE_LETTER_WEIGHT - 1) * wide, visible


def _segments(sentences: list[_Sentence], total: int) -> list[tuple[str, int]]:
    """Runs of whole sentences, about MAX_SEGMENTS at most, each with its letter weight.

    Runs are kept long (lingua is slower per character on texts under ~120
    characters, and less sure of them) but end at a line break once they
    reach half the minimum.
    """
    minimum = max(SEGMENT_MIN_LETTERS, total // MAX_SEGMENTS + 1)
    segments: list[tuple[str, int]] = []
    current: list[str] = []
    current_weight = 0
    for sentence in sentences:
        if sentence.weight == 0:
            continue
        current.append(sentence.text)
        current_weight += sentence.weight
        if current_weight >= minimum or (sentence.ends_line and current_weight >= minimum // 2):
            segments.append((" ".join(current), current_weight))
            current, current_weight = [], 0
    if current:
        if segments:
            last, last_weight = segments[-1]
            segments[-1] = (" ".join([last, *current]), last_weight + current_weight)
        else:
            segments.append((" ".join(current), current_weight))
    return segments
