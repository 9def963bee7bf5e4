"""The Argos Translate engine, for installations with the ``argostranslate`` extra.

``argostranslate`` is optional and imported only when the engine is first
used. The engine is available when the package imports and at least one of its
translation packages (``argospm install translate-en_de``) is on disk, in
``~/.local/share/argos-translate/packages`` or ``ARGOS_PACKAGES_DIR``; otherwise
``languages`` and ``translate`` raise ``EngineUnavailable`` saying which of the
two is missing. It lists only the pairs its packages translate directly:
pivoting is the chain's job, so that it shows in the credit line. What is
installed is read once per engine; build a new engine to see new packages.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType

from pouch.language.detect import base_code
from pouch.language.translate import (
    EngineFailed,
    EngineUnavailable,
    Pair,
    Translation,
    UnsupportedPair,
)


@dataclass(frozen=True, slots=True)
class _Installed:
    translate_module: ModuleType
    # ISO 639-1 pair -> Argos's own codes for it.
    pairs: dict[Pair, tuple[str, str]]
    version: str


class ArgosEngine:
    """Translates with the Argos Translate packages installed on this machine."""

    name = "argos"

    def __init__(self) -> None:
        # What is installed, or why nothing is; found once.
        self._installed: _Installed | str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """The version of argostranslate, or ``not installed``."""
        try:
            return metadata.version("argostranslate")
        except metadata.PackageNotFoundError:
            return "not installed"

    def languages(self) -> frozenset[Pair]:
        return frozenset(self._load().pairs)

    def translate(self, text: str, source: str, target: str) -> Translation:
        installed = self._load()
        codes = installed.pairs.get((source, target))
        if codes is None:
            raise UnsupportedPair(self.name, f"no Argos package translates {source}->{target}")
        if not text.strip():
            return Translation(text, source, target, self.name, installed.version)
        try:
            translation = installed.translate_module.get_translation_from_codes(*codes)
            translated = translation.translate(text)
        except Exception as error:
            raise EngineFailed(self.name, f"{type(error).__name__}: {error}") from error
        if not isinstance(translated, str) or not translated.strip():
            raise EngineFailed(self.name, f"Argos returned {translated!r} for a non-empty text")
        return Translation(translated, source, target, self.name, installed.version)

    def _load(self) -> _Installed:
        with self._lock:
            if self._installed is None:
                self._installed = self._find()
            if isinstance(self._installed, str):
                raise EngineUnavailable(self.name, self._installed)
            return self._installed

    def _find(self) -> _Installed | str:
        try:
            package_module = importlib.import_module("argostranslate.package")
            translate_module = importlib.import_module("argostranslate.translate")
        except ImportError as error:
            return (
                f"argostranslate is not installed ({error}); "
                "install Pouch with the 'argos' extra to use it"
            )
        try:
            packages = package_module.get_installed_packages()
        except Exception as error:
            return f"cannot list the Argos packages: {type(error).__name__}: {error}"
        pairs: dict[Pair, tuple[str, str]] = {}
        for package in packages:
            if getattr(package, "type", "translate") != "translate":
                continue
            from_code, to_code = str(package.from_code), str(package.to_code)
            source, target = base_code(from_code), base_code(to_code)
            if source and target and source != target:
                pairs.setdefault((source, target), (from_code, to_code))
        if not pairs:
            return (
                "argostranslate is installed but no translation package is on disk; "
                "install some with `argospm install translate-<from>_<to>`"
            )
        return _Installed(translate_module, pairs, self.version)
