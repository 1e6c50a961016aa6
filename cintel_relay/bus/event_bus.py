"""The event bus on Redis: per-session ordered logs, routing a conversation's events to its sessions,
and publishing. Key and channel names live in :mod:`cintel_relay.bus.keys`.

A webhook's events about a conversation go through two scripts: ``route.lua``, in the conversation's slot,
decides which session(s) each event belongs to (or holds it until that is known), then
``append.lua``, in each session's slot, appends and publishes. Both are idempotent, so a retried
webhook, or a replica dying between the two, loses nothing and logs nothing twice; on Redis Cluster
the two slots may live on different masters. ``board.lua`` keeps the supervisor board's list. When
every key lives on one node (a standalone Redis, the embedded fake), ``ingest.lua`` chains the three
in one script call: one round trip per webhook instead of three. On a cluster,
:meth:`EventBus._ingest_per_slot` runs the same five steps as ingest.lua, under the same names.
"""

import collections
import logging
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, cast

import orjson
import redis

from ..errors import BodyTooLarge, Unavailable
from ..events import BOARD_SNAPSHOT, INITIAL, SNAPSHOT_LISTS, lua_value, snapshot_values
from ..normalize import Event
from .due import DueQueue
from .group_commit import GroupCommit, LuaScript, ReplicasBehind
from .keys import (
    BOARD,
    BOARD_CHANNEL,
    SESSION_KEY_TEMPLATE,
    board_key,
    conversation_keys,
    latest_key,
    log_key,
    participants_key,
    report_key,
    session_keys,
)
from .routing import Route, RouteRecord, record_lua
from .store import REDIS_ERRORS, TOPOLOGY_ERRORS

logger = logging.getLogger(__name__)

#: Most events held for one conversation before its webhooks are refused (503: Twilio retries).
MAX_PENDING = 1000

APPEND = LuaScript("append.lua")
ROUTE = LuaScript("route.lua", prelude=record_lua())
BOARD_SCRIPT = LuaScript("board.lua")
OPEN = LuaScript("open.lua")
#: Events a resuming stream reads per round trip; a longer gap is read in further pages.
RESUME_PAGE = 500


def ingest_script(config, publish_command: str, max_pending: int = MAX_PENDING) -> LuaScript:
    """ingest.lua chaining route.lua, append.lua and board.lua, with the arguments that are the same on every call
    (see its header) prepended as Lua constants: a script per configuration, named by its own SHA1."""
    prefix, suffixes = SESSION_KEY_TEMPLATE
    constants = {
        "session_key_prefix": prefix,
        "session_key_suffixes": list(suffixes),
        "log_maxlen": str(config.log_maxlen),
        "publish_command": publish_command,
        "session_ttl": str(config.session_ttl),
        "completed_ttl": str(config.completed_ttl),
        "max_pending": str(max_pending),
    }
    prelude = "".join(f"local {name} = {lua_value(value)}\n" for name, value in constants.items())
    return LuaScript(
        "ingest.lua",
        {"route": "route.lua", "append": "append.lua", "board": "board.lua"},
        prelude=record_lua() + prelude,
    )


__all__ = ["EventBus", "IngestResult", "Opening", "Snapshot", "REDIS_ERRORS"]


class IngestResult(NamedTuple):
    """What happened to each event of a webhook: logged (with its id), held, a duplicate, or stale
    (about a call whose data expired after it ended)."""

    ids: List[str]
    held: int
    duplicates: int
    stale: int = 0
    #: The sessions something was logged in (a report follows what reaches its call).
    sessions: Tuple[str, ...] = ()
    #: The frame types logged; None when not known (held events that this webhook freed were logged too).
    types: Optional[frozenset] = None

    def as_dict(self) -> dict:
        body = {"logged": len(self.ids), "held": self.held, "duplicates": self.duplicates}
        if self.stale:
            body["stale"] = self.stale
        return body


class Snapshot(NamedTuple):
    last_id: Optional[str]
    frame: dict


class Opening(NamedTuple):
    """What a stream opens with: the events after the client's last id (``resumed``), or a fresh snapshot."""

    resumed: bool
    #: (id, frame JSON) of each event after the client's last id, when ``resumed`` (at most a page: see ``more``).
    events: List[Tuple[str, bytes]]
    snapshot: Optional[Snapshot]
    #: A full page was read: more events may follow the last one (read them with :meth:`EventBus.read_after`).
    more: bool = False


#: Append outcomes that are no log id.
_NOT_LOGGED = ("duplicate", "stale")


