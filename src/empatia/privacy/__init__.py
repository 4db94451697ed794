"""Privacy: consent, access, erasure, retention, keys, partner sharing, progressive profiling (S11).

The names other stages use::

    from empatia.privacy import check, require, allowed_sql   # consent, one place
    from empatia.privacy import redact                         # PII out of free text

Everything else (erasure, access export, retention, partner exports, profiling) lives in its
own module and is reached through the CLI and the HTTP API.
"""

from empatia.privacy.consent import PURPOSES, allowed_sql, check, record, require
from empatia.privacy.redact import redact

__all__ = ["PURPOSES", "allowed_sql", "check", "record", "redact", "require"]
