"""The relay's identifiers and their one parser each: a Call SID, a session id, a log (stream) id.

Patterns are matched whole (``fullmatch``; ``\\Z`` where a library only offers ``match``), so a trailing
newline never passes for an id.
"""

import re
from typing import Optional, Tuple

from .errors import BadRequest

#: A Voice Call SID: CA + 32 hex digits.
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
#: The same as a Lua pattern, for the scripts that tell a call's session from a conversation's.
CALL_SID_LUA = "^CA" + "%x" * 32 + "$"
#: The same, for validators that only ``match`` (marshmallow's ``Regexp``).
CALL_SID_WHOLE = re.compile(CALL_SID.pattern + r"\Z")
#: A session: a Call SID, or a conversation id for a conversation's digital thread.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{2,100}")
#: A log id as Redis writes it: two unsigned 64-bit numbers in ASCII digits.
EVENT_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


def is_call_sid(value) -> bool:
    return isinstance(value, str) and CALL_SID.fullmatch(value) is not None


def session_kind(session_id: str) -> str:
    """What a session is: ``call`` (its id is a Call SID) or ``conversation`` (a conversation's digital
    thread, SMS or WhatsApp, with no call)."""
    return "call" if is_call_sid(session_id) else "conversation"


def parse_id(event_id) -> Optional[Tuple[int, int]]:
    """A log id (str or bytes) as a comparable tuple, or None when it is not one."""
    if isinstance(event_id, bytes):
        event_id = event_id.decode("ascii", "replace")
    match = EVENT_ID.fullmatch(event_id) if isinstance(event_id, str) else None
    if match is None:
        return None
    ms, seq = int(match.group(1)), int(match.group(2))
    return (ms, seq) if ms < 2**64 and seq < 2**64 else None


def is_event_id(text: str) -> bool:
    """True when ``text`` can be a log id; a client's ``Last-Event-ID`` that is not one counts as unknown."""
    return parse_id(text) is not None


def valid_session(session_id: str) -> str:
    """The session id, or :class:`BadRequest` when it cannot be a Call SID or conversation id."""
    if not SESSION_ID.fullmatch(session_id):
        raise BadRequest("session id must be a Call SID (CA...) or conversation id: letters, digits, _ and -.")
    return session_id
