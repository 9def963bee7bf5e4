"""Language identification: real sentences in the 25 default languages, the rules, bad input."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pouch.language import detect
from pouch.language.detect import (
    DEFAULT_LANGUAGES,
    MAX_ANALYSED_CHARS,
    SUPPORTED_LANGUAGES,
    Detection,
    DetectionStatus,
    LanguageDetector,
)

# Two sentences a foreign ministry might receive, in each default language:
# thanks for a letter and a meeting next month, and a time for a call.
SENTENCES: dict[str, tuple[str, str]] = {
    "en": (
        "The Prime Minister thanks the President for her kind letter and looks forward"
        " to meeting her in Geneva next month.",
        "Could the telephone call take place on Thursday morning at ten o'clock?",
    ),
    "fr": (
        "Le ministre des Affaires étrangères remercie l'ambassadeur pour sa lettre et se"
        " réjouit de le rencontrer à Paris la semaine prochaine.",
        "L'entretien téléphonique pourrait-il avoir lieu jeudi matin à dix heures ?",
    ),
    "es": (
        "El presidente agradece al embajador su amable carta y espera reunirse con él en"
        " Madrid el próximo mes.",
        "¿Podría celebrarse la llamada telefónica el jueves por la mañana a las diez?",
    ),
    "de": (
        "Die Bundeskanzlerin dankt dem Botschafter für seinen freundlichen Brief und freut"
        " sich auf das Treffen in Berlin im nächsten Monat.",
        "Könnte das Telefonat am Donnerstagvormittag um zehn Uhr stattfinden?",
    ),
    "it": (
        "Il ministro degli Esteri ringrazia l'ambasciatore per la sua gentile lettera e"
        " spera di incontrarlo a Roma il mese prossimo.",
        "La telefonata potrebbe svolgersi giovedì mattina alle dieci?",
    ),
    "pt": (
        "O presidente agradece ao embaixador a sua amável carta e espera encontrá-lo em"
        " Lisboa no próximo mês.",
        "A chamada telefónica poderia realizar-se na quinta-feira de manhã, às dez horas?",
    ),
    "ru": (
        "Министр иностранных дел благодарит посла за его любезное письмо и надеется"
        " встретиться с ним в Москве в следующем месяце.",
        "Не мог бы телефонный разговор состояться в четверг в десять часов утра?",
    ),
    "zh": (
        "外交部长感谢大使的亲切来信，并期待下个月在北京与他会面。",
        "电话会谈能否安排在星期四上午十点？",
    ),
    "ja": (
        "外務大臣は大使からの丁寧なお手紙に感謝し、来月東京でお会いできることを楽しみにしています。",
        "電話会談は木曜日の午前十時に行うことは可能でしょうか。",
    ),
    "ko": (
        "외교부 장관은 대사의 친절한 편지에 감사하며 다음 달 서울에서 만나기를 고대하고 있습니다.",
        "전화 통화를 목요일 오전 열 시에 할 수 있을까요?",
    ),
    "ar": (
        "يشكر وزير الخارجية السفير على رسالته الكريمة ويتطلع إلى لقائه في القاهرة الشهر المقبل.",
        "هل يمكن إجراء المكالمة الهاتفية يوم الخميس في الساعة العاشرة صباحاً؟",
    ),
    "hi": (
        "विदेश मंत्री राजदूत को उनके विनम्र पत्र के लिए धन्यवाद देते हैं और अगले महीने दिल्ली में"
        " उनसे मिलने की आशा करते हैं।",
        "क्या टेलीफ़ोन पर बातचीत गुरुवार सुबह दस बजे हो सकती है?",
    ),
    "tr": (
        "Dışişleri Bakanı, nazik mektubu için büyükelçiye teşekkür eder ve önümüzdeki ay"
        " Ankara'da kendisiyle görüşmeyi dört gözle bekler.",
        "Telefon görüşmesi perşembe sabahı saat onda yapılabilir mi?",
    ),
    "pl": (
        "Minister spraw zagranicznych dziękuje ambasadorowi za uprzejmy list i z"
        " niecierpliwością czeka na spotkanie w Warszawie w przyszłym miesiącu.",
        "Czy rozmowa telefoniczna mogłaby się odbyć w czwartek o dziesiątej rano?",
    ),
    "uk": (
        "Міністр закордонних справ дякує послові за його люб'язний лист і сподівається"
        " зустрітися з ним у Києві наступного місяця.",
        "Чи могла б телефонна розмова відбутися в четвер о десятій ранку?",
    ),
    "nl": (
        "De minister van Buitenlandse Zaken bedankt de ambassadeur voor zijn vriendelijke"
        " brief en kijkt ernaar uit hem volgende maand in Den Haag te ontmoeten.",
        "Zou het telefoongesprek donderdagochtend om tien uur kunnen plaatsvinden?",
    ),
    "sv": (
        "Utrikesministern tackar ambassadören för hans vänliga brev och ser fram emot att"
        " träffa honom i Stockholm nästa månad.",
        "Skulle telefonsamtalet kunna äga rum på torsdag förmiddag klockan tio?",
    ),
    "el": (
        "Ο υπουργός Εξωτερικών ευχαριστεί τον πρέσβη για την ευγενική επιστολή του και"
        " ανυπομονεί να τον συναντήσει στην Αθήνα τον επόμενο μήνα.",
        "Θα μπορούσε η τηλεφωνική συνομιλία να γίνει την Πέμπτη στις δέκα το πρωί;",
    ),
    "he": (
        "שר החוץ מודה לשגריר על מכתבו האדיב ומצפה לפגוש אותו בירושלים בחודש הבא.",
        "האם שיחת הטלפון תוכל להתקיים ביום חמישי בשעה עשר בבוקר?",
    ),
    "fa": (
        "وزیر امور خارجه از سفیر برای نامه محبت‌آمیزش تشکر می‌کند و مشتاق دیدار با او در"
        " تهران در ماه آینده است.",
        "آیا گفتگوی تلفنی می‌تواند روز پنجشنبه ساعت ده صبح انجام شود؟",
    ),
    "id": (
        "Menteri Luar Negeri berterima kasih kepada duta besar atas suratnya yang baik dan"
        " berharap dapat bertemu dengannya di Jakarta bulan depan.",
        "Apakah pembicaraan telepon dapat dilakukan pada hari Kamis pukul sepuluh pagi?",
    ),
    "vi": (
        "Bộ trưởng Ngoại giao cảm ơn đại sứ về bức thư ân cần và mong được gặp ông tại"
        " Hà Nội vào tháng tới.",
        "Cuộc điện đàm có thể diễn ra vào lúc mười giờ sáng thứ Năm được không?",
    ),
    "th": (
        "รัฐมนตรีว่าการกระทรวงการต่างประเทศขอขอบคุณเอกอัครราชทูตสำหรับจดหมายอันอบอุ่น"
        " และหวังว่าจะได้พบท่านที่กรุงเทพฯ ในเดือนหน้า",
        "การสนทนาทางโทรศัพท์จะจัดขึ้นในวันพฤหัสบดีเวลาสิบโมงเช้าได้หรือไม่",
    ),
    "sw": (
        "Waziri wa Mambo ya Nje anamshukuru balozi kwa barua yake nzuri na anatarajia"
        " kukutana naye jijini Nairobi mwezi ujao.",
        "Je, mazungumzo ya simu yanaweza kufanyika Alhamisi asubuhi saa nne?",
    ),
    "ur": (
        "وزیر خارجہ سفیر کا ان کے مہربان خط کے لیے شکریہ ادا کرتے ہیں اور اگلے مہینے"
        " اسلام آباد میں ان سے ملاقات کے منتظر ہیں۔",
        "کیا ٹیلی فون پر بات چیت جمعرات کی صبح دس بجے ہو سکتی ہے؟",
    ),
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def test_the_sentences_cover_the_default_languages() -> None:
    assert set(SENTENCES) == set(DEFAULT_LANGUAGES)
    assert len(DEFAULT_LANGUAGES) == 25
    assert "am" not in SUPPORTED_LANGUAGES  # hence Urdu in its place


@pytest.mark.parametrize("language", DEFAULT_LANGUAGES)
def test_one_sentence_is_identified(detector: LanguageDetector, language: str) -> None:
    found = detector.detect("", SENTENCES[language][0])
    assert (found.language, found.status) == (language, DetectionStatus.CERTAIN), found.reason
    assert found.confidence >= 0.9


@pytest.mark.parametrize("language", DEFAULT_LANGUAGES)
def test_a_short_message_is_identified(detector: LanguageDetector, language: str) -> None:
    first, second = SENTENCES[language]
    found = detector.detect(first, second)
    assert (found.language, found.status) == (language, DetectionStatus.CERTAIN), found.reason
    assert all(alternative.language != language for alternative in found.alternatives)


def test_every_language_option_identifies_the_sentences() -> None:
    # Low accuracy and not preloaded: 75 full models would take over 1 GB and
    # ~10 s (the benchmark measures them); two sentences are long enough for
    # the trigram models alone.
    everything = LanguageDetector("all", preload=False, low_accuracy=True)
    assert everything.languages == SUPPORTED_LANGUAGES
    wrong = {
        language: found.reason
        for language, (first, second) in SENTENCES.items()
        if (found := everything.detect(first, second)).language != language
    }
    assert wrong == {}


def test_a_restricted_set_only_answers_within_it() -> None:
    romance = LanguageDetector(["fr", "es", "it"])
    assert romance.languages == {"fr", "es", "it"}
    found = romance.detect("", SENTENCES["pt"][0])
    assert found.language in (None, "es", "fr", "it")
    assert romance.detect("", SENTENCES["fr"][0]).language == "fr"


def test_detectors_of_one_configuration_share_lingua() -> None:
    # The expensive lingua detector is built once per configuration.
    assert LanguageDetector()._lingua is LanguageDetector(list(DEFAULT_LANGUAGES))._lingua
    assert LanguageDetector()._lingua is not LanguageDetector(["en", "fr"])._lingua


@pytest.mark.parametrize(
    ("languages", "message"),
    [
        (["en", "am"], "lingua cannot identify am"),
        (["en", "xx"], "lingua cannot identify xx"),
        (["en"], "at least two languages"),
        ("en", "a collection of codes or 'all'"),
    ],
)
def test_a_bad_language_set_is_refused(languages: list[str] | str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LanguageDetector(languages)


def test_codes_with_a_region_are_accepted_in_the_set() -> None:
    assert LanguageDetector(["pt-BR", "EN"]).languages == {"pt", "en"}


# Declared languages.


def test_a_declared_language_the_text_supports_wins(detector: LanguageDetector) -> None:
    found = detector.detect("", SENTENCES["pt"][1], declared="pt-BR")
    assert (found.language, found.status) == ("pt", DetectionStatus.DECLARED)
    assert "supported by the text" in found.reason


def test_a_declared_language_wins_on_a_close_call(detector: LanguageDetector) -> None:
    # "Merci" alone is as much Italian as French to lingua, but French is not far below.
    found = detector.detect("", "Merci", declared="fr")
    assert (found.language, found.status) == ("fr", DetectionStatus.DECLARED)
    best = found.alternatives[0].confidence
    assert found.confidence >= detect.DECLARED_MIN_RATIO * best


def test_a_declared_language_the_text_contradicts_loses(detector: LanguageDetector) -> None:
    found = detector.detect("", " ".join(SENTENCES["es"]), declared="pt")
    assert (found.language, found.status) == ("es", DetectionStatus.CERTAIN)
    short = detector.detect("", "Merci", declared="ja")
    assert (short.language, short.status) == (None, DetectionStatus.UNCERTAIN)
    assert "declared ja is not supported by the text" in short.reason


def test_a_declared_language_outside_the_set_cannot_win(detector: LanguageDetector) -> None:
    amharic = "የኢትዮጵያ ፌዴራላዊ ዴሞክራሲያዊ ሪፐብሊክ የውጭ ጉዳይ ሚኒስቴር ለአምባሳደሩ ደብዳቤ ምስጋናውን ያቀርባል።"
    found = detector.detect("", amharic, declared="am")
    assert (found.language, found.status) == (None, DetectionStatus.UNCERTAIN)
    assert "none of the 25 languages" in found.reason


def test_a_declared_value_that_is_no_code_is_ignored(detector: LanguageDetector) -> None:
    found = detector.detect("", SENTENCES["de"][0], declared="German")
    assert (found.language, found.status) == ("de", DetectionStatus.CERTAIN)
    short = detector.detect("", "Danke", declared="Deutsch!")
    assert "'Deutsch!' is not a language code" in short.reason


def test_a_declared_language_cannot_fill_an_empty_text(detector: LanguageDetector) -> None:
    assert detector.detect("", "   ", declared="fr").status is DetectionStatus.EMPTY


# Short and mixed texts are uncertain rather than guessed.


@pytest.mark.parametrize("text", ["Merci", "Danke schön", "OK", "日本語", "Привет"])
def test_a_short_text_is_uncertain(detector: LanguageDetector, text: str) -> None:
    found = detector.detect("", text)
    assert (found.language, found.status) == (None, DetectionStatus.UNCERTAIN)
    assert found.reason.startswith("too short to tell")
    assert found.alternatives, "the likeliest languages are still listed"


def test_a_wide_character_counts_as_several_letters(detector: LanguageDetector) -> None:
    # 17 Han characters are a whole sentence: not short.
    found = detector.detect("", SENTENCES["zh"][1])
    assert (found.language, found.status) == ("zh", DetectionStatus.CERTAIN)


@pytest.mark.parametrize(
    ("first", "second"), [("en", "fr"), ("de", "pl"), ("zh", "ja"), ("ar", "he"), ("ru", "uk")]
)
def test_a_bilingual_message_is_uncertain(
    detector: LanguageDetector, first: str, second: str
) -> None:
    body = " ".join(SENTENCES[first]) + "\n\n" + " ".join(SENTENCES[second])
    found = detector.detect("", body)
    assert (found.language, found.status) == (None, DetectionStatus.UNCERTAIN)
    assert found.reason.startswith("mixed languages")
    assert {first, second} <= {alternative.language for alternative in found.alternatives}


def test_every_pair_of_languages_is_found_mixed(detector: LanguageDetector) -> None:
    missed = [
        (first, second)
        for first in DEFAULT_LANGUAGES
        for second in DEFAULT_LANGUAGES
        if first != second
        and not detector.detect(
            "", " ".join(SENTENCES[first]) + "\n" + " ".join(SENTENCES[second])
        ).reason.startswith("mixed")
    ]
    assert missed == []


def test_a_short_quotation_does_not_make_a_letter_mixed(detector: LanguageDetector) -> None:
    letter = "\n".join([" ".join(SENTENCES["en"])] * 5 + [SENTENCES["fr"][1]])
    found = detector.detect("", letter)
    assert (found.language, found.status) == ("en", DetectionStatus.CERTAIN)


def test_the_subject_counts(detector: LanguageDetector) -> None:
    found = detector.detect(SENTENCES["it"][0], "")
    assert (found.language, found.status) == ("it", DetectionStatus.CERTAIN)


# Bad input: never an exception.


@pytest.mark.parametrize("text", ["", "   \n\t\r ", "12345 678", "!!! ??? ...", "🇫🇷 🤝 🇧🇷"])
def test_a_text_without_letters_is_empty(detector: LanguageDetector, text: str) -> None:
    found = detector.detect(text, text)
    assert found == Detection(None, 0.0, DetectionStatus.EMPTY, (), "no letters to identify")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8", "utf-16-le", "utf-32-le"])
def test_binary_junk_is_uncertain(detector: LanguageDetector, encoding: str) -> None:
    # Decoded as a careless intake might: every byte a character, or errors replaced.
    junk = random.Random(6).randbytes(5_000).decode(encoding, "replace")
    found = detector.detect("", junk)
    assert (found.language, found.status) == (None, DetectionStatus.UNCERTAIN)
    assert found.reason.startswith("looks like binary data")


def test_a_few_control_characters_are_not_junk(detector: LanguageDetector) -> None:
    found = detector.detect("", "\x00\x01\x02")
    assert found.reason.startswith("looks like binary data")
    text = "\x0c" + " ".join(SENTENCES["pl"]) + "\x00\ufffd"
    assert detector.detect("", text).language == "pl"


def test_a_table_of_figures_is_uncertain(detector: LanguageDetector) -> None:
    found = detector.detect("", "Tel. +33 1 43 17 53 53 / fax +33 1 43 17 52 03 / 2026-11-05")
    assert (found.language, found.status) == (None, DetectionStatus.UNCERTAIN)
    assert found.reason.startswith("mostly not letters")


def test_lone_surrogates_and_controls_are_ignored(detector: LanguageDetector) -> None:
    text = "\ud800" + SENTENCES["sv"][0].replace(" ", " \x07\udfff ", 1) + "\x00"
    found = detector.detect("\udc80", text)
    assert (found.language, found.status) == ("sv", DetectionStatus.CERTAIN)


def test_ten_megabytes_take_no_longer_than_a_page(detector: LanguageDetector) -> None:
    huge = (" ".join(SENTENCES["nl"]) + "\n") * (10_000_000 // 200)
    assert len(huge) > 10_000_000
    start = time.perf_counter()
    found = detector.detect("Verslag", huge)
    assert time.perf_counter() - start < 0.5
    assert (found.language, found.status) == ("nl", DetectionStatus.CERTAIN)


def test_only_the_prefix_is_analysed(detector: LanguageDetector) -> None:
    english = (" ".join(SENTENCES["en"]) + "\n") * (MAX_ANALYSED_CHARS // 150)
    assert len(english) >= MAX_ANALYSED_CHARS - 200
    found = detector.detect("", english + " ".join(SENTENCES["fr"]) * 100)
    assert found.language == "en"


@settings(max_examples=300, deadline=None)
@given(
    subject=st.text(max_size=50),
    body=st.one_of(
        st.text(),
        st.text(st.characters(categories=["L", "M", "N", "P", "Z", "Cc", "Cs", "Co", "Cn"])),
        st.binary().map(lambda junk: junk.decode("latin-1")),
    ),
    declared=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(DEFAULT_LANGUAGES)),
)
def test_any_text_gets_a_detection(
    detector: LanguageDetector, subject: str, body: str, declared: str | None
) -> None:
    found = detector.detect(subject, body, declared)
    assert 0.0 <= found.confidence <= 1.0
    assert (found.language is None) == (
        found.status in (DetectionStatus.UNCERTAIN, DetectionStatus.EMPTY)
    )
    assert found.language is None or found.language in DEFAULT_LANGUAGES
    assert all(0 < alternative.confidence <= 1 for alternative in found.alternatives)
    assert found.reason
