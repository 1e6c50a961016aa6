"""Server-Sent Events framing, as pure functions over bytes."""

from typing import Optional

import orjson


def frame(data, event_id: Optional[str] = None, retry_ms: Optional[int] = None) -> bytes:
    """A ``data:``-only frame (so ``EventSource.onmessage`` sees it), with an ``id:`` when logged.

    ``data`` is a dict, or JSON bytes already serialized (which never contain a newline). ``retry_ms`` tells
    the client how long to wait before reconnecting; it rides in a frame with data because a block with
    only ``retry:`` is an empty event to some clients (httpx-sse), whose ``json.loads`` then fails.
    """
    payload = data if isinstance(data, (bytes, bytearray)) else orjson.dumps(data)
    head = b"id: %s\n" % event_id.encode("ascii") if event_id else b""
    if retry_ms is not None:
        head += b"retry: %d\n" % retry_ms
    return head + b"data: " + bytes(payload) + b"\n\n"


def comment(text: str) -> bytes:
    """A comment line: ignored by EventSource, but it keeps proxies from closing an idle stream."""
    return b": " + text.encode("ascii", "replace") + b"\n\n"


def frame_id(raw: bytes) -> Optional[bytes]:
    """The id of a frame as published on the bus (``id: <id>\\ndata: ...``)."""
    if not raw.startswith(b"id: "):
        return None
    end = raw.find(b"\n")
    return raw[4:end] if end > 0 else None
