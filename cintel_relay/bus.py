"""The event bus on Redis: per-session ordered logs, the conversation map, and publishing.

Key and channel layout (every key of a session shares the ``{session}`` hash tag)::

    cintel:{<session>}:log              stream: the session's ordered event log (bounded, expiring)
    cintel:{<session>}:latest           hash: last adherence/sentiment/summary/call-status frame,
                                        "ended" flag, the "conversation" mapped to the session
    cintel:{<session>}:met              set: script categories met during the call (they stay met)
    cintel:{<session>}:seen             set: dedupe keys of deliveries without a conversation
    cintel:{<session>}:events           pub/sub channel: each logged frame, SSE-formatted with its id
    cintel:{<session>}:board            string: the call's summary for the supervisor board (expiring)
    cintel:board                        sorted set: live sessions by last update (ms); also the channel
                                        on which every summary change is published, SSE-formatted
    cintel:conv:{<conversation>}:session     string: the session (Call SID) a conversation maps to
    cintel:conv:{<conversation>}:pending     list: events held until the conversation is mapped
    cintel:conv:{<conversation>}:participants  hash: participant id -> participant type
    cintel:conv:{<conversation>}:seen        set: dedupe keys of deliveries already taken

Everything expires after CINTEL_SESSION_TTL, or CINTEL_COMPLETED_TTL once the call has ended.
"""

import collections
import logging
import threading
from importlib import resources
from typing import Iterable, Iterator, List, NamedTuple, Optional, Tuple

import orjson
import redis

from .errors import Unavailable
from .normalize import Event

logger = logging.getLogger(__name__)

HUB_CHANNEL = "cintel:hub"
BOARD = "cintel:board"
SNAPSHOT_TYPES = {"adherence": "adherence", "sentiment": "sentiment", "summary": "summary", "call-status": "callStatus"}
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def log_key(session: str) -> str:
    return f"cintel:{{{session}}}:log"


def latest_key(session: str) -> str:
    return f"cintel:{{{session}}}:latest"


def channel(session: str) -> str:
    return f"cintel:{{{session}}}:events"


def board_key(session: str) -> str:
    return f"cintel:{{{session}}}:board"


def participants_key(conversation: str) -> str:
    return f"cintel:conv:{{{conversation}}}:participants"


# The ingest script (ingest.lua): dedupe, hold or append, publish, all atomically in Redis.
INGEST_LUA = resources.files("cintel_relay").joinpath("ingest.lua").read_text(encoding="utf-8")



class IngestResult(NamedTuple):
    """What happened to each event of a delivery: logged (with its id), held, or a duplicate."""

    ids: List[str]
    held: int
    duplicates: int

    def as_dict(self) -> dict:
        return {"logged": len(self.ids), "held": self.held, "duplicates": self.duplicates}


class Snapshot(NamedTuple):
    last_id: Optional[str]
    frame: dict


def parse_id(event_id) -> Optional[Tuple[int, int]]:
    """A stream id as a comparable tuple, or None when it is not one."""
    if isinstance(event_id, bytes):
        event_id = event_id.decode("ascii", "replace")
    ms, sep, seq = str(event_id).partition("-")
    if not (sep and ms.isdigit() and seq.isdigit()):
        return None
    return int(ms), int(seq)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Slot:
    __slots__ = ("args", "result", "done")

    def __init__(self, args):
        self.args = args
        self.result = None
        self.done = threading.Event()


class _GroupCommit:
    """Runs the ingest script for concurrent requests of a process in one pipeline per round trip.

    Under load many webhook greenlets ingest at once; sending their script calls together saves a
    round trip and a syscall each, which is most of a webhook's cost.
    """

    def __init__(self, client: redis.Redis, script: str, max_batch: int = 256):
        self._client = client
        self._script = script
        self._sha = None
        self._max_batch = max_batch
        self._queue = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flusher = None

    def call(self, args):
        slot = _Slot(args)
        self._queue.append(slot)
        if self._flusher is None:
            with self._lock:
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._run, name="cintel-ingest", daemon=True)
                    self._flusher.start()
        self._wake.set()
        slot.done.wait()
        if isinstance(slot.result, Exception):
            raise slot.result
        return slot.result

    def _run(self):
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
                try:
                    results = self._execute([slot.args for slot in batch])
                except Exception as exc:  # handed to every waiting caller, who raises it
                    results = [exc] * len(batch)
                for slot, result in zip(batch, results):
                    slot.result = result
                    slot.done.set()

    def _execute(self, calls):
        if self._sha is None:
            self._sha = self._client.script_load(self._script)
        results = self._pipeline(calls)
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
            self._sha = self._client.script_load(self._script)  # Redis restarted and lost its scripts
            results = self._pipeline(calls)
        return results

    def _pipeline(self, calls):
        with self._client.pipeline(transaction=False) as pipe:
            for args in calls:
                pipe.evalsha(self._sha, 0, *args)
            return pipe.execute(raise_on_error=False)


