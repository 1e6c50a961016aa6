"""Server-Sent Events framing, as pure functions over bytes."""

from typing import Optional

import orjson


def frame(data, event_id: Optional[str] = None) -> bytes:
    """A ``data:``-only frame (so ``EventSource.onmessage`` sees it), with an ``id:`` when logged.

    ``data`` is a dict, or JSON bytes already serialized (which never contain a newline).
    """
    payload = data if isinstance(data, (bytes, bytearray)) else orjson.dumps(data)
    head = b"id: %s\n" % event_id.encode("ascii") if event_id else b""
    return head + b"data: " + bytes(payload) + b"\n\n"


def comment(text: str) -> bytes:
    """A comment line: ignored by EventSource, but it keeps proxies from closing an idle stream."""
    return b": " + text.encode("ascii", "replace") + b"\n\n"


def retry(milliseconds: int) -> bytes:
    """Tells the browser how long to wait before reconnecting."""
    return b"retry: %d\n\n" % milliseconds


def frame_id(raw: bytes) -> Optional[bytes]:
    """The id of a frame as published on the bus (``id: <id>\\ndata: ...``)."""
    if not raw.startswith(b"id: "):
        return None
    end = raw.find(b"\n")
    return raw[4:end] if end > 0 else None
