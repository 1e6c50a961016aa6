"""``POST /webhook/cor-event`` (alias ``/webhook/maestro-event``): Conversation Orchestrator events."""

from flask import Blueprint, request

from .. import normalize
from ..logs import annotate
from ..schemas import EVENT_DATA_SCHEMAS, OrchestratorEventSchema
from . import accepted, load, relay, signed_json

bp = Blueprint("orchestrator", __name__)
_envelope = OrchestratorEventSchema()


def _communication(ext, comm):
    session = normalize.session_for_communication(comm)
    annotate(session=session)
    author = comm.get("author") or {}
    participant_type = ext.bus.participant_type(comm["conversationId"], author.get("participantId"))
    event = normalize.transcript_event(comm, participant_type, ext.config.agent_addresses)
    return ext.bus.ingest([event] if event else [], session=session, conversation=comm["conversationId"])


def _participant(ext, participant):
    conversation = participant["conversationId"]
    kind = normalize.participant_type(participant, ext.config.agent_addresses)
    ext.bus.remember_participant(conversation, participant["id"], kind)
    session = normalize.session_for_participant(participant)
    board = normalize.board_participant(participant, kind)
    return ext.bus.ingest([], session=session, conversation=conversation, board=board) if session else None


def _conversation(ext, conversation, token):
    event = normalize.conversation_closed_event(conversation, token or f"closed:{conversation['id']}")
    return ext.bus.ingest([event], conversation=conversation["id"]) if event else None


_HANDLERS = {
    "COMMUNICATION_CREATED": _communication,
    "PARTICIPANT_ADDED": _participant,
    "PARTICIPANT_UPDATED": _participant,
}


@bp.post("/webhook/cor-event")
@bp.post("/webhook/maestro-event")
def cor_event():
    """Transcript lines, the conversation-to-call mapping, participants, and conversation closing."""
    envelope = load(_envelope, signed_json(), "Orchestrator event")
    kind = envelope["eventType"]
    schema = EVENT_DATA_SCHEMAS.get(kind)
    if schema is None:
        return accepted(ignored=kind)
    data = load(schema, envelope["data"], f"{kind} data")
    annotate(conversation=data.get("conversationId") or data.get("id"))
    ext = relay()
    if kind == "CONVERSATION_UPDATED":
        token = request.headers.get("I-Twilio-Idempotency-Token")
        return accepted(_conversation(ext, data, token and f"token:{token}"))
    return accepted(_HANDLERS[kind](ext, data))
