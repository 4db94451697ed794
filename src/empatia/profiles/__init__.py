"""Unified profiles: one row per person with traits, RFM, CLV and rhythms (S3, S10).

>>> from empatia.profiles import ProfileConfig
>>> ProfileConfig().clv_months
12
"""

from empatia.profiles.api import find_person, get_profile
from empatia.profiles.config import ProfileConfig

__all__ = ["ProfileConfig", "find_person", "get_profile"]
