"""Pure functions that turn loaded Twilio payloads into the relay's events. No I/O here."""

import json
from datetime import datetime, timezone
from typing import Iterable, List, NamedTuple, Optional

from . import events
from .catalog import EMPTY, Catalog
from .ids import is_call_sid
from .insights import fields_of
from .operators import UNKNOWN_OPERATOR, OperatorKind, operator_name
from .script import Script, checklist, evaluate

AGENT_TYPES = {"HUMAN_AGENT", "AGENT", "AI_AGENT"}
TERMINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
SENTIMENT_LABELS = {"positive", "negative", "neutral", "mixed"}
#: The channel of a communication whose author names none (the spec requires one; see :func:`channel_of`).
UNKNOWN_CHANNEL = "UNKNOWN"
#: The trigger of a result computed once the conversation ended (a post-call Summary or adherence: facts F7, F11).
POST_CALL_TRIGGER = "CONVERSATION_END"
#: The union wrapper Twilio's SDK also unwraps around a JSON result.
_JSON_UNION = "com.twilio.cai.intelligence.JSONResult"


class Event(NamedTuple):
    """One entry for a session's log: the SSE frame, and the key that makes redelivery harmless."""

    dedupe: str
    frame: dict
    #: True when the event ends the session (the call completed): its data then expires sooner.
    ends: bool = False

    @property
    def type(self) -> str:
        return self.frame["type"]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(dedupe: str, type_: str, data: dict, ends: bool = False) -> Event:
    return Event(dedupe, {"type": type_, "data": data}, ends)


def speaker(participant_type: Optional[str], address: Optional[str], agent_addresses: Iterable[str]) -> str:
    """``agent`` or ``customer``: by participant type when known, else by the agent's known addresses."""
    kind = (participant_type or "").upper()
    if kind in AGENT_TYPES:
        return "agent"
    if kind == "CUSTOMER":
        return "customer"
    return "agent" if address and address in set(agent_addresses) else "customer"


def call_sid_in(values: Iterable[Optional[str]]) -> Optional[str]:
    """The first value that is a Call SID."""
    for value in values:
        if value and is_call_sid(value):
            return value
    return None


def channel_of(comm: dict) -> str:
    """A communication's ``author.channel`` uppercased: ``VOICE``, ``SMS``, ``WHATSAPP``, ``CHAT``, ...

    The spec requires the channel, so a communication without one is unusual: it is tagged ``UNKNOWN``
    rather than guessed, because calling it ``VOICE`` would show a text message as said on the call.
    """
    return ((comm.get("author") or {}).get("channel") or "").strip().upper() or UNKNOWN_CHANNEL


def communication_routing(comm: dict) -> dict:
    """Where a communication belongs: ``{"id", "channel", "call"}``, ``call`` being the Call SID in
    ``channelId`` for a VOICE communication and None for every other channel (an SMS has no call)."""
    channel = channel_of(comm)
    return {
        "id": comm["id"],
        "channel": channel,
        "call": call_sid_in([comm.get("channelId")]) if channel == "VOICE" else None,
    }


def session_for_participant(participant: dict) -> Optional[str]:
    """The Call SID of a participant's voice address, if it has one."""
    return call_sid_in(
        a.get("channelId") for a in participant.get("addresses") or [] if (a.get("channel") or "").upper() == "VOICE"
    )


def transcript_event(comm: dict, participant_type: Optional[str], agent_addresses: Iterable[str]) -> Optional[Event]:
    """A ``transcript`` event for a communication with text, else None."""
    content = comm.get("content") or {}
    text = (content.get("text") or "").strip()
    if not text:
        return None
    author = comm.get("author") or {}
    data = {
        "id": comm["id"],
        "timestamp": comm.get("occurredAt") or comm.get("createdAt") or now_iso(),
        "speaker": speaker(participant_type, author.get("address"), agent_addresses),
        "channel": channel_of(comm),
        "text": text,
    }
    return _event(f"comm:{comm['id']}", events.TRANSCRIPT, data)


def operator_result(conversation_id: str, result: dict) -> dict:
    """An operator result in the shape Twilio's sample plugin reads."""
    operator = result["operator"]
    details = result.get("executionDetails") or {}
    return {
        "id": result["id"],
        "timestamp": result.get("dateCreated") or now_iso(),
        "conversationId": conversation_id,
        "operator": {
            "id": operator["id"],
            "friendlyName": operator_name(operator),
            "version": operator.get("version"),
            "parameters": operator.get("parameters"),
        },
        "outputFormat": result.get("outputFormat"),
        "result": result.get("result"),
        # The whole operator result (Twilio's fields, as loaded), under the name Twilio's sample keeps it by.
        "rawPayload": result,
        "referenceIds": result.get("referenceIds") or [],
        "executionDetails": {
            "trigger": details.get("trigger"),
            "communications": details.get("communications"),
            "channels": details.get("channels") or [],
            "participants": details.get("participants") or [],
        },
    }


