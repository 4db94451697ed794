"""Web sign-in sessions, kept in server memory: the browser holds only a random session id.

The key a person signs in with never leaves the server again: the ``empatia_session`` cookie
carries a 256-bit random id, and the id maps to the key's secret here. Signing out drops the
id, so a copied cookie stops working at once; a session also ends 12 hours after sign-in and
when the server restarts (people sign in again).

Each session has its own CSRF token (``empatia.web.security`` checks it on every
state-changing request the cookie authenticates).

>>> sessions = Sessions()
>>> sid = sessions.create("emp_read_x")
>>> sessions.secret(sid), len(sessions.csrf(sid) or "")
('emp_read_x', 43)
>>> sessions.drop(sid); sessions.secret(sid) is None
True
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

#: The cookie holding the session id.
COOKIE = "empatia_session"
#: How long a session lasts after sign-in.
LIFETIME_S = 12 * 3600


@dataclass(frozen=True)
class _Session:
    secret: str
    csrf: str
    expires: float


class Sessions:
    """Session id → the signed-in key's secret and the session's CSRF token."""

    def __init__(self, lifetime_s: float = LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._by_id: dict[str, _Session] = {}

    def create(self, secret: str) -> str:
        """A new session for ``secret``; returns its id (a fresh one at every sign-in)."""
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._by_id = {k: s for k, s in self._by_id.items() if s.expires > now}
            self._by_id[sid] = _Session(secret, secrets.token_urlsafe(32), now + self.lifetime_s)
        return sid

    def _get(self, sid: str | None) -> _Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            if session is not None and session.expires <= time.monotonic():
                del self._by_id[sid]
                return None
            return session

    def secret(self, sid: str | None) -> str | None:
        """The key secret behind ``sid``; None when unknown, expired or dropped."""
        session = self._get(sid)
        return session.secret if session else None

    def csrf(self, sid: str | None) -> str | None:
        """The session's CSRF token; None when there is no such session."""
        session = self._get(sid)
        return session.csrf if session else None

    def drop(self, sid: str) -> None:
        """End a session (sign-out): its id no longer authenticates anything."""
        with self._lock:
            self._by_id.pop(sid, None)
