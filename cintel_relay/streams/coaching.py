"""Live coaching and suggested-response uses: what people do on a call, logged or counted.

``POST /api/calls/<CallSid>/coaching`` ``{"text"}``: a supervisor's note to the agent of a live call. It is
authorized as the supervisor board is (``?ticket=`` for the pseudo-session ``board``, which only Flex supervisor
roles get; an agent's ticket for their own call is refused with 403; open when ``CINTEL_STREAM_AUTH=none``),
rate-limited per call across replicas, and logged as a ``coaching`` event: the agent's panel shows it at once,
other supervisors see it in the call's view and the call's record keeps it. The text is stored, never logged.

``POST /api/calls/<CallSid>/suggestion-uses`` ``{"operatorId", "version", "via": "input"|"copy"}``: the agent
used a suggested response (put it in the message box, or copied it); authorized as the call's stream, counted
per operator version in ``/metrics`` (``cintel_suggestion_uses``). Only suggestion operators the relay knows are
counted, so the metric's labels stay bounded.
"""

import logging
import time
import uuid

from flask import Blueprint, jsonify, request

from .. import events
from ..bus.keys import coaching_rate_key
from ..errors import Conflict, InvalidPayload, NotFound, RateLimited
from ..extension import relay
from ..ids import valid_session
from ..normalize import Event, now_iso
from ..operators import OperatorKind
from ..security import json_body
from ..server.bodies import takes_body
from .board import BOARD_SESSION

logger = logging.getLogger(__name__)

bp = Blueprint("coaching", __name__)

#: A note is short; anything bigger is refused with 413 before it is read.
COACHING_MAX_BODY = 4096
#: The longest note, in characters.
MAX_TEXT = 500
#: Notes one call may receive per minute, from all supervisors together.
NOTES_PER_MINUTE = 6
#: How a suggested response can be used: put into Flex's message box, or copied (voice).
USES = ("input", "copy")


def _text() -> str:
    body = json_body('{"text": "<at most 500 characters>"}')
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidPayload('send {"text": "..."}: the note for the agent.', fields={"text": ["Missing or empty."]})
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidPayload(
            f"text is {len(text)} characters; keep it to {MAX_TEXT}.", fields={"text": [f"Longer than {MAX_TEXT}."]}
        )
    return text


def _live_call(bus, session: str):
    summary = bus.board_call(session)
    if summary is None:
        raise NotFound(f"No call {session} is known to the relay: it has not started or its data expired.")
    if summary.get("ended"):
        raise Conflict("the call has ended; coaching goes to live calls only.")


@bp.post("/api/calls/<call_sid>/coaching")
@takes_body(COACHING_MAX_BODY)
def coach(call_sid):
    """Send a note to the agent of a live call: 201 with the logged note."""
    session = valid_session(call_sid)
    ext = relay()
    who = ext.access.identify(BOARD_SESSION, request.args.get("ticket"))
    text = _text()
    _live_call(ext.bus, session)
    window = int(time.time() // 60)
    if ext.bus.count_in_minute(coaching_rate_key, session, window) > NOTES_PER_MINUTE:
        retry = str(max(1, int((window + 1) * 60 - time.time())))
        raise RateLimited(
            f"this call already had {NOTES_PER_MINUTE} notes this minute: wait {retry}s.",
            code="too_many_notes",
            headers={"Retry-After": retry},
        )
    note_id = uuid.uuid4().hex
    data = {"id": note_id, "text": text, "by": who, "timestamp": now_iso()}
    ingested = ext.bus.ingest([Event(f"coaching:{note_id}", {"type": events.COACHING, "data": data})], session)
    ext.metrics.coaching_notes.inc()
    logger.info("coaching note sent", extra={"session": session, "chars": len(text)})
    return jsonify({**data, "eventId": ingested.ids[0] if ingested.ids else None}), 201


@bp.post("/api/calls/<call_sid>/suggestion-uses")
@takes_body(COACHING_MAX_BODY)
def suggestion_used(call_sid):
    """Count one use of a suggested response: 204."""
    session = valid_session(call_sid)
    ext = relay()
    ext.access.identify(session, request.args.get("ticket"))
    body = json_body('{"operatorId": "intelligence_operator_...", "version": 1, "via": "input"}')
    body = body if isinstance(body, dict) else {}
    operator, version, via = body.get("operatorId"), body.get("version"), body.get("via")
    if not isinstance(operator, str) or ext.config.operators.get(operator) is not OperatorKind.SUGGESTION:
        raise InvalidPayload("operatorId must be a suggestion operator.", fields={"operatorId": ["Not one."]})
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 10000:
        raise InvalidPayload("version must be the operator's version number.", fields={"version": ["Not one."]})
    if via not in USES:
        raise InvalidPayload(f"via must be one of {', '.join(USES)}.", fields={"via": ["Not one of them."]})
    ext.metrics.suggestion_uses.labels(operator, str(version), via).inc()
    return "", 204
