"""The supervisor board's data: every live call's summary, as JSON and as one account-wide SSE stream.

The bus keeps a summary per call and publishes each change on one channel (see :mod:`cintel_relay.bus.event_bus`);
every replica's hub subscribes to it like to a session's channel, so a board served by any replica sees
calls handled by all of them. A fresh stream gets a ``board`` snapshot, then a ``call`` frame per change.
Summaries carry a ``version`` that grows with each change, so a client keeps the newest one it has seen.

Access is the streams' (:mod:`cintel_relay.access.views`): with ``CINTEL_STREAM_AUTH=flex`` both endpoints need
``?ticket=`` for the pseudo-session ``board``, which only supervisors get (agents get tickets only for
their own calls).
"""

import logging

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from ..access.limits import Held
from ..bus.hub import CLOSED, OVERFLOW, RESYNC, SHUTDOWN
from ..bus.keys import BOARD_CHANNEL
from ..errors import Unavailable
from ..extension import relay
from ..ids import valid_session
from . import sse
from .session import HEADERS, RETRY_MS, open_subscription, ready, wait

logger = logging.getLogger(__name__)

bp = Blueprint("board", __name__)

#: The session a board ticket names (``POST /api/stream-ticket {"sessionId": "board"}``).
BOARD_SESSION = "board"


def _admit():
    """The caller's stream slot (None when streams are open); refuses a missing or wrong ticket."""
    return relay().access.admit(BOARD_SESSION, request.args.get("ticket"), request.remote_addr or "")


def _events(bus, hub, config, sock, tracker, until=None):
    """The board stream: snapshot, then every summary change, heartbeats, and a fresh snapshot after a gap;
    it ends when its ticket expires (``until``)."""
    yield sse.comment("board")  # the first bytes at once; the retry interval comes with the first frame
    sub, release = open_subscription(hub, BOARD_CHANNEL, sock, config.send_timeout)
    tracker.stream_opened()  # an open connection like any stream (its frames are not logged events)
    try:
        if not (yield from ready(sub)):
            return
        yield sse.frame(bus.board(), retry_ms=RETRY_MS)
        while True:
            woke = wait(sub, config.heartbeat_seconds, until)
            if woke is None:
                return
            frames, state = sub.take()
            if state in (CLOSED, OVERFLOW, SHUTDOWN):
                return
            if state == RESYNC:  # pub/sub had a gap: the snapshot supersedes whatever was queued
                yield sse.frame(bus.board())
            elif frames:
                frames = b"".join(frames)  # an idle stream keeps no frame data (see stream._events)
                yield frames
                frames = None
            elif not woke:
                yield sse.comment("keep-alive")
    except Unavailable:
        logger.warning("board stream lost Redis; the client will reconnect")
        yield sse.comment("event bus unavailable; reconnect shortly")
    finally:
        release()
        tracker.stream_closed()


@bp.get("/api/board")
def board():
    """The live calls' summaries, once (the stream below is what the console uses)."""
    slot = _admit()
    try:
        return jsonify(relay().bus.board())
    finally:
        if slot is not None:
            slot.release()


@bp.get("/api/board/calls/<session_id>")
def board_call(session_id):
    """One call's summary, with a ticket for the call's own stream; 404 saying so when the relay knows no
    such call, so the console's call page can tell a call not yet started (or expired) from a quiet one."""
    session_id = valid_session(session_id)
    slot = relay().access.admit(session_id, request.args.get("ticket"), request.remote_addr or "")
    try:
        summary = relay().bus.board_call(session_id)
    finally:
        if slot is not None:
            slot.release()
    if summary is None:
        raise NotFound(f"No call {session_id} is known to the relay: it has not started or its data expired.")
    return jsonify(summary)


@bp.get("/api/board/stream")
def board_stream():
    """Open the account-wide SSE stream of call summaries."""
    slot = _admit()
    ext = relay()
    sock = request.environ.get("gunicorn.socket")
    body = _events(ext.bus, ext.hub, ext.config, sock, ext.metrics, slot.until if slot else None)
    if slot is not None:
        body = Held(slot, body)
    return Response(body, mimetype="text/event-stream", headers=HEADERS, direct_passthrough=True)
