"""The translation engines, one module each; ``pouch.language.translate`` describes them."""

from pouch.language.engines.argos import ArgosEngine
from pouch.language.engines.fasttranslate import FastTranslateEngine
from pouch.language.engines.libretranslate import LibreTranslateEngine
from pouch.language.engines.memory import MemoryEngine

__all__ = ["ArgosEngine", "FastTranslateEngine", "LibreTranslateEngine", "MemoryEngine"]
