"""``POST /api/calls/<CallSid>/disputes``: an agent says "I did this" on a script step the model did not tick.

Authorized exactly as the call's stream (``?ticket=``, bound to the call and the agent's identity; open when
``CINTEL_STREAM_AUTH=none``). The dispute is logged as a ``dispute`` event and attached to the category in the
adherence state, next to the model's verdict, never replacing it; a later met verdict resolves it (append.lua).
One open dispute per category; none on a met step. The note is stored, never logged.
"""

import logging
import uuid

from flask import Blueprint, jsonify, request

from ..errors import Conflict, InvalidPayload, NotFound
from ..extension import relay
from ..ids import valid_session
from ..normalize import dispute_event
from ..security import json_body
from ..server.bodies import takes_body

logger = logging.getLogger(__name__)

bp = Blueprint("disputes", __name__)

#: A dispute is a category and a short note; anything bigger is refused with 413 before it is read.
DISPUTE_MAX_BODY = 4096
#: The longest note, in characters.
MAX_NOTE = 500

_REFUSALS = {
    "refused:unknown": (NotFound, "the relay has no events of this call (unknown, or its data expired)."),
    "refused:met": (Conflict, "the model already judged this step met; there is nothing to dispute."),
    "refused:open": (Conflict, "this step already has an open dispute; it is resolved when the step is met."),
}


def _dispute(script):
    """The ``(category key, note)`` of the request's ``{"category", "note"?}`` body, or a 4xx naming the problem."""
    request.max_content_length = DISPUTE_MAX_BODY
    body = json_body('{"category": "<script category>", "note": "<optional, at most 500 characters>"}')
    if not isinstance(body, dict):
        raise InvalidPayload('send {"category": "...", "note": "..."}.', fields={"category": ["Missing."]})
    raw, note = body.get("category"), body.get("note")
    category = script.find(raw) if isinstance(raw, str) else None
    if category is None:
        keys = [c.key for c in script.categories]
        raise InvalidPayload(
            f"category must be one of the script's categories: {', '.join(keys)}.",
            fields={"category": ["Unknown category." if isinstance(raw, str) else "Missing or not a string."]},
        )
    if note is not None and not isinstance(note, str):
        raise InvalidPayload("note must be a string.", fields={"note": ["Not a string."]})
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidPayload(
            f"note is {len(note)} characters; keep it to {MAX_NOTE}.", fields={"note": [f"Longer than {MAX_NOTE}."]}
        )
    return category.key, note


@bp.post("/api/calls/<call_sid>/disputes")
@takes_body(DISPUTE_MAX_BODY)
def open_dispute(call_sid):
    """Open a dispute on a category of the call's checklist: 201 with the dispute."""
    valid_session(call_sid)
    claims = relay().access.authorize(call_sid, request.args.get("ticket"))
    who = claims.identity if claims is not None else None
    ext = relay()
    category, note = _dispute(ext.script)
    event = dispute_event(ext.script, category, who, note, uuid.uuid4().hex)
    outcome = ext.bus.dispute(call_sid, event)
    if outcome in _REFUSALS:
        error, message = _REFUSALS[outcome]
        raise error(message)
    logger.info("dispute opened", extra={"session": call_sid, "category": category, "noted": note is not None})
    data = {k: v for k, v in event.frame["data"].items() if k != "base"}
    return jsonify({**data, "eventId": outcome}), 201
