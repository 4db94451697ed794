"""Identity resolution: stitch every identifier into one person (S3).

The batch stage (``identity``) writes ``identities``, ``event_persons``, ``merge_history``,
``identity_blocked`` and ``identity_review``; :func:`attach_new_events` is the fresh path
for events ingested since; :func:`unmerge` and :func:`split` repair wrong merges.
"""

from empatia.identity.config import IdentityConfig
from empatia.identity.incremental import attach_new_events
from empatia.identity.resolve import resolve
from empatia.identity.unmerge import history, split, unmerge

__all__ = ["IdentityConfig", "attach_new_events", "history", "resolve", "split", "unmerge"]
