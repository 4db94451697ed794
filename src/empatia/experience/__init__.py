"""Experience measured: surveys, effort, emotional trajectories, perception gap (S4, S5, S6).

>>> from empatia.experience import nps
>>> nps([10, 9, 3]).score
33.33333333333333
"""

from empatia.experience.config import ExperienceConfig
from empatia.experience.gap import perception_gap
from empatia.experience.hygiene import may_survey, may_survey_all
from empatia.experience.stats import Score, nps, score, wilson
from empatia.experience.surveys import excluded_responses, survey_scores
from empatia.experience.views import (
    effort_summary,
    hurt_list,
    hurt_outcomes,
    touchpoints,
    trajectories,
    trajectory,
)

__all__ = [
    "ExperienceConfig", "Score", "effort_summary", "excluded_responses", "hurt_list",
    "hurt_outcomes", "may_survey", "may_survey_all", "nps", "perception_gap", "score", "survey_scores",
    "touchpoints", "trajectories", "trajectory", "wilson",
]  # fmt: skip
