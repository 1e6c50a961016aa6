"""A call's report from its log and snapshot: a pure function, one function per section (docs/reports.md).

To add a section, write ``def section(record) -> dict`` returning the report's new top-level fields, and add it
to :data:`SECTIONS`; then document the fields in docs/reports.md.
"""

from datetime import datetime, timezone
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from .. import events
from ..normalize import TERMINAL_CALL_STATUSES

#: The version of the report's shape; bumped only for a change that is not an addition.
SCHEMA_VERSION = 1


class CallRecord(NamedTuple):
    """What the relay holds about a call: its log in order as (id, frame), its snapshot's latest values
    (:func:`cintel_relay.events.snapshot_values`), whether it ended, and its conversation."""

    call_sid: str
    log: List[Tuple[str, dict]]
    latest: Dict[str, object]
    ended: bool
    conversation: Optional[str]
    script_name: str


def iso_ms(ms: Optional[int]) -> Optional[str]:
    """Epoch milliseconds as an ISO 8601 UTC timestamp (ms precision), or None."""
    if ms is None:
        return None
    stamp = datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _ms(event_id: str) -> int:
    """A log id's time: Redis's clock, in ms, when the event was stored."""
    return int(event_id.partition("-")[0])


def _of_type(record: CallRecord, frame_type: str) -> List[Tuple[str, dict]]:
    return [(i, frame["data"]) for i, frame in record.log if frame.get("type") == frame_type]


def identity(record: CallRecord) -> dict:
    return {"callSid": record.call_sid, "conversationId": record.conversation}


def timing(record: CallRecord) -> dict:
    """``status``, ``startedAt``, ``endedAt`` and ``durationSeconds`` (Twilio's ``CallDuration`` when it sent one)."""
    started = _ms(record.log[0][0]) if record.log else None
    ending = [(i, d) for i, d in _of_type(record, events.CALL_STATUS) if d.get("status") in TERMINAL_CALL_STATUSES]
    ended = _ms(ending[0][0]) if ending else None
    duration: Optional[int] = None
    told = next((d["duration"] for _, d in ending if str(d.get("duration", "")).isdigit()), None)
    if told is not None:
        duration = int(told)
    elif started is not None and ended is not None:
        duration = round((ended - started) / 1000)
    return {
        "status": "completed" if record.ended else "live",
        "startedAt": iso_ms(started),
        "endedAt": iso_ms(ended),
        "durationSeconds": duration,
    }


def script(record: CallRecord) -> dict:
    return {"script": {"name": record.script_name}}


def adherence(record: CallRecord) -> dict:
    latest = record.latest.get("adherence")
    if not isinstance(latest, dict):
        return {"adherence": None}
    categories = [
        {"key": c["key"], "label": c["label"], "weight": c["weight"], "status": c["status"]}
        for c in latest.get("categories", [])
    ]
    return {"adherence": {"score": latest.get("score"), "categories": categories}}


def sentiment(record: CallRecord) -> dict:
    latest = record.latest.get("sentiment")
    return {"sentiment": latest.get("label") if isinstance(latest, dict) else None}


def summary(record: CallRecord) -> dict:
    latest = record.latest.get("summary")
    if not isinstance(latest, dict):
        return {"summary": None}
    return {"summary": {"text": latest["text"], "final": bool(latest.get("final"))}}


def suggestions(record: CallRecord) -> dict:
    return {
        "suggestions": [
            {"id": d.get("id"), "text": d.get("text"), "timestamp": d.get("timestamp")}
            for _, d in _of_type(record, events.SUGGESTION)
        ]
    }


def insights(record: CallRecord) -> dict:
    """The latest insight of each custom (or unknown) operator, by operator id: name, kind, fields, raw result."""
    latest = record.latest.get("insights")
    keep = ("operatorName", "catalogKey", "kind", "fields", "raw", "timestamp")
    values = latest.items() if isinstance(latest, dict) else []
    return {"insights": {op: {f: d.get(f) for f in keep} for op, d in values if isinstance(d, dict)}}


def coaching(record: CallRecord) -> dict:
    """The supervisors' coaching notes to the agent, in the order they were sent."""
    fields = ("id", "text", "by", "timestamp")
    return {"coaching": [{f: d.get(f) for f in fields} for _, d in _of_type(record, events.COACHING)]}


def transcript(record: CallRecord) -> dict:
    fields = ("id", "timestamp", "speaker", "channel", "text")
    return {"transcript": [{f: d.get(f) for f in fields} for _, d in _of_type(record, events.TRANSCRIPT)]}


def operator_results(record: CallRecord) -> dict:
    return {"operatorResults": [d for _, d in _of_type(record, events.OPERATOR_RESULT)]}


#: The report's sections, in the order of its fields.
SECTIONS: Tuple[Callable[[CallRecord], dict], ...] = (
    identity,
    timing,
    script,
    adherence,
    sentiment,
    summary,
    suggestions,
    insights,
    coaching,
    transcript,
    operator_results,
)


def build_report(record: CallRecord) -> dict:
    """The report of a call as its data stands (``final`` false, ``revision`` 0: not settled)."""
    report: dict = {"schemaVersion": SCHEMA_VERSION, "final": False, "revision": 0, "settledAt": None}
    for section in SECTIONS:
        report.update(section(record))
    return report


def same_content(a: dict, b: dict) -> bool:
    """True when two reports say the same about the call (whatever their revision and settling time)."""
    ignored = ("final", "revision", "settledAt")
    return {k: v for k, v in a.items() if k not in ignored} == {k: v for k, v in b.items() if k not in ignored}
