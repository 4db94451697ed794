"""The demo world: a realistic company with known truth (S12).

>>> from empatia.demo import build_world  # build_world(Path("world"), customers=1_000)
"""

from empatia.demo.world import WorldFiles, build_world

__all__ = ["WorldFiles", "build_world", "import_world"]


def __getattr__(name: str) -> object:
    if name == "import_world":
        from empatia.demo.load import import_world

        return import_world
    raise AttributeError(name)
