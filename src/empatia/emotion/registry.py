"""The analyzer registry: the ``empatia.analyzers`` entry points, built-in analyzers included.

>>> sorted(ANALYZERS)
['encoder', 'fast', 'transformers']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from empatia.emotion.exceptions import UnknownAnalyzerError
from empatia.plugins import Registry


class Analyzer(Protocol):
    name: str
    version: str

    @property
    def key(self) -> str: ...

    def analyze(self, texts: Any, hints: Any = None, sentences: bool = True) -> list[Any]: ...


ANALYZERS: Registry[Callable[..., Analyzer]] = Registry("empatia.analyzers")
_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], Analyzer] = {}


def register_analyzer(name: str, factory: Callable[..., Analyzer]) -> None:
    """Make ``factory(**options)`` available as analyzer ``name`` in this process (a package
    registers one for good as an ``empatia.analyzers`` entry point)."""
    ANALYZERS.add(name, factory)


def get_analyzer(name: str = "encoder", **options: Any) -> Analyzer:
    """The analyzer ``name`` built with ``options`` (built once per process and options)."""
    if name not in ANALYZERS:
        raise UnknownAnalyzerError(name, list(ANALYZERS))
    key = (
        name,
        tuple(sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in options.items())),
    )
    if key not in _CACHE:
        _CACHE[key] = ANALYZERS[name](**options)
    return _CACHE[key]


def encoder(**options: Any) -> Analyzer:
    from empatia.emotion.analyzers.encoder import EncoderAnalyzer

    return EncoderAnalyzer(**options)


def fast(**options: Any) -> Analyzer:
    from empatia.emotion.analyzers.fast import FastAnalyzer

    return FastAnalyzer(**options)


def transformers(**options: Any) -> Analyzer:
    from empatia.emotion.analyzers.hf import TransformersAnalyzer

    return TransformersAnalyzer(**options)