def _logged(outcome: str) -> bool:
    return outcome not in _NOT_LOGGED and not outcome.startswith("refused:")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _field(fields: list, name: bytes) -> bytes:
    """A field's value in a stream entry's flat [name, value, ...] list, as a script returns it."""
    for i in range(0, len(fields), 2):
        if fields[i] == name:
            return fields[i + 1]
    raise KeyError(name)


def _unavailable(exc: Exception) -> Unavailable:
    logger.warning("Redis refused or failed a delivery (%s: %s)", type(exc).__name__, str(exc)[:200])
    if isinstance(exc, redis.ResponseError) and str(exc).startswith("PENDINGFULL"):
        return Unavailable("this conversation has too many events waiting for their call; retry later.")
    if isinstance(exc, ReplicasBehind):
        return Unavailable(
            "Redis replicas did not confirm the write in time (CINTEL_REDIS_WAIT_REPLICAS); retry later."
        )
    return Unavailable("Redis is unreachable; the delivery was not stored, retry later.")


def _by_session(appends: list, boards: Dict[str, dict]) -> Dict[str, list]:
    """Step 2, by_session: route.lua's flat (session, dedupe, type, ends, frame) appends as each session's
    entries in log order; a session with board fields is appended even without any."""
    per_session: Dict[str, list] = collections.OrderedDict((s, []) for s in boards)
    for i in range(0, len(appends), 5):
        session, dedupe, etype, ends, frame = appends[i : i + 5]
        per_session.setdefault(_text(session), []).append((_text(dedupe), _text(etype), _text(ends), frame))
    return per_session


def _unhold(route_argv: list, flushed: list) -> list:
    """Step 5, unhold: route.lua's ARGV that takes the flushed entries off the pending list."""
    argv = route_argv[:4]
    for entry in flushed:
        argv += RouteRecord.unhold(entry).to_args()
    return argv


