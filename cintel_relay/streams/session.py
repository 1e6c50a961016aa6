"""``GET /api/stream/<session>``: Server-Sent Events for one call, resumable on any replica."""

import logging
import socket
import time
from typing import Optional

from flask import Blueprint, Response, current_app, request
from gevent import get_hub

from .. import logs
from ..access.limits import Held
from ..bus.hub import CLOSED, OVERFLOW, SHUTDOWN
from ..bus.keys import channel
from ..errors import RelayError, Unavailable
from ..events import CONNECTED
from ..extension import relay
from ..ids import is_event_id, parse_id, valid_session
from ..server.lean import RESPONSE, query
from . import sse

logger = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)

#: How long a new stream waits for its pub/sub subscription before telling the client to come back.
READY_TIMEOUT = 5.0
RETRY_MS = 2000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LEAN_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), *HEADERS.items()]


def _opening(bus, session_id, last_event_id):
    """What a new stream starts with: the events after ``last_event_id`` when the log still has it,
    else a fresh snapshot; and the stream's position in the log. One round trip for either (a gap longer
    than a page takes more)."""
    opening = bus.open(session_id, last_event_id if last_event_id and is_event_id(last_event_id) else None)
    if opening.snapshot is not None:
        snapshot = opening.snapshot
        return sse.frame(snapshot.frame, snapshot.last_id), parse_id(snapshot.last_id) if snapshot.last_id else (0, 0)
    chunks, last = [], last_event_id
    for event_id, raw in opening.events:
        chunks.append(sse.frame(raw, event_id))
        last = event_id
    if opening.more:
        for event_id, raw in bus.read_after(session_id, last):
            chunks.append(sse.frame(raw, event_id))
            last = event_id
    return b"".join(chunks), parse_id(last)


def _batch(bus, session_id, frames, resync, last_key):
    """The frames past ``last_key``, joined, and the new position. After a pub/sub gap (``resync``)
    the log is read first, so nothing published during the gap is skipped."""
    chunks = []
    if resync:
        for event_id, raw in bus.read_after(session_id, "%d-%d" % last_key):
            chunks.append(sse.frame(raw, event_id))
            last_key = parse_id(event_id)
    for raw in frames:
        key = parse_id(sse.frame_id(raw))
        if key and key > last_key:
            chunks.append(raw)
            last_key = key
    return b"".join(chunks), last_key


class _Writer:
    """Writes a waiting stream's live frames from the hub, as they arrive (``Subscription.direct``).

    A frame otherwise wakes the stream's greenlet, which takes it, checks its id, yields it to gunicorn and waits
    again: two greenlet switches, a timer and gunicorn's write for every frame on every stream, most of what an
    event costs a replica. Here a frame is checked as :func:`_batch` checks it (past the stream's position, or
    dropped) and kept; once the hub's listener has handed out what it read (a callback of gevent's loop), the
    frames kept are framed and counted as gunicorn's write would, and offered to the kernel at once, without
    waiting. A client too slow to take all of it gets the rest from the stream's greenlet, which waits for it as
    any write does (within CINTEL_SEND_TIMEOUT); later frames queue meanwhile, as they always did.
    """

    __slots__ = ("kept", "last_key", "loop", "opened_ms", "response", "rest", "stamps", "sub", "tracker")

    def __init__(self, response, sub, tracker, opened_ms: float):
        self.response, self.sub, self.tracker, self.opened_ms = response, sub, tracker, opened_ms
        self.loop = get_hub().loop
        self.last_key, self.rest = (0, 0), b""
        # the frames kept and the ms of each one's id (for the metrics), in step; empty while there are none
        self.kept: list = []
        self.stamps: list = []

    def arm(self, last_key):
        """Before the stream waits: take frames from the hub from ``last_key`` on."""
        self.last_key = last_key
        if self.response.open_to_writers():
            self.sub.direct = self

    def disarm(self):
        """As the stream wakes, before it writes anything: its position, once what was kept or left is sent."""
        self.sub.direct = None
        self.send()
        rest, self.rest = self.rest, b""
        if rest:
            self.response.send_rest(rest)
        return self.last_key

    def drop(self):
        """The stream ends however it ends (even killed while it waits): nothing more is written for it, not even
        by a callback already due, whose connection may be gone (and its descriptor someone else's)."""
        self.sub.direct = None
        self.kept, self.stamps = [], []

    def __call__(self, raw: bytes):
        key = parse_id(sse.frame_id(raw))
        if not key or key <= self.last_key:
            return
        self.last_key = key
        if not self.kept:
            self.loop.run_callback(self.send)
        self.kept.append(raw)
        self.stamps.append(key[0])

    def send(self):
        """Send the frames kept, in one write (a callback of the loop's, or the stream's greenlet waking)."""
        kept, stamps, self.kept, self.stamps = self.kept, self.stamps, [], []
        if not kept:
            return
        data = b"".join(kept)
        try:
            self.rest = self.response.send_now(data)
        except OSError:
            self.sub.direct = None
            self.sub.signal(CLOSED)  # the client is gone: the stream ends as if it had seen the hang-up
            return
        self.tracker.delivered_at(stamps, self.opened_ms)
        if self.rest:
            self.sub.direct = None
            self.sub.wake()