class EventBus:
    """Writes and reads session logs. Every Redis failure surfaces as :class:`Unavailable`."""

    def __init__(self, client: redis.Redis, config, participant_cache: int = 10000):
        self.redis = client
        self._config = config
        self._ingest = _GroupCommit(client, INGEST_LUA)
        self._participants = collections.OrderedDict()
        self._participant_cache = participant_cache

    def ingest(self, events: Iterable[Event], session: Optional[str] = None, conversation: Optional[str] = None,
               board: Optional[dict] = None):
        """Dedupe, then append to the session's log (or hold until ``conversation`` is mapped), and publish.

        With ``session`` and ``conversation`` both given, also maps the conversation to the session and
        flushes what was held for it, before these events. ``board`` holds fields (such as the agent's
        name) to set on the call's board summary once its session is known.
        """
        args = [session or "", conversation or "", self._config.session_ttl, self._config.completed_ttl,
                self._config.log_maxlen, orjson.dumps(board) if board else ""]
        for event in events:
            args += [event.dedupe, event.type, "1" if event.ends else "0", orjson.dumps(event.frame)]
        try:
            outcome = [_text(o) for o in self._ingest.call(args)]
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable; the delivery was not stored, retry later.") from exc
        return IngestResult(
            ids=[o for o in outcome if o not in ("held", "duplicate")],
            held=outcome.count("held"),
            duplicates=outcome.count("duplicate"),
        )

    def remember_participant(self, conversation: str, participant_id: str, participant_type: Optional[str]):
        key = participants_key(conversation)
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, participant_id, participant_type or "UNKNOWN")
                pipe.expire(key, self._config.session_ttl)
                pipe.execute()
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable; the participant was not stored, retry later.") from exc

    def participant_type(self, conversation: str, participant_id: Optional[str]) -> Optional[str]:
        """A participant's type; known types are cached per process (a participant keeps its type)."""
        if not participant_id:
            return None
        key = (conversation, participant_id)
        if key in self._participants:
            return self._participants[key]
        try:
            value = self.redis.hget(participants_key(conversation), participant_id)
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        if not value or value == b"UNKNOWN":
            return None  # not added (or not typed) yet: ask again next time
        self._participants[key] = _text(value)
        if len(self._participants) > self._participant_cache:
            self._participants.popitem(last=False)
        return self._participants[key]

    def has_event(self, session: str, event_id: str) -> bool:
        """True when ``event_id`` is still in the session's log (so nothing after it was trimmed)."""
        return bool(self.redis.xrange(log_key(session), event_id, event_id, count=1))

    def read_after(self, session: str, event_id: str, page: int = 500) -> Iterator[Tuple[str, bytes]]:
        """Every logged frame after ``event_id``, in order, as (id, frame JSON)."""
        cursor = event_id
        while True:
            entries = self.redis.xrange(log_key(session), f"({cursor}", "+", count=page)
            for entry_id, fields in entries:
                cursor = _text(entry_id)
                yield cursor, fields[b"f"]
            if len(entries) < page:
                return

    def board(self) -> dict:
        """The supervisor board's snapshot: a summary per live call, oldest first, and Redis's clock (ms)."""
        try:
            sessions = [_text(s) for s in self.redis.zrange(BOARD, 0, -1)]
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.time()
                for session in sessions:
                    pipe.get(board_key(session))
                (seconds, micros), *summaries = pipe.execute()
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        calls = [orjson.loads(s) for s in summaries if s]
        return {"type": "board", "calls": calls, "now": seconds * 1000 + micros // 1000}

    def board_call(self, session: str) -> Optional[dict]:
        """One call's board summary, if the relay has heard of the call."""
        try:
            raw = self.redis.get(board_key(session))
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        return orjson.loads(raw) if raw else None

    def snapshot(self, session: str) -> Snapshot:
        """The ``initial`` frame for a fresh subscriber, and the id of the last event it covers."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xrange(log_key(session), "-", "+")
            pipe.hgetall(latest_key(session))
            entries, latest = pipe.execute()
        transcript, results, last_id = [], [], None
        for entry_id, fields in entries:
            last_id = _text(entry_id)
            kind = fields[b"t"]
            if kind in (b"transcript", b"operator-result"):
                data = orjson.loads(fields[b"f"])["data"]
                (transcript if kind == b"transcript" else results).append(data)
        frame = {"type": "initial", "transcript": transcript, "operatorResults": results}
        latest = {_text(k): v for k, v in latest.items()}
        for kind, name in SNAPSHOT_TYPES.items():
            frame[name] = orjson.loads(latest[kind])["data"] if kind in latest else None
        return Snapshot(last_id, frame)
