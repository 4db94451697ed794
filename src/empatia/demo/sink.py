"""Writing events as Segment-shaped JSONL, fast (orjson, buffered), one file per source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


class Sink:
    """Appends events to one JSONL file, giving each a unique ``messageId``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> s = Sink(d / "web.jsonl", "w1-")
    >>> s.emit({"type": "page", "anonymousId": "a"})
    'w1-0'
    >>> s.close(); s.count
    1
    """

    def __init__(self, path: Path, prefix: str, flush_every: int = 20_000) -> None:
        self.path = path
        self.prefix = prefix
        self.count = 0
        self._buf: list[bytes] = []
        self._flush_every = flush_every
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()

    def emit(self, event: dict[str, Any]) -> str:
        mid = f"{self.prefix}{self.count:x}"
        event["messageId"] = mid
        self._buf.append(orjson.dumps(event))
        self.count += 1
        if len(self._buf) >= self._flush_every:
            self.flush()
        return mid

    def flush(self) -> None:
        if self._buf:
            self._file.write(b"\n".join(self._buf) + b"\n")
            self._buf.clear()

    def close(self) -> None:
        self.flush()
        self._file.close()


def event(
    type_: str,
    ts: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    name: str | None = None,
    properties: dict[str, Any] | None = None,
    traits: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Segment event dict, leaving out what is absent."""
    e: dict[str, Any] = {"type": type_, "timestamp": ts}
    if user_id is not None:
        e["userId"] = user_id
    if anonymous_id is not None:
        e["anonymousId"] = anonymous_id
    if name is not None:
        e["event" if type_ == "track" else "name"] = name
    if properties is not None:
        e["properties"] = properties
    if traits is not None:
        e["traits"] = traits
    if context is not None:
        e["context"] = context
    return e
