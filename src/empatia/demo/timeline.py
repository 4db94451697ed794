"""Time in the demo world: two years ending 2026-11-20, with weekly and seasonal rhythms.

Times are float seconds since the Unix epoch (UTC) in numpy arrays; :func:`iso` turns a whole
array into ISO-8601 strings at once.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400.0
END = float(np.datetime64("2026-11-20T00:00:00", "s").astype("int64"))
DAYS = 730
START = END - DAYS * DAY

_dates = np.arange(DAYS) * DAY + START
_dow = ((_dates // DAY).astype(np.int64) + 3) % 7  # 0 = Monday
_doy = ((_dates - np.array(["2024-01-01"], "datetime64[s]").astype("int64")[0]) / DAY) % 365.25


def _bump(center: float, width: float) -> np.ndarray:
    d = np.minimum(np.abs(_doy - center), 365.25 - np.abs(_doy - center))
    return np.exp(-((d / width) ** 2))


# Day weights per profile: shop (Black Friday, Christmas, a small summer lift, weekends),
# travel (bookings in early spring and summer, weekdays), service (weekdays, after peaks).
_PROFILES = {
    "shop": (1 + 0.9 * _bump(333, 4) + 0.6 * _bump(352, 10) + 0.15 * _bump(200, 30))
    * np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 0.85])[_dow],
    "travel": (1 + 0.5 * _bump(40, 25) + 0.8 * _bump(190, 35) + 0.3 * _bump(355, 8))
    * np.array([1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 1.0])[_dow],
    "service": (1 + 0.5 * _bump(345, 20) + 0.35 * _bump(205, 25))
    * np.array([1.25, 1.15, 1.1, 1.05, 1.0, 0.6, 0.45])[_dow],
    "flat": np.ones(DAYS),
}
_CDF = {k: np.concatenate([[0.0], np.cumsum(v) / v.sum()]) for k, v in _PROFILES.items()}
_HOURS = {
    "shop": np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 4.5, 5, 5.5, 5, 4.5, 4.5, 5, 5.5, 6.5,
                      7.5, 8, 7, 5, 2.5]),
    "store": np.array([0, 0, 0, 0, 0, 0, 0.2, 1, 3, 5, 6, 7, 8, 7.5, 7, 7, 8, 9, 9, 7, 4, 1, 0, 0]),
    "service": np.array([0.1, 0, 0, 0, 0, 0, 0.2, 2, 6, 9, 10, 9.5, 8, 8.5, 9, 8.5, 8, 7, 5, 3, 2,
                         1, 0.5, 0.2]),
}  # fmt: skip
_HCDF = {k: np.cumsum(v) / v.sum() for k, v in _HOURS.items()}


def draw_times(
    rng: np.random.Generator,
    lo: np.ndarray,
    hi: np.ndarray,
    profile: str = "shop",
    hours: str = "shop",
) -> np.ndarray:
    """One time per row between ``lo`` and ``hi``, following the profile's day rhythm."""
    lo = np.clip(np.asarray(lo, dtype=np.float64), START, END - 1)
    hi = np.clip(np.maximum(np.asarray(hi, dtype=np.float64), lo + 1), START + 1, END)
    cdf = _CDF[profile]
    a = np.interp((lo - START) / DAY, np.arange(DAYS + 1), cdf)
    b = np.interp((hi - START) / DAY, np.arange(DAYS + 1), cdf)
    u = a + rng.random(lo.shape) * (b - a)
    day = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, DAYS - 1)
    hour = np.searchsorted(_HCDF[hours], rng.random(lo.shape), side="right")
    t = START + day * DAY + hour * 3600.0 + rng.random(lo.shape) * 3600.0
    return np.clip(t, lo, hi)


def iso(t: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings (``2026-03-01T12:00:00.000Z``) for an array of epoch seconds."""
    ms = np.asarray(t, dtype=np.float64) * 1000.0
    s = np.datetime_as_string(ms.astype("int64").astype("datetime64[ms]"), unit="ms")
    return np.char.add(s, "Z").tolist()
