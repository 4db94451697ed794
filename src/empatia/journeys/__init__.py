"""Journeys: maps, funnels and paths reconstructed from events (S8).

>>> from empatia.journeys import funnel, paths, journey_map  # doctest: +SKIP
"""

from empatia.journeys.config import STAGE_ORDER, StageMap, load_stage_map
from empatia.journeys.exceptions import FunnelError, JourneysNotBuiltError
from empatia.journeys.funnels import Funnel, FunnelStep, funnel
from empatia.journeys.maps import journey_map
from empatia.journeys.paths import paths

__all__ = [
    "STAGE_ORDER", "Funnel", "FunnelError", "FunnelStep", "JourneysNotBuiltError", "StageMap",
    "funnel", "journey_map", "load_stage_map", "paths",
]  # fmt: skip
