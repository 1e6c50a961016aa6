"""Every Redis key and channel name of the relay: the one place they are spelled.

The Lua scripts build no names of their own: they take these through KEYS, and the single-node
driver (ingest.lua) builds a session's keys from :data:`SESSION_KEY_TEMPLATE`, passed in ARGV.
A session's keys share the
``{<session>}`` hash tag and a conversation's keys the ``{<conversation>}`` tag, so every script
call touches one hash slot and runs unchanged on Redis Cluster::

    cintel:{<session>}:log         stream: the session's ordered event log (bounded, expiring)
    cintel:{<session>}:latest      hash: last frame of each snapshot type, the "ended" flag, the
                                   "conversation" the session belongs to, and its bookkeeping:
                                   "started", "deadlines" (scheduled), "listed" (on the board's
                                   list), "refreshed" (when its keys last got their TTLs)
    cintel:{<session>}:met         set: script categories met during the call (they stay met)
    cintel:{<session>}:said        sorted set: transcript entry ids by when they were said (ms; arrival
                                   order breaks a tie): the utterances an adherence verdict judged,
                                   and when (its evidence)
    cintel:{<session>}:seen        set: dedupe keys of the events in the log
    cintel:{<session>}:board       string: the call's summary for the supervisor board
    cintel:{<session>}:ended       string: tombstone of an ended call, outliving its data, so a replayed
                                   webhook cannot bring the call back
    cintel:{<session>}:events      channel: each logged frame, SSE-formatted with its id
    cintel:conv:{<conv>}:state     hash: "current" session, "text" (the conversation has a digital
                                   thread), "call:<CallSid>" = live | ended for each of its calls
    cintel:conv:{<conv>}:comms     hash: communication id -> the session it belongs to
    cintel:conv:{<conv>}:routes    hash: dedupe key -> the sessions that event went to ("" while held)
    cintel:conv:{<conv>}:pending   list: events held until the session they belong to is known
    cintel:conv:{<conv>}:participants  hash: participant id -> participant type
    cintel:board:{all}             sorted set: live sessions by last update (ms)
    cintel:board:{all}:events      channel: every board summary change, SSE-formatted (both in one slot)
    cintel:report:{<CallSid>}      string: the call's settled report (JSON), kept CINTEL_REPORT_TTL after the call
    cintel:due:{<name>}            sorted set: a due queue's items by the time they come due (ms)
    cintel:due:{<name>}:items      hash: item -> its payload (JSON)

A session is a Call SID, or a conversation id for a conversation's digital thread.
"""

from typing import Tuple

BOARD = "cintel:board:{all}"
BOARD_CHANNEL = "cintel:board:{all}:events"

#: A session's keys are ``prefix + session + suffix``: log, latest, met, seen, board, ended, said, channel.
SESSION_KEY_TEMPLATE: Tuple[str, Tuple[str, ...]] = (
    "cintel:{",
    ("}:log", "}:latest", "}:met", "}:seen", "}:board", "}:ended", "}:said", "}:events"),
)
_CONVERSATION_SUFFIXES = ("state", "comms", "routes", "pending")


def session_keys(session: str) -> Tuple[str, ...]:
    """KEYS of the append script: log, latest, met, seen, board, ended, said, then the channel."""
    prefix, suffixes = SESSION_KEY_TEMPLATE
    return tuple(prefix + session + suffix for suffix in suffixes)


def log_key(session: str) -> str:
    return session_keys(session)[0]


def latest_key(session: str) -> str:
    return session_keys(session)[1]


def board_key(session: str) -> str:
    return session_keys(session)[4]


def channel(session: str) -> str:
    """The pub/sub channel of a session's frames (published in the slot of its log)."""
    return session_keys(session)[-1]


def coaching_rate_key(session: str, window: int) -> str:
    """Coaching notes sent to a call in one minute (``window``: the minute's number), across replicas."""
    return f"cintel:{{{session}}}:coaching-rate:{window}"


def conversation_keys(conversation: str) -> Tuple[str, ...]:
    """KEYS of the route and settle scripts: state, comms, routes, pending."""
    return tuple(f"cintel:conv:{{{conversation}}}:{s}" for s in _CONVERSATION_SUFFIXES)


def participants_key(conversation: str) -> str:
    return f"cintel:conv:{{{conversation}}}:participants"


def report_key(call_sid: str) -> str:
    """The settled report of a call: in the call's own slot, outliving its live data."""
    return f"cintel:report:{{{call_sid}}}"


def due_keys(name: str) -> Tuple[str, str]:
    """KEYS of a due queue (see :mod:`cintel_relay.bus.due`): its items by due time, and their payloads."""
    return f"cintel:due:{{{name}}}", f"cintel:due:{{{name}}}:items"
