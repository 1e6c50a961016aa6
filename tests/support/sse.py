"""Reading Server-Sent Events as raw bytes, as a browser would."""

import http.client
import time
import urllib.parse
from typing import ClassVar, List

import orjson

from cintel_relay import events

#: The ``initial`` frame of a session the relay has never heard of.
#: A call's snapshot before anything was logged: the lists empty, every latest value unset (events.py decides which).
EMPTY_SNAPSHOT = {
    "type": events.INITIAL,
    **{name: [] for name in events.SNAPSHOT_LISTS.values()},
    **events.snapshot_values({}),
}


class SSEClient:
    """Reads a stream as raw bytes and splits it into frames, as a browser would.

    A test need not close its streams: the ``close_streams`` fixture (tests/conftest.py) closes every
    stream still open when the test ends, so none leaks its socket into a later test.
    """

    #: Streams opened and not yet closed, in any test.
    still_open: ClassVar[List["SSEClient"]] = []

    def __init__(self, base: str, session: str, last_event_id=None, query="", path=None):
        parsed = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", (path or f"/api/stream/{session}") + query, headers=headers)
        self.response = self.conn.getresponse()
        self.raw = b""
        self._buffer = b""
        SSEClient.still_open.append(self)

    def read_block(self, timeout=10.0) -> bytes:
        """The next complete block (frame or comment), without its blank-line terminator."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no SSE block within {timeout}s; have {self._buffer!r}")
            self.conn.sock.settimeout(left)
            try:
                chunk = self.response.read1(65536)
            except (http.client.IncompleteRead, ConnectionError):
                chunk = b""
            if not chunk:
                raise EOFError(f"stream closed; unread {self._buffer!r}")
            self.raw += chunk
            self._buffer += chunk
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        return block

    def next_event(self, timeout=10.0):
        """The next frame with data, as (id or None, parsed data); comments and retry lines skipped."""
        while True:
            fields = parse_block(self.read_block(timeout))
            if "data" in fields:
                return fields.get("id"), orjson.loads(fields["data"])

    def events(self, count, timeout=10.0):
        """The next ``count`` frames with data."""
        return [self.next_event(timeout) for _ in range(count)]

    def close(self):
        """Hang up: the response holds the socket too, so it closes first."""
        self.response.close()
        self.conn.close()
        if self in SSEClient.still_open:
            SSEClient.still_open.remove(self)

    @classmethod
    def close_all(cls):
        """Close every stream still open."""
        for client in list(cls.still_open):
            client.close()


def parse_block(block: bytes) -> dict:
    """A block's fields by name; comment lines under ``comments``."""
    fields = {}
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if name:
            fields[name.decode()] = value[1:].decode() if value.startswith(b" ") else value.decode()
        else:
            fields.setdefault("comments", []).append(value.strip().decode())
    return fields
