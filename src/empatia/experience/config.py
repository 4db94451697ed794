"""Thresholds of the experience stage: the ``[stages.experience]`` section of the workspace
settings (:mod:`empatia.settings`), with these defaults.

>>> ExperienceConfig(hurt_contacts=6).hurt_contacts
6
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExperienceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # effort
    repeat_days: float = 7.0  # a new case on the same topic within this many days is a repeat
    after_days: float = 60.0  # what happened after a journey: look this far ahead
    # "succeeded but hurt": the company's records say success, and any of these held
    hurt_contacts: int = 5  # contacts to resolution
    hurt_live_wait_seconds: float = 5400  # total wait on phone/chat/store
    hurt_channel_switches: int = 3
    hurt_transfers: int = 2
    hurt_last_score: float = -0.2  # the customer's verdict after the fix this negative …
    hurt_min_contacts_for_words: int = 2  # … after at least this many contacts
    hurt_contacts_without_verdict: int = 4  # no word after the fix: the last word counts from here
    # surveys
    bot_min_seconds: float = 5.0  # faster than this is not a person reading the questions
    duplicate_min_chars: int = 20  # identical comments this long …
    duplicate_min_people: int = 3  # … from this many people …
    duplicate_window_seconds: float = 3600.0  # … within this time of each other are copy-paste
    straight_line_seconds: float = 60.0  # several surveys, all at the extreme, this close
    repeat_submission_seconds: float = 3600.0  # same person, survey and touchpoint again
    confidence: float = 0.95
    # fatigue (may_survey)
    survey_gap_days: float = 14.0
    max_surveys_90d: int = 3
    ignored_in_a_row: int = 3
    consent_purpose: str = "analytics"
    # "still active" (experience_activity): the purchase model's p_alive moved, in log-odds, by
    # what the person said and went through since their last purchase (activity.py)
    active_threat: float = 3.0  # threatened to leave / go public / go to court
    active_hurt_case: float = 2.0  # a case that succeeded but hurt
    active_hurt_words: float = 1.5  # angry, frustrated or very negative words (no kind word since)
    active_open_case: float = 1.0  # a case still open
    active_repeat: float = 1.0  # contacted us again and again about one thing
    active_worsening: float = 1.0  # their mood trajectory is falling
    active_quiet: float = 1.0  # per e-fold of quiet beyond the person's usual gap between visits
    active_quiet_days: float = 30.0  # … never taken as shorter than this
    active_angry: float = 0.5  # anger or frustration this high …
    active_negative: float = -0.4  # … or a score this low is a hurt word (decide's thresholds)
    active_kind: float = 0.3  # a word this positive after a hurt made it right
    # … the weights above are the starting point: each run fits them on the store's own past
    # (activity_fit.py): the drivers as they stood this many days before the latest event,
    # against who bought after; the fit is pulled toward them by a prior this wide (sd)
    active_fit_days: float = 180.0
    active_fit_prior_sd: float = 1.0
    active_fit_min_people: int = 200  # buyers at that moment; fewer: the weights above as set
    active_fit_refit_days: float = 7.0  # the fitted model is kept this long (event time) …
    active_fit_refit_share: float = 0.01  # … while the buyers differ by less than this share

