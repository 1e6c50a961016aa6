"""``POST /webhook/cor-event`` (alias ``/webhook/maestro-event``): Conversation Orchestrator events.

A conversation is not a call: with GROUP_BY_PROFILE it holds a customer's calls and digital threads.
Each event is routed by the bus (route.lua): a call's utterances to the call, a digital message to the
conversation's own session and to its live call, the conversation's closing to each of its sessions.
"""

from typing import List, Tuple

from flask import Blueprint

from .. import normalize
from ..bus.routing import Route
from ..logs import annotate
from ..normalize import Event
from ..schemas import EVENT_DATA_SCHEMAS, OrchestratorEventSchema
from ..server.bodies import takes_body
from . import flask_view, load, signed_json

bp = Blueprint("orchestrator", __name__)
_envelope = OrchestratorEventSchema()
ROUTE, ALIAS = "/webhook/cor-event", "/webhook/maestro-event"
LEAN_ROUTES = {("POST", ROUTE): ROUTE, ("POST", ALIAS): ALIAS}


def communication_item(bus, config, comm) -> Tuple[Route, List[Event]]:
    """Where a loaded communication goes and its transcript event (none without text): for the webhook, and
    for a report's reconciliation with Twilio's API (the same dedupe key either way)."""
    routing = normalize.communication_routing(comm)
    if routing["call"]:
        route = Route("voice", comm=routing["id"], call=routing["call"])
    elif routing["channel"] not in ("VOICE", normalize.UNKNOWN_CHANNEL):
        route = Route("text", comm=routing["id"])
    else:
        route = Route("result")  # no channel to go by: it follows the conversation's current session
    author = comm.get("author") or {}
    participant_type = bus.remembered_participant_type(comm["conversationId"], author.get("participantId"))
    event = normalize.transcript_event(comm, participant_type, config.agent_addresses)
    return route, [event] if event else []


def _communication(ext, comm, environ):
    annotate(environ, session=normalize.communication_routing(comm)["call"])
    return ext.bus.route(comm["conversationId"], [communication_item(ext.bus, ext.config, comm)])


def _participant(ext, participant, _environ):
    conversation = participant["conversationId"]
    kind = normalize.participant_type(participant, ext.config.agent_addresses)
    ext.bus.remember_participant(conversation, participant["id"], kind)
    session = normalize.session_for_participant(participant)
    if not session:
        return None
    board = normalize.board_participant(participant, kind)
    return ext.bus.route(conversation, [(Route("call", call=session), [])], board=board, board_session=session)


def _conversation(ext, conversation, _environ):
    # Deduplicated on the conversation itself, which the signature covers (the idempotency token is not).
    event = normalize.conversation_closed_event(conversation, f"closed:{conversation['id']}")
    if event is None:
        return None
    result = ext.bus.route(conversation["id"], [(Route("conv"), [event])])
    ext.reports.followed(result, ended=True)
    return result


_HANDLERS = {
    "COMMUNICATION_CREATED": _communication,
    "PARTICIPANT_ADDED": _participant,
    "PARTICIPANT_UPDATED": _participant,
    "CONVERSATION_UPDATED": _conversation,
}


def cor_event(ext, req):
    """Transcript lines, the calls of a conversation, participants, and conversation closing."""
    envelope = load(_envelope, signed_json(ext, req), "Orchestrator event")
    kind = envelope["eventType"]
    schema = EVENT_DATA_SCHEMAS.get(kind)
    if schema is None:
        return None, {"ignored": kind}
    data = load(schema, envelope["data"], f"{kind} data")
    annotate(req.environ, conversation=data.get("conversationId") or data.get("id"))
    return _HANDLERS[kind](ext, data, req.environ), {}


_view = takes_body()(flask_view(cor_event))
bp.post(ROUTE)(_view)
bp.post(ALIAS)(_view)
