"""``GET /api/stream/<session>``: Server-Sent Events for one call, resumable on any replica."""

import logging
import re
import socket

from flask import Blueprint, Response, current_app, request

from . import metrics, sse
from .bus import REDIS_ERRORS, channel, parse_id
from .errors import BadRequest
from .hub import CLOSED, OVERFLOW, SHUTDOWN

logger = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{2,100}")
#: How long a new stream waits for its pub/sub subscription before telling the client to come back.
READY_TIMEOUT = 5.0
RETRY_MS = 2000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def valid_session(session_id: str) -> str:
    """The session id, or :class:`BadRequest` when it cannot be a Call SID or conversation id."""
    if not SESSION_ID.fullmatch(session_id):
        raise BadRequest("session id must be a Call SID (CA...) or conversation id: letters, digits, _ and -.")
    return session_id


def _watch_disconnect(sock, sub):
    """Notice a client hanging up while its stream is idle, instead of at the next heartbeat."""
    if sock is None:
        return None
    try:
        from gevent import get_hub, monkey
    except ImportError:
        return None
    if not monkey.is_module_patched("socket"):
        return None
    raw = getattr(sock, "_sock", sock)
    watcher = get_hub().loop.io(sock.fileno(), 1)

    def readable():
        try:
            data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        watcher.stop()  # closed, or the client sent bytes we must not spin on
        if not data:
            sub.signal(CLOSED)

    watcher.start(readable)
    return watcher


def _events(bus, hub, session_id, last_event_id, heartbeat, sock):
    """The stream body: resume or snapshot, then live frames, heartbeats, and a clean end."""
    yield sse.retry(RETRY_MS) + sse.frame({"type": "connected", "sessionId": session_id})
    sub = hub.subscribe(channel(session_id))
    watcher = _watch_disconnect(sock, sub)
    try:
        if not sub.wait_ready(READY_TIMEOUT):
            if sub.state is None:
                yield sse.comment("relay cannot reach its event bus; reconnect shortly")
            return
        last = None
        if last_event_id and parse_id(last_event_id) and bus.has_event(session_id, last_event_id):
            last = last_event_id
            for event_id, raw in bus.read_after(session_id, last_event_id):
                last = event_id
                yield sse.frame(raw, event_id)
        else:
            snapshot = bus.snapshot(session_id)
            last = snapshot.last_id
            yield sse.frame(snapshot.frame, last)
        last_key = parse_id(last) if last else (0, 0)
        while True:
            woke = sub.wait(heartbeat)
            frames, state = sub.take()
            if not frames and state is None:
                if not woke:
                    yield sse.comment("keep-alive")
                continue
            if state in (CLOSED, OVERFLOW, SHUTDOWN):
                if state != CLOSED:
                    logger.info("stream ended", extra={"session": session_id, "reason": state})
                return
            chunks = []
            if state is not None:  # resync: pub/sub had a gap, so first read what the log has past our position
                for event_id, raw in bus.read_after(session_id, "%d-%d" % last_key):
                    chunks.append(sse.frame(raw, event_id))
                    last_key = parse_id(event_id)
            for raw in frames:
                key = parse_id(sse.frame_id(raw))
                if key and key > last_key:
                    chunks.append(raw)
                    last_key = key
            if chunks:
                yield b"".join(chunks)
    except REDIS_ERRORS:
        logger.warning("stream lost Redis; the client will reconnect", extra={"session": session_id})
        yield sse.comment("event bus unavailable; reconnect shortly")
    finally:
        if watcher is not None:
            watcher.stop()
            watcher.close()
        hub.unsubscribe(sub)


@bp.get("/api/stream/<session_id>")
def stream(session_id):
    """Open an SSE stream for a session; ``Last-Event-ID`` (or ``?lastEventId=``) resumes after that id."""
    valid_session(session_id)
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("lastEventId") or None
    ext = current_app.extensions["cintel"]
    body = _events(ext.bus, ext.hub, session_id, last_event_id, ext.config.heartbeat_seconds,
                   request.environ.get("gunicorn.socket"))
    body = metrics.of(current_app).track_stream(body)
    return Response(body, mimetype="text/event-stream", headers=HEADERS)
