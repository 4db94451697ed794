"""Identity resolution: stitch every identifier into one person (S3).

The batch stage (``identity``) writes ``identities``, ``event_persons``, ``merge_history``,
``identity_blocked`` and ``identity_review``; :func:`attach_new_events` is the fresh path
for events ingested since; :mod:`empatia.identity.unmerge` repairs wrong merges. Names load on
first use: the settings import :class:`IdentityConfig` without the matching machinery.
"""

from empatia.plugins import lazy_exports

_EXPORTS = {
    "IdentityConfig": "config",
    "attach_new_events": "incremental",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