class _Tether:
    """A stream's ties to its connection and the hub: the subscription, a watcher noticing the client hanging up
    while the stream is idle (instead of at the next heartbeat), and the write timeout. One small object, not
    closures, since every idle stream keeps it."""

    __slots__ = ("hub", "idle_timeout", "raw", "sock", "sub", "watcher")

    def __init__(self, hub, sub, sock, send_timeout: float):
        self.hub, self.sub, self.sock, self.watcher = hub, sub, sock, None
        if sock is None:
            return
        self.raw = getattr(sock, "_sock", sock)
        if _gevent_sockets():
            from gevent import get_hub

            self.watcher = get_hub().loop.io(sock.fileno(), 1)
            self.watcher.start(self._readable)
        # A client that stops reading blocks our writes; this bounds how long (it resumes from the log).
        self.idle_timeout = sock.gettimeout()
        sock.settimeout(send_timeout)

    def _readable(self):
        try:
            data = self.raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if self.watcher is not None:  # it is: only the watcher calls this
            self.watcher.stop()  # closed, or the client sent bytes we must not spin on
        if not data:
            self.sub.signal(CLOSED)

    def release(self):
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher.close()
        if self.sock is not None:
            self.sock.settimeout(self.idle_timeout)
        self.hub.unsubscribe(self.sub)


def _gevent_sockets() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def open_subscription(hub, name: str, sock, send_timeout: float):
    """Subscribe a stream to a hub channel, noticing the client hanging up and bounding how long a write
    may block; returns (subscription, release), and ``release()`` must run however the stream ends."""
    sub = hub.subscribe(name)
    return sub, _Tether(hub, sub, sock, send_timeout).release


def ready(sub):
    """Generator (use with ``yield from``): True once the subscription is live; else False, after telling a
    client that is still there that the bus is unreachable."""
    if sub.wait_ready(READY_TIMEOUT):
        return True
    if sub.state is None:
        yield sse.comment("relay cannot reach its event bus; reconnect shortly")
    return False


def wait(sub, heartbeat: float, until: Optional[float]) -> Optional[bool]:
    """Wait for the subscription for at most a heartbeat: True when it woke, False when a heartbeat is due,
    None once ``until`` (epoch seconds, the stream's ticket expiry) has passed, when the stream ends: the
    client then trades its token for a fresh ticket, so a revoked user stops watching on time."""
    timeout = heartbeat if until is None else min(heartbeat, until - time.time())
    if timeout <= 0:
        return None
    woke = sub.wait(timeout)
    if not woke and until is not None and time.time() >= until:
        return None
    return woke


#: Yielded after a large chunk: gunicorn holds the last chunk it wrote (its loop variable) while the stream waits, and
#: an empty one writes nothing. So a long call's snapshot, or a resync's replay, is not kept for the stream's life.
RELEASE = b""
RELEASE_PAST = 4096


