"""Experience measured: surveys, effort, emotional trajectories, perception gap (S4, S5, S6).

>>> from empatia.experience import nps
>>> nps([10, 9, 3]).score
33.33333333333333
"""

from empatia.plugins import lazy_exports

_EXPORTS = {
    "ExperienceConfig": "config",
    "Score": "stats",
    "effort_summary": "views",
    "excluded_responses": "surveys",
    "hurt_list": "views",
    "hurt_outcomes": "views",
    "may_survey": "hygiene",
    "may_survey_all": "hygiene",
    "nps": "stats",
    "perception_gap": "gap",
    "score": "stats",
    "survey_scores": "surveys",
    "touchpoints": "views",
    "trajectories": "views",
    "trajectory": "views",
    "wilson": "stats",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)  # scipy: loaded on first use
