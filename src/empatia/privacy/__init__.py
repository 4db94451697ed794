"""Privacy: consent, access, erasure, retention, keys, partner sharing, progressive profiling (S11).

The names other stages use::

    from empatia.privacy import allowed, use_sql, missing_purpose   # may this use be made?
    from empatia.privacy import check, require, allowed_sql   # one purpose
    from empatia.privacy import redact                         # PII out of free text

Everything else (erasure, access export, retention, partner exports, profiling) lives in its
own module and is reached through the CLI and the HTTP API.
"""

from empatia.privacy.consent import (
    PURPOSES,
    USES,
    allowed,
    allowed_sql,
    check,
    missing_purpose,
    record,
    require,
    use_sql,
)
from empatia.privacy.redact import redact

__all__ = ["PURPOSES", "USES", "allowed", "allowed_sql", "check", "missing_purpose", "record",
           "redact", "require", "use_sql"]
