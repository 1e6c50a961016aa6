"""Pure functions that turn loaded Twilio payloads into the relay's events. No I/O here."""

import re
from datetime import datetime, timezone
from typing import Iterable, List, NamedTuple, Optional, Tuple

from .operators import OperatorKind
from .script import Script, evaluate

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
AGENT_TYPES = {"HUMAN_AGENT", "AGENT", "AI_AGENT"}
TERMINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
SENTIMENT_LABELS = {"positive", "negative", "neutral", "mixed"}


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
        if value and CALL_SID.fullmatch(value):
            return value
    return None


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
        "text": text,
    }
    return _event(f"comm:{comm['id']}", "transcript", data)


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
            "friendlyName": operator.get("displayName") or operator.get("friendlyName") or "Unknown Operator",
            "version": operator.get("version"),
            "parameters": operator.get("parameters"),
        },
        "outputFormat": result.get("outputFormat"),
        "result": result.get("result"),
        "referenceIds": result.get("referenceIds") or [],
        "executionDetails": {
            "trigger": details.get("trigger"),
            "communications": details.get("communications"),
            "channels": details.get("channels") or [],
            "participants": details.get("participants") or [],
        },
    }


def _derived(kind: OperatorKind, result, script: Script) -> Optional[dict]:
    if kind is OperatorKind.SCRIPT:
        return evaluate(script, result)
    if not isinstance(result, dict):
        return None
    if kind is OperatorKind.SENTIMENT:
        label = str(result.get("label") or "").strip().lower()
        return {"label": label} if label in SENTIMENT_LABELS else None
    text = result.get("text")
    return {"text": text.strip()} if isinstance(text, str) and text.strip() else None


_DERIVED_TYPE = {OperatorKind.SCRIPT: "adherence", OperatorKind.SENTIMENT: "sentiment", OperatorKind.SUMMARY: "summary"}


def result_routing(result: dict) -> dict:
    """Where a result belongs: the communications it was computed from (``last`` first), and a Call SID
    among its ``referenceIds``."""
    comms = (result.get("executionDetails") or {}).get("communications") or {}
    return {
        "communications": [c for c in (comms.get("last"), comms.get("first")) if isinstance(c, str) and c],
        "call": call_sid_in(result.get("referenceIds") or []),
    }


def rule_execution_groups(payload: dict, operators, script: Script) -> List[Tuple[dict, List[Event]]]:
    """Events for a rule execution, per result with its :func:`result_routing`: each result passes through
    as ``operator-result``; results of known operators also yield ``adherence``, ``sentiment`` or
    ``summary``. Null results are skipped."""
    groups = []
    for result in payload["operatorResults"]:
        if result is None:
            continue
        formatted = operator_result(payload["conversationId"], result)
        events = [_event(f"opres:{result['id']}", "operator-result", formatted)]
        kind = operators.get(result["operator"]["id"])
        derived = _derived(kind, result.get("result"), script) if kind else None
        if derived is not None:
            derived.update(timestamp=formatted["timestamp"], operatorResultId=result["id"])
            type_ = _DERIVED_TYPE[kind]
            events.append(_event(f"opres:{result['id']}:{type_}", type_, derived))
        groups.append((result_routing(result), events))
    return groups


def rule_execution_events(payload: dict, operators, script: Script) -> List[Event]:
    """Every event of a rule execution, in order (see :func:`rule_execution_groups`)."""
    return [event for _, events in rule_execution_groups(payload, operators, script) for event in events]


def communication_routing(comm: dict) -> dict:
    """A communication's id, its channel (upper case), and for a voice one the Call SID it belongs to."""
    channel = ((comm.get("author") or {}).get("channel") or "").upper()
    return {"id": comm["id"], "channel": channel,
            "call": call_sid_in([comm.get("channelId")]) if channel == "VOICE" else None}


def call_status_event(form: dict) -> Event:
    """A ``call-status`` event from a Voice status callback."""
    status = form["CallStatus"]
    data = {"status": status, "timestamp": now_iso()}
    if form.get("CallDuration"):
        data["duration"] = form["CallDuration"]
    return _event(f"status:{form['CallSid']}:{status}", "call-status", data, ends=status in TERMINAL_CALL_STATUSES)


def conversation_closed_event(conversation: dict, dedupe: str) -> Optional[Event]:
    """A ``call-status`` event when an Orchestrator conversation closes, else None."""
    if (conversation.get("status") or "").upper() != "CLOSED":
        return None
    return _event(dedupe, "call-status", {"status": "completed", "timestamp": now_iso()}, ends=True)


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