class EventBus:
    """Writes and reads session logs. Every Redis failure surfaces as :class:`Unavailable`."""

    def __init__(self, store, config, participant_cache: int = 10000, max_pending: int = MAX_PENDING):
        self.store = store
        self.redis = store.client
        self._config = config
        self._commit = GroupCommit(store, config.redis_wait_replicas, config.redis_wait_timeout_ms)
        #: Concurrent callers' script calls share its round trips; stream opens and limits use it too.
        self.commit = self._commit
        #: The relay's work that comes due later, in the same Redis (see :mod:`cintel_relay.bus.due`).
        self.due = DueQueue(store, self._commit, "relay")
        #: Route, append and board in one script call (ingest.lua); a cluster needs one call per slot.
        self.single_node = store.single_node
        #: ingest.lua, with what is the same on every call as Lua constants rather than arguments.
        self._ingest_script = ingest_script(config, store.publish_command, max_pending)
        self._max_pending = max_pending
        self._participants: collections.OrderedDict[Tuple[str, str], str] = collections.OrderedDict()
        self._participant_cache = participant_cache
        #: Called with (session, start ms) for a call whose deadlines are not scheduled yet (the app wires
        #: :class:`cintel_relay.bus.deadlines.Deadlines`); it calls :meth:`deadlines_scheduled` when done.
        self.on_started: Optional[Callable[[str, int], None]] = None

    # --- writing -------------------------------------------------------------------------------

    def _check_size(self, count: int):
        """Refuse a webhook of more events than a call's log keeps: it would trim the log (transcript
        included) to itself, and hold Redis for one long script call."""
        limit = self._config.log_maxlen
        if count > limit:
            raise BodyTooLarge(
                f"the delivery makes {count} events, more than the {limit} a call's log keeps (CINTEL_LOG_MAXLEN): "
                "send fewer operator results per delivery.",
                code="too_many_events",
            )

    def ingest(self, events: Iterable[Event], session: str, board: Optional[dict] = None) -> IngestResult:
        """Dedupe, append to ``session``'s log and publish: for webhooks that name their session (a
        Call SID). ``board`` holds fields (such as the agent's name) for the call's board summary."""
        events = list(events)
        self._check_size(len(events))
        entries = [(e.dedupe, e.type, "1" if e.ends else "0", orjson.dumps(e.frame)) for e in events]
        started: List[Tuple[str, int]] = []
        try:
            outcome = self._append({session: entries}, "", {session: board} if board else {}, started)[session]
        except REDIS_ERRORS + (redis.ResponseError,) as exc:
            raise _unavailable(exc) from exc
        self._started(started)
        ids = [o for o in outcome if _logged(o)]
        types = frozenset(e.type for e, o in zip(events, outcome) if _logged(o))
        return IngestResult(
            ids, 0, outcome.count("duplicate"), outcome.count("stale"), (session,) if ids else (), types
        )

    def dispute(self, session: str, event: Event) -> str:
        """Log a ``dispute`` event (and the adherence state it changes): its log id, or ``refused:<why>``
        (``unknown`` call, step already ``met``, a dispute already ``open``)."""
        entry = (event.dedupe, event.type, "0", orjson.dumps(event.frame))
        try:
            (outcome,) = self._append({session: [entry]}, "", {}, [])[session]
        except REDIS_ERRORS + (redis.ResponseError,) as exc:
            raise _unavailable(exc) from exc
        return "refused:unknown" if outcome == "stale" else outcome

    def deadlines_scheduled(self, session: str):
        """Note that a call's deadlines are in the due queue, so appends stop asking for them."""
        self.store.on_slot(latest_key(session), lambda node: node.hset(latest_key(session), "deadlines", "1"))

    def _started(self, started: List[Tuple[str, int]]):
        if self.on_started is not None:
            for session, started_ms in dict(started).items():
                self.on_started(session, started_ms)

    def route(
        self,
        conversation: str,
        items: Iterable[Tuple[Route, Sequence[Event]]],
        board: Optional[dict] = None,
        board_session: Optional[str] = None,
    ) -> IngestResult:
        """Route a conversation's events to their sessions (holding those whose session is not known
        yet), append and publish them; held events that become routable are appended first.

        ``items`` pairs each event group with its :class:`Route`; a route with no events only tells
        the conversation something (a call it holds). ``board`` fields go to ``board_session``'s summary.
        """
        records: List[RouteRecord] = []
        events: List[Event] = []
        for route, group in items:
            if not group:
                records.append(RouteRecord.of(route))
            for event in group:
                records.append(RouteRecord.of(route, event))
                events.append(event)
        self._check_size(len(events))
        started: List[Tuple[str, int]] = []
        try:
            # The caller that passes ``board`` names its session too (see the docstring).
            boards = {cast(str, board_session): board} if board else {}
            statuses, outcomes, sessions = self._ingest(conversation, records, boards, started)
        except REDIS_ERRORS + (redis.ResponseError,) as exc:
            raise _unavailable(exc) from exc
        self._started(started)
        ids, held, duplicates, stale, types = [], 0, 0, 0, set()
        for event, status in zip(events, (s for s in statuses if s != "none")):
            if status == "held":
                held += 1
                continue
            logged = [o for o in outcomes.get(event.dedupe, ()) if _logged(o)]
            if logged:
                ids += logged
                types.add(event.type)
            elif "stale" in outcomes.get(event.dedupe, ()):
                stale += 1
            else:
                duplicates += 1
        # Held events this webhook freed are logged under dedupe keys of their own, types unknown here.
        freed = not outcomes.keys() <= {e.dedupe for e in events}
        return IngestResult(ids, held, duplicates, stale, tuple(sorted(sessions)), None if freed else frozenset(types))

    def _ingest(self, conversation: str, records: List[RouteRecord], boards: Dict[str, dict], started: list):
        """Route the records' events, append what was routed, update the board, then take the appended held
        events off the pending list (which may free more): the statuses of the first route call, each dedupe
        key's append outcomes, and the sessions something was logged in; ``started`` gets the calls whose
        deadlines are not scheduled yet. One script call on one node (ingest.lua), one per slot on a cluster."""
        args = []
        for record in records:
            args += record.to_args()
        if self.single_node:
            return self._ingest_in_one_call(conversation, args, boards, started)
        head = [conversation, self._config.session_ttl, self._config.completed_ttl, self._max_pending]
        return self._ingest_per_slot(conversation, head + args, boards, started)

    def _ingest_in_one_call(self, conversation: str, record_args: list, boards: Dict[str, dict], started: list):
        ((board_session, board),) = boards.items() or [("", None)]
        argv = [board_session, orjson.dumps(board) if board else "", conversation, *record_args]
        keys = conversation_keys(conversation) + (BOARD, BOARD_CHANNEL)
        routed, triples, starts = self._commit.run(self._ingest_script, keys, argv)
        outcomes: Dict[str, list] = collections.defaultdict(list)
        sessions = set()
        for i in range(0, len(triples), 3):
            outcome = _text(triples[i + 1])
            outcomes[_text(triples[i])].append(outcome)
            if _logged(outcome):
                sessions.add(_text(triples[i + 2]))
        started += [(_text(starts[i]), int(starts[i + 1])) for i in range(0, len(starts), 2)]
        return [_text(s) for s in routed], outcomes, sessions

    def _ingest_per_slot(self, conversation: str, route_argv: list, boards: Dict[str, dict], started: list):
        """ingest.lua's five steps, one script call each in its own slot (see ingest.lua's header)."""
        keys = conversation_keys(conversation)
        statuses: Optional[List[str]] = None
        outcomes: Dict[str, list] = collections.defaultdict(list)
        sessions = set()
        argv = route_argv
        while True:
            # 1. route
            routed, appends, flushed = self._commit.run(ROUTE, keys, argv)
            if statuses is None:
                statuses = [_text(s) for s in routed]
            # 2. by_session
            per_session = _by_session(appends, boards)
            # 3. append (then 4. board, for the summaries the appends changed)
            appended = self._append(per_session, conversation, boards, started)
            for session, entries in per_session.items():
                for (dedupe, *_), outcome in zip(entries, appended[session]):
                    outcomes[dedupe].append(outcome)
                    if _logged(outcome):
                        sessions.add(session)
            # 5. unhold
            if not flushed:
                return statuses, outcomes, sessions
            argv, boards = _unhold(route_argv, flushed), {}

    def _append(self, per_session: Dict[str, list], conversation: str, boards: Dict[str, dict], started: list):
        """Step 3, append: each session's entries (one script call per session, sent together), then step 4,
        :meth:`_board`, for every summary that changed; tell a conversation when one of its calls ended; ``started``
        gets the calls whose deadlines are not scheduled yet."""
        config = self._config
        calls = {}
        for session, entries in per_session.items():
            board = boards.get(session)
            args = [
                session,
                config.session_ttl,
                config.completed_ttl,
                config.log_maxlen,
                self.store.publish_command,
                conversation,
                orjson.dumps(board) if board else "",
            ]
            for entry in entries:
                args += entry
            calls[session] = self._commit.submit(APPEND, session_keys(session), args)
        outcomes, boards_changed, ended = {}, [], []
        for session, call in calls.items():
            summary, ended_now, owner, start, updated_at, summary_ended, relist, *outcome = self._commit.result(call)
            outcomes[session] = [_text(o) for o in outcome]
            if start:
                started.append((session, int(start)))
            if summary:
                boards_changed.append((session, summary, updated_at, summary_ended, relist))
            if ended_now and owner and not conversation:
                ended.append((_text(owner), session))
        self._board(boards_changed)
        for owner, session in ended:
            self._ingest(owner, [RouteRecord.ended(session)], {}, started)
        return outcomes

    def _board(self, changed):
        """Step 4, board: list each changed summary on the supervisor board and publish it."""
        calls = []
        for session, summary, updated_at, ended, relist in changed:
            args = [session, summary, updated_at, ended, self.store.publish_command, self._config.session_ttl, relist]
            calls.append(self._commit.submit(BOARD_SCRIPT, (BOARD, BOARD_CHANNEL), args))
        for call in calls:
            self._commit.result(call)

    def count_in_minute(self, key_of, session: str, window: int) -> int:
        """Add one to ``session``'s counter for the minute ``window`` (``key_of(session, window)``); the new count."""
        key = key_of(session, window)
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 61)
                count, _ = pipe.execute()
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        return int(count)

    def remember_participant(self, conversation: str, participant_id: str, participant_type: Optional[str]):
        """Store a participant's type for the conversation's later communications."""
        key = participants_key(conversation)
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, participant_id, participant_type or "UNKNOWN")
                pipe.expire(key, self._config.session_ttl)
                pipe.execute()
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable; the participant was not stored, retry later.") from exc

    def remembered_participant_type(self, conversation: str, participant_id: Optional[str]) -> Optional[str]:
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

    # --- reading -------------------------------------------------------------------------------

    def ping(self):
        """Nothing when Redis answers; :class:`Unavailable` naming the failure when it does not."""
        try:
            self.redis.ping()
        except REDIS_ERRORS as exc:
            raise Unavailable(f"Redis unreachable ({type(exc).__name__})") from exc

    def read_after(self, session: str, event_id: str, page: int = 500) -> Iterator[Tuple[str, bytes]]:
        """Every logged frame after ``event_id``, in order, as (id, frame JSON)."""
        cursor = event_id
        while True:
            entries = self._read_log(session, f"({cursor}", "+", page)
            for entry_id, fields in entries:
                cursor = _text(entry_id)
                yield cursor, fields[b"f"]
            if len(entries) < page:
                return

    def _read_log(self, session: str, start: str, end: str, count: int) -> list:
        try:
            return self.redis.xrange(log_key(session), start, end, count=count)
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc

    def board(self) -> dict:
        """The supervisor board's snapshot: a summary per live call, oldest first, and Redis's clock (ms)."""
        try:
            seconds, micros = self.redis.time()
            sessions = [_text(s) for s in self.redis.zrange(BOARD, 0, -1)]
            with self.redis.pipeline(transaction=False) as pipe:
                for session in sessions:
                    pipe.get(board_key(session))
                summaries = pipe.execute() if sessions else []
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        calls = [orjson.loads(s) for s in summaries if s]
        return {"type": BOARD_SNAPSHOT, "calls": calls, "now": seconds * 1000 + micros // 1000}

    def board_call(self, session: str) -> Optional[dict]:
        """One call's board summary, if the relay has heard of the call."""
        try:
            raw = self.redis.get(board_key(session))
        except REDIS_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        return orjson.loads(raw) if raw else None

    def call_data(self, session: str) -> Tuple[List[Tuple[str, dict]], Dict[str, bytes], Optional[bytes]]:
        """A call's whole log as (id, frame), its ``latest`` hash and its stored report (or None), read at once."""

        def read(node):
            with node.pipeline(transaction=True) as pipe:
                pipe.xrange(log_key(session), "-", "+")
                pipe.hgetall(latest_key(session))
                pipe.get(report_key(session))
                return pipe.execute()

        try:
            entries, latest, report = self.store.on_slot(log_key(session), read)
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        log = [(_text(i), orjson.loads(f[b"f"])) for i, f in entries]
        return log, {_text(k): v for k, v in latest.items()}, report

    def store_report(self, session: str, report: bytes, ttl: int):
        """Keep a call's settled report for ``ttl`` seconds (in the call's slot)."""
        try:
            self.store.on_slot(report_key(session), lambda node: node.set(report_key(session), report, ex=ttl))
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable; the report was not stored, retry later.") from exc

    def has_report(self, session: str) -> bool:
        """True when the call has a settled report."""
        try:
            return bool(self.store.on_slot(report_key(session), lambda node: node.exists(report_key(session))))
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc

    def open(self, session: str, last_event_id: Optional[str], page: int = RESUME_PAGE) -> Opening:
        """A stream's opening read in one script call, batched with other callers' (no pooled connection is
        held while this greenlet waits its turn): the events after ``last_event_id`` while the log still holds
        that id, else the snapshot. ``last_event_id`` must be a well-formed id (or None)."""
        try:
            keys = (log_key(session), latest_key(session))
            reply = self._commit.run(OPEN, keys, [last_event_id or "", page], durable=False)
        except REDIS_ERRORS + TOPOLOGY_ERRORS + (redis.ResponseError,) as exc:
            raise Unavailable("Redis is unreachable, retry later.") from exc
        if reply[0] == 1:
            events = [(_text(entry_id), _field(fields, b"f")) for entry_id, fields in reply[1]]
            return Opening(True, events, None, len(events) >= page)
        latest = reply[2]
        return Opening(False, [], self._snapshot(reply[1], dict(zip(latest[::2], latest[1::2]))))

    def snapshot(self, session: str) -> Snapshot:
        """The ``initial`` frame for a fresh subscriber, and the id of the last event it covers."""
        snapshot = self.open(session, None).snapshot
        assert snapshot is not None  # no id to resume from: always a snapshot
        return snapshot

    @staticmethod
    def _snapshot(entries, latest) -> Snapshot:
        """The ``initial`` frame from the log's entries (id, flat field list) and the ``latest`` hash."""
        lists: Dict[str, list] = {kind: [] for kind in SNAPSHOT_LISTS}
        last_id: Optional[str] = None
        for entry_id, fields in entries:
            last_id = _text(entry_id)
            kind = _text(_field(fields, b"t"))
            if kind in lists:
                lists[kind].append(orjson.loads(_field(fields, b"f"))["data"])
        frame: Dict[str, object] = {"type": INITIAL, **{SNAPSHOT_LISTS[k]: v for k, v in lists.items()}}
        frame.update(snapshot_values({_text(k): v for k, v in latest.items()}))
        return Snapshot(last_id, frame)