def _events(bus, hub, session_id, last_event_id, config, sock, tracker, until: Optional[float] = None, response=None):
    """The stream body: resume or snapshot, then live frames, heartbeats, and a clean end.

    An idle stream holds no frame data: what was sent is dropped before waiting again, so a
    snapshot of a long call is not kept for the life of each stream. With ``until`` (epoch seconds:
    its ticket's expiry) the stream ends then, not at the next frame or heartbeat after it. With the
    worker's ``response`` (see :class:`_Writer`), a live frame that finds the stream waiting is written at once.
    """
    yield sse.frame({"type": CONNECTED, "sessionId": session_id}, retry_ms=RETRY_MS)
    sub, release = open_subscription(hub, channel(session_id), sock, config.send_timeout)
    opened_ms = tracker.stream_opened()
    writer = None
    try:
        if not (yield from ready(sub)):
            return
        data, last_key = _opening(bus, session_id, last_event_id)
        yield data
        tracker.sent(data, opened_ms)
        data = None
        yield RELEASE
        writer = _Writer(response, sub, tracker, opened_ms) if response is not None else None
        while True:
            if writer is not None:
                writer.arm(last_key)
            woke = wait(sub, config.heartbeat_seconds, until)
            if writer is not None:
                last_key = writer.disarm()
            if woke is None:
                return
            frames, state = sub.take()
            if not frames and state is None:
                if not woke:  # every heartbeat, frames written meanwhile or not (they do not wake the stream)
                    yield sse.comment("keep-alive")
                continue
            if state in (CLOSED, OVERFLOW, SHUTDOWN):
                if state != CLOSED:
                    logger.info("stream ended", extra={"session": session_id, "reason": state})
                return
            data, last_key = _batch(bus, session_id, frames, state is not None, last_key)
            frames = None
            if data:
                yield data
                tracker.sent(data, opened_ms)
                if len(data) > RELEASE_PAST:
                    yield RELEASE
            data = None
    except Unavailable:
        logger.warning("stream lost Redis; the client will reconnect", extra={"session": session_id})
        yield sse.comment("event bus unavailable; reconnect shortly")
    finally:
        if writer is not None:
            writer.drop()
        release()
        tracker.stream_closed()


ROUTE = "/api/stream/<session_id>"
#: The lean dispatcher's route (a path prefix taking one more segment: the session id).
LEAN_ROUTE = ("GET", "/api/stream/")


def _body(app, session_id: str, ticket: Optional[str], address: str, last_event_id: Optional[str], sock, response=None):
    """The stream's body for a request: the ticket checked and a slot taken (with stream auth) before anything
    is subscribed; the caller returns it as the response's iterable."""
    valid_session(session_id)
    ext = relay(app)
    slot = ext.access.admit(session_id, ticket, address)
    body = _events(
        ext.bus,
        ext.hub,
        session_id,
        last_event_id,
        ext.config,
        sock,
        ext.metrics,
        until=slot.until if slot is not None else None,
        response=response,
    )
    return body if slot is None else Held(slot, body)


@bp.get(ROUTE)
def stream(session_id):
    """Open an SSE stream for a session; ``Last-Event-ID`` (or ``?lastEventId=``) resumes after that id.

    With stream auth on, ``?ticket=`` is checked and a per-identity slot taken before anything is subscribed.
    A GET is served by :func:`lean_stream`; this view answers the rest (HEAD).
    """
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("lastEventId") or None
    body = _body(
        current_app,
        session_id,
        request.args.get("ticket"),
        request.remote_addr or "",
        last_event_id,
        request.environ.get("gunicorn.socket"),
    )
    # direct_passthrough hands our generator to gunicorn as is: no wrapping iterators per idle stream.
    return Response(body, mimetype="text/event-stream", headers=HEADERS, direct_passthrough=True)


def lean_stream(app, lean):
    """The stream route as a plain WSGI handler (see :mod:`cintel_relay.server.lean`): the same answer as
    :func:`stream` without Flask's request machinery, which an idle stream would keep for its whole life."""

    def handle(environ, start_response, session_id):
        logs.begin(environ, session_id)
        try:
            args = query(environ)
            last_event_id = environ.get("HTTP_LAST_EVENT_ID") or args.get("lastEventId") or None
            body = _body(
                app,
                session_id,
                args.get("ticket"),
                environ.get("REMOTE_ADDR") or "",
                last_event_id,
                environ.get("gunicorn.socket"),
                environ.get(RESPONSE),
            )
        except RelayError as exc:
            return lean.error(exc, environ, start_response, ROUTE)
        except Exception as exc:
            return lean.unexpected(exc, environ, start_response, ROUTE)
        lean.start(environ, start_response, ROUTE, 200, LEAN_HEADERS)
        logs.keep_for_access(environ)
        return body

    return handle