def trigger_of(result: dict) -> Optional[str]:
    """The result's ``executionDetails.trigger.on`` (``COMMUNICATION``, ``CONVERSATION_END``, ...), or None."""
    trigger = (result.get("executionDetails") or {}).get("trigger")
    on = trigger.get("on") if isinstance(trigger, dict) else None
    return on.upper() if isinstance(on, str) else None


def result_routing(result: dict) -> dict:
    """What an operator result says about where it belongs: ``{"communications": [...], "call": ...,
    "postCall": ...}``.

    ``communications`` holds ``executionDetails.communications.last`` then ``.first`` (the communications
    the result was computed from, newest first), leaving out missing ones and a ``first`` equal to
    ``last``; ``call`` is the first Call SID in ``referenceIds``, or None (Twilio only sometimes puts one
    there); ``postCall`` is True for a result computed when the conversation ended, which belongs to the
    conversation's last call even when that call has ended.
    """
    window = (result.get("executionDetails") or {}).get("communications")
    communications = []
    for end in ("last", "first"):
        comm = window.get(end) if isinstance(window, dict) else None
        if isinstance(comm, str) and comm and comm not in communications:
            communications.append(comm)
    references = [ref for ref in result.get("referenceIds") or [] if isinstance(ref, str)]
    return {
        "communications": communications,
        "call": call_sid_in(references),
        "postCall": trigger_of(result) == POST_CALL_TRIGGER,
    }


#: The adherence frame's field naming the transcript entries its result judged; append.lua turns it into each
#: category's ``evidence`` and removes it, so it never reaches the wire.
JUDGED = "judged"


def judged_window(result: dict) -> dict:
    """``{"first", "last"}``: the ids of the first and last communication a result was computed from
    (``executionDetails.communications``), the ids its transcript frames carry; None where missing."""
    window = (result.get("executionDetails") or {}).get("communications")
    window = window if isinstance(window, dict) else {}
    ends = {end: window.get(end) for end in ("first", "last")}
    return {end: value if isinstance(value, str) and value else None for end, value in ends.items()}


def json_result(result) -> Optional[dict]:
    """A JSON result's object: as sent, or decoded from ``{"payload": "<json string>"}`` (also inside
    Twilio's union wrapper), the shapes Twilio's own SDK reads; None when it is neither."""
    if isinstance(result, dict) and isinstance(result.get(_JSON_UNION), dict):
        result = result[_JSON_UNION]
    if isinstance(result, dict) and "payload" in result and "categories" not in result:
        payload = result["payload"]
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except (ValueError, RecursionError):  # not JSON, or nested past the parser: not a usable result
                return None
        result = payload
    return result if isinstance(result, dict) else None


def text_result(result) -> Optional[str]:
    """A TEXT result's text: ``{"text": ...}`` per the spec, or ``{"result": ...}`` or a bare string as
    Twilio's SDK also reads it; None when there is no text."""
    if isinstance(result, dict):
        result = result.get("text") if isinstance(result.get("text"), str) else result.get("result")
    return result.strip() if isinstance(result, str) and result.strip() else None


def label_result(result) -> Optional[str]:
    """A CLASSIFICATION result's label, lowercased: ``{"label": ...}`` per the spec, or a bare string as
    Twilio's SDK also reads it; None when there is no label."""
    if isinstance(result, dict):
        result = result.get("label")
    return result.strip().lower() if isinstance(result, str) and result.strip() else None


def _derived(kind: OperatorKind, result_id: str, result, script: Script) -> Optional[dict]:
    if kind is OperatorKind.SCRIPT:
        return evaluate(script, json_result(result))
    if kind is OperatorKind.SENTIMENT:
        label = label_result(result)
        return {"label": label} if label in SENTIMENT_LABELS else None
    text = text_result(result)
    if text is None:
        return None
    return {"id": result_id, "text": text} if kind is OperatorKind.SUGGESTION else {"text": text}


_DERIVED_TYPE = {
    OperatorKind.SCRIPT: events.ADHERENCE,
    OperatorKind.SENTIMENT: events.SENTIMENT,
    OperatorKind.SUMMARY: events.SUMMARY,
    OperatorKind.SUGGESTION: events.SUGGESTION,
}


