"""The frame types of a call's log: the one home of their names, of what the snapshot keeps of each, and of
what the supervisor board shows.

Every event the relay logs is a frame ``{"type": T, "data": {...}}``. The snapshot (the ``initial`` frame a
fresh stream starts with) carries the transcript and the raw operator results in full, and for every other
type that :data:`FRAME_TYPES` gives a snapshot field, the latest frame's ``data``: one value, or, for a type
keyed by a data field (an insight per operator, an alert per rule, a dispute per category, a coaching note
per id), an object of the latest value per key. ``append.lua`` stores those latest values and updates the
board; it takes its tables from :func:`lua_prelude`, so Python and Lua name the same types.

The plugin's reducer (``plugin-cintel-rtt/src/.../types.ts``) and the console's scripts read the same names;
tests/contract/sse-frames.json holds an example of each, which pytest and jest both check.
"""

from typing import Dict, NamedTuple, Optional

import orjson

from .ids import CALL_SID_LUA


class FrameType(NamedTuple):
    """A logged frame type: its snapshot field (None: not in the snapshot's latest values), the data field
    that keys its latest values (None: one latest value), whether the board's summary reads it, and whether
    a value marked ``final`` (post-call) stays the snapshot's latest when a running one arrives after it."""

    snapshot: Optional[str] = None
    keyed_by: Optional[str] = None
    board: bool = False
    final: bool = False


#: Connection frames, never logged: ``connected`` opens every stream, ``initial`` is the snapshot.
CONNECTED = "connected"
INITIAL = "initial"
#: The supervisor board's stream: ``board`` (every live call, on connect), then ``call`` per change of one.
BOARD_SNAPSHOT = "board"
BOARD_CALL = "call"

TRANSCRIPT = "transcript"
OPERATOR_RESULT = "operator-result"
ADHERENCE = "adherence"
SENTIMENT = "sentiment"
SUMMARY = "summary"
SUGGESTION = "suggestion"
CALL_STATUS = "call-status"
#: An agent's "I did this" on a script category: ``{category, by, at, note, status: open|resolved, resolvedAt?}``.
DISPUTE = "dispute"
#: Any other operator's result, display-ready (:mod:`cintel_relay.insights`); the snapshot keeps the latest per operator.
INSIGHT = "insight"
#: A supervisor's note to the agent of a live call: ``{id, text, by, timestamp}``.
COACHING = "coaching"
#: An alert rule fired or cleared (:mod:`cintel_relay.alerts`): ``{rule, title, severity, audience, state, episode,
#: why, evidence, timestamp}``; the snapshot keeps the latest per rule, the board the firing ones.
ALERT = "alert"

#: Every logged frame type. The transcript and the operator results are the snapshot's lists.
FRAME_TYPES: Dict[str, FrameType] = {
    TRANSCRIPT: FrameType(board=True),
    OPERATOR_RESULT: FrameType(),
    ADHERENCE: FrameType("adherence", board=True),
    SENTIMENT: FrameType("sentiment", board=True),
    SUMMARY: FrameType("summary", final=True),
    SUGGESTION: FrameType("suggestion"),
    CALL_STATUS: FrameType("callStatus", board=True),
    DISPUTE: FrameType("disputes", keyed_by="category"),
    INSIGHT: FrameType("insights", keyed_by="operatorId"),
    COACHING: FrameType("coaching", keyed_by="id"),
    ALERT: FrameType("alerts", keyed_by="rule", board=True),
}

#: The snapshot's lists of whole frames' data, by frame type.
SNAPSHOT_LISTS = {TRANSCRIPT: "transcript", OPERATOR_RESULT: "operatorResults"}


def latest_field(frame_type: str, data: dict) -> Optional[str]:
    """The field of the session's ``latest`` hash that keeps this frame, or None when the snapshot does
    not keep it. (append.lua computes the same; tests/test_bus.py holds the two together.)"""
    spec = FRAME_TYPES.get(frame_type)
    if spec is None or spec.snapshot is None:
        return None
    return f"{frame_type}:{data[spec.keyed_by]}" if spec.keyed_by else frame_type


def snapshot_values(latest: Dict[str, bytes]) -> Dict[str, object]:
    """The snapshot's latest-value fields from a session's ``latest`` hash (frame type or ``type:key`` ->
    frame JSON): every snapshot field present, None (or an empty object, for keyed types) when unset."""
    values: Dict[str, object] = {}
    for spec in FRAME_TYPES.values():
        if spec.snapshot is not None:
            values[spec.snapshot] = {} if spec.keyed_by else None
    for field, raw in latest.items():
        frame_type, _, key = field.partition(":")
        found = FRAME_TYPES.get(frame_type)
        name = found.snapshot if found else None
        if found is None or name is None:
            continue  # the hash's own bookkeeping ("ended", "conversation")
        data = orjson.loads(raw)["data"]
        if found.keyed_by:
            keyed = values[name]
            assert isinstance(keyed, dict)
            keyed[key] = data
        else:
            values[name] = data
    return values


def lua_value(value) -> str:
    """A Lua literal for a string, or a list of strings (a Lua array). Written as JSON writes them, which Lua reads the
    same while there is nothing to escape: anything that would need an escape (JSON's and Lua's differ) is refused."""
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    literal = orjson.dumps(value).decode()
    if not isinstance(value, str) or "\\" in literal or not literal.isascii():
        raise ValueError(f"no plain Lua literal for {value!r}")
    return literal


def _lua_table(entries: Dict[str, str]) -> str:
    return "{" + ", ".join(f"[{lua_value(k)}] = {lua_value(v)}" for k, v in entries.items()) + "}"


def lua_prelude() -> str:
    """Lua defining ``snapshot_types`` (type -> the data field keying it, or ''), ``board_types``,
    ``final_types``, ``board_call_type`` and ``call_sid_pattern`` for the scripts: prepended by the script loader,
    so the Lua spells no frame type or id format of its own."""
    snapshot = {t: spec.keyed_by or "" for t, spec in FRAME_TYPES.items() if spec.snapshot is not None}
    board = {t: "1" for t, spec in FRAME_TYPES.items() if spec.board}
    final = {t: "1" for t, spec in FRAME_TYPES.items() if spec.final}
    return (
        f"local snapshot_types = {_lua_table(snapshot)}\nlocal board_types = {_lua_table(board)}\n"
        f"local final_types = {_lua_table(final)}\n"
        f"local board_call_type = {orjson.dumps(BOARD_CALL).decode()}\n"
        f"local call_sid_pattern = {orjson.dumps(CALL_SID_LUA).decode()}\n"
    )
