"""Minimal asyncio HTTP/1.1 and SSE clients: cheap enough to hold thousands of streams in one process."""

import asyncio
import json
import time
from urllib.parse import urlparse


class SSE:
    """One stream, which reconnects with Last-Event-ID as a browser would; ``on_event(data, received_at)``
    is called for each transcript frame. ``ready`` is set by the first frame of type ``ready_type``: the
    relay's ``initial`` (sent once its subscription is live), or the ``connected`` frame of a server that
    sends no ``initial`` to a session without data, such as Twilio's sample."""

    def __init__(self, base: str, session: str, on_event=None, ready_type: str = "initial"):
        self.base, self.session, self.on_event = urlparse(base), session, on_event
        self.ready_type = ready_type
        self.reader = self.writer = None
        self.last_id = None
        self.reconnects = 0
        self.ready = asyncio.Event()

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.base.hostname, self.base.port, limit=1 << 20)
        resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        self.writer.write(
            f"GET /api/stream/{self.session} HTTP/1.1\r\nHost: bench\r\n"
            f"Accept: text/event-stream\r\nConnection: close\r\n{resume}\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"stream refused: {head[:80]!r}")

    async def run(self):
        """Read frames; when the relay ends the stream (a slow reader is cut off), resume from the last id.

        ``Connection: close`` makes the end of a response the end of the connection, which is all the
        end of a stream this reader needs to notice."""
        while True:
            await self._read()
            self.reconnects += 1
            await self.open()

    async def _read(self):
        buffer = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            now = time.perf_counter()
            for block in blocks:
                for row in block.split(b"\n"):
                    if row.startswith(b"id: "):
                        self.last_id = row[4:].decode()
                    start = row.find(b"data: {")
                    if start >= 0:
                        data = json.loads(row[start + 6 :])
                        if data.get("type") == self.ready_type:
                            self.ready.set()
                        if data.get("type") == "transcript" and self.on_event:
                            self.on_event(data, now)

    def close(self):
        if self.writer:
            self.writer.close()


def close_all(streams, tasks):
    """Close the streams and cancel the tasks that read them: a scenario's end."""
    for stream in streams:
        stream.close()
    for task in tasks:
        task.cancel()


class Poster:
    """A keep-alive connection that posts signed webhooks one at a time."""

    def __init__(self, base: str):
        self.base = urlparse(base)
        self.reader = self.writer = None

    async def post(self, request) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.base.hostname, self.base.port)
        self.writer.write(
            f"POST {request.path} HTTP/1.1\r\nHost: {self.base.netloc}\r\nContent-Type: {request.content_type}\r\n"
            f"X-Twilio-Signature: {request.signature}\r\nContent-Length: {len(request.body)}\r\n\r\n".encode()
            + request.body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for row in head.split(b"\r\n"):
            if row.lower().startswith(b"content-length:"):
                length = int(row.split(b":")[1])
        await self.reader.readexactly(length)
        return status