def insight_data(result: dict, formatted: dict, catalog: Catalog) -> dict:
    """The ``insight`` data of a result of an operator that is not Twilio-authored (see
    :mod:`cintel_relay.insights`): titled by its catalog entry, else the name Twilio sent, else its id."""
    operator = formatted["operator"]
    entry = catalog.find(operator["id"], operator["friendlyName"])
    sent = operator["friendlyName"]
    kind = str(formatted.get("outputFormat") or (entry.output_format if entry else "JSON")).upper()
    raw = result.get("result")
    return {
        "operatorId": operator["id"],
        "operatorName": entry.name if entry else (sent if sent != UNKNOWN_OPERATOR else operator["id"]),
        "catalogKey": entry.key if entry else None,
        "version": operator.get("version"),
        "kind": kind,
        "fields": fields_of(kind, raw, entry, text_result(raw), json_result(raw)),
        "raw": raw,
    }


class ResultEvents(NamedTuple):
    """The events one operator result yields, and its :func:`result_routing` hints."""

    routing: dict
    events: List[Event]


def rule_execution_groups(payload: dict, operators, script: Script, catalog: Catalog = EMPTY) -> List[ResultEvents]:
    """Per operator result, in order, ``(routing, events)``: the result passes through as
    ``operator-result``; a result of a known operator also yields ``adherence``, ``sentiment``,
    ``summary`` or ``suggestion`` right after it, any other operator's an ``insight``. Null results are skipped."""
    groups = []
    for result in payload["operatorResults"]:
        if result is None:
            continue
        formatted = operator_result(payload["conversationId"], result)
        logged = [_event(f"opres:{result['id']}", events.OPERATOR_RESULT, formatted)]
        kind = operators.get(result["operator"]["id"])
        derived = _derived(kind, result["id"], result.get("result"), script) if kind else None
        routing = result_routing(result)
        type_ = _DERIVED_TYPE[kind] if kind else events.INSIGHT
        if kind is None:
            derived = insight_data(result, formatted, catalog)
        if derived is not None:
            derived.update(timestamp=formatted["timestamp"], operatorResultId=result["id"])
            if type_ == events.SUMMARY and routing["postCall"]:
                derived["final"] = True  # the post-call summary: a running one arriving late does not replace it
            if type_ == events.ADHERENCE:
                derived[JUDGED] = judged_window(result)
            logged.append(_event(f"opres:{result['id']}:{type_}", type_, derived))
        groups.append(ResultEvents(routing, logged))
    return groups


def call_status_event(form: dict) -> Event:
    """A ``call-status`` event from a Voice status callback."""
    status = form["CallStatus"]
    data = {"status": status, "timestamp": now_iso()}
    if form.get("CallDuration"):
        data["duration"] = form["CallDuration"]
    return _event(f"status:{form['CallSid']}:{status}", events.CALL_STATUS, data, ends=status in TERMINAL_CALL_STATUSES)


def deadline_event(script: Script, session: str, category: str) -> Event:
    """The ``adherence`` event announcing ``category`` overdue: append.lua merges it with the call's state
    (nothing is logged when the step was met meanwhile); its dedupe key makes it one per call and category."""
    data = {**checklist(script), "deadline": category, "timestamp": now_iso()}
    return _event(f"deadline:{session}:{category}", events.ADHERENCE, data)


def dispute_event(script: Script, category: str, by: Optional[str], note: Optional[str], dispute_id: str) -> Event:
    """A ``dispute`` event: the agent ``by`` says the step ``category`` was done; ``base`` (the script's
    checklist, for a call without adherence state yet) is read and removed by append.lua."""
    data = {
        "id": dispute_id,
        "category": category,
        "by": by,
        "at": now_iso(),
        "note": note,
        "status": "open",
        "base": checklist(script),
    }
    return _event(f"dispute:{dispute_id}", events.DISPUTE, data)


def conversation_closed_event(conversation: dict, dedupe: str) -> Optional[Event]:
    """A ``call-status`` event when an Orchestrator conversation closes, else None."""
    if (conversation.get("status") or "").upper() != "CLOSED":
        return None
    return _event(dedupe, events.CALL_STATUS, {"status": "completed", "timestamp": now_iso()}, ends=True)


def participant_type(participant: dict, agent_addresses: Iterable[str]) -> str:
    """The participant's type; an unknown participant at an agent's address counts as an agent."""
    kind = (participant.get("type") or "UNKNOWN").upper()
    if kind in AGENT_TYPES or kind == "CUSTOMER":
        return kind
    agents = set(agent_addresses)
    addresses = {participant.get("name")} | {a.get("address") for a in participant.get("addresses") or []}
    return "AGENT" if addresses & agents else kind


def board_participant(participant: dict, kind: str) -> dict:
    """The supervisor board's ``agent`` or ``customer`` field for a participant: its name, else its address."""
    addresses = [a.get("address") for a in participant.get("addresses") or [] if a.get("address")]
    name = participant.get("name") or next(iter(addresses), None)
    if not name:
        return {}
    return {"agent" if kind in AGENT_TYPES else "customer": name}
