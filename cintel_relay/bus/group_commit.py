"""Runs the bus's Lua scripts for the concurrent requests of a process, one pipeline per node per round trip.

Under load many webhook greenlets ingest at once; sending their script calls together saves a round
trip and a syscall each, which is most of a webhook's cost. On a cluster the calls are grouped by the
master that owns their slot. With ``CINTEL_REDIS_WAIT_REPLICAS=N`` each pipeline ends with ``WAIT``,
so no call is answered before N replicas hold its writes (an acknowledged event survives a failover).
"""

import _socket
import collections
import hashlib
import logging
import threading
from importlib import resources
from typing import Deque, Dict, List, Optional, Tuple

import hiredis
import redis
from gevent import monkey
from redis._parsers.hiredis import NOT_ENOUGH_DATA

from ..events import lua_prelude
from .store import REDIS_ERRORS, TOPOLOGY_ERRORS

logger = logging.getLogger(__name__)

#: How often a call is sent again after the cluster said its slot is elsewhere.
MAX_ATTEMPTS = 3
#: The most calls one batch carries. The queue is deep only in a burst (a reconnect storm: two calls per stream
#: reopened), and a worker as busy as that finishes about one round trip per turn of its event loop: with 256 a
#: batch, reopened streams waited for their log reads behind thousands of queued calls: in ten storms, five of each,
#: the last stream caught up 2.6-3.1 s after the last was back with 256, 1.4-2.2 s with 2,048 (docs/performance.md,
#: round six). A batch that size keeps Redis busy for tens of milliseconds, once, where 256 a turn waited for turns.
MAX_BATCH = 2048


class ReplicasBehind(redis.ConnectionError):
    """WAIT timed out before enough replicas confirmed the writes: the caller answers 503, Twilio retries."""


def _lua(name: str) -> str:
    return resources.files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


class LuaScript:
    """A packaged Lua script and its SHA1, which is how Redis names it. ``functions`` maps a function
    name to another packaged script, prepended as ``local function name(KEYS, ARGV)`` so the script
    can call it with keys and arguments of its own; ``text`` is the script itself, for one kept beside its
    Python (``name`` then only names it); ``prelude`` is Lua of the caller's, prepended after
    :func:`cintel_relay.events.lua_prelude` (see :func:`cintel_relay.bus.routing.record_lua`)."""

    def __init__(
        self, name: str, functions: Optional[Dict[str, str]] = None, text: Optional[str] = None, prelude: str = ""
    ):
        self.name = name
        parts = [f"local function {fn}(KEYS, ARGV)\n{_lua(file)}end\n" for fn, file in (functions or {}).items()]
        self.text = lua_prelude() + prelude + "".join(parts) + (_lua(name) if text is None else text)
        self.sha = hashlib.sha1(self.text.encode("utf-8")).hexdigest()


class _Call:
    __slots__ = ("args", "attempts", "done", "durable", "finished", "keys", "lead", "result", "script", "waiting")

    def __init__(self, script: LuaScript, keys, args, durable: bool = True):
        self.script, self.keys, self.args = script, keys, args
        self.durable = durable  # its writes must reach the replicas (WAIT) before it is answered
        self.result = None
        self.attempts = 0
        self.finished = False  # its reply (or error) is in ``result``
        self.waiting = False  # its caller waits in GroupCommit.result, so it can take the lead
        self.lead = False  # handed the lead: its caller sends the next batch
        self.done = threading.Event()  # set when finished or handed the lead


class GroupCommit:
    """Queues script calls from any greenlet and sends them, pipelined per node, without a flusher of
    its own: the first caller to wait for a reply leads, sending its call and whatever else is queued
    in one write per node. Callers that queue while it waits on Redis wait in turn, and the first of
    them takes the lead for the next batch. A lone webhook so hands nothing to another greenlet, and
    concurrent webhooks still share a round trip."""

    def __init__(self, store, wait_replicas: int = 0, wait_timeout_ms: int = 1000, max_batch: int = MAX_BATCH):
        self._store = store
        self._wait = (wait_replicas, wait_timeout_ms)
        self._max_batch = max_batch
        self._queue: Deque[_Call] = collections.deque()
        # The OS's lock even where gevent has patched threading's (which is Python code run on every acquire and
        # release): it guards only the queue and the lead, never across a wait, so no greenlet can switch holding it.
        self._lock = monkey.get_original("_thread", "allocate_lock")()
        self._leading = False  # a caller is sending a batch; only the leader touches the connections
        #: pool id -> (pool, the leader's connection)
        self._held: Dict[int, Tuple[redis.ConnectionPool, redis.Connection]] = {}

    def submit(self, script: LuaScript, keys, args, durable: bool = True) -> _Call:
        """Queue a call; :meth:`result` sends it (with whatever else is queued) and waits for it. A call that is not
        ``durable`` (a read, a rate count) does not wait for replicas, nor fail when they lag."""
        call = _Call(script, keys, args, durable)
        with self._lock:
            self._queue.append(call)
        return call

    def result(self, call: _Call):
        """The script's reply, or the Redis error it met, raised."""
        while True:
            with self._lock:
                if call.finished:
                    break
                lead = call.lead or not self._leading
                if lead:
                    self._leading, call.lead = True, False
                else:
                    call.waiting = True
            if lead:
                self._lead(call)
            else:
                call.done.wait()
        if isinstance(call.result, Exception):
            raise call.result
        return call.result

    def run(self, script: LuaScript, keys, args, durable: bool = True):
        """Submit one call and wait for its reply."""
        return self.result(self.submit(script, keys, args, durable))

    def _lead(self, own: _Call):
        """Send batches until ``own`` is answered, then hand the lead to a waiting caller, if any."""
        batch: List[_Call] = []
        try:
            while not own.finished:
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
                if not batch:  # cannot happen: an unanswered call is queued or in this leader's batch
                    self._finish([own], [RuntimeError("group commit lost a call")])
                self._send(batch)
                batch = []
        finally:
            if batch:  # interrupted (the greenlet was killed) with a batch out: its replies are lost
                self._drop_all()
                lost = redis.ConnectionError("the Redis call was interrupted; retry")
                self._finish([c for c in batch if not c.finished], [lost] * len(batch))
            with self._lock:
                successor = next((c for c in self._queue if c.waiting), None)
                if successor is None:
                    self._leading = False
                else:
                    successor.lead = True
                    successor.done.set()

    def _send(self, batch: List[_Call]):
        by_node: Dict[str, Tuple[object, List[_Call]]] = {}
        for call in batch:
            try:
                name, client = self._store.node_for(call.keys[0])
            except Exception as exc:  # the topology is unknown: handed to the caller, who raises it
                self._finish([call], [exc])
                continue
            by_node.setdefault(name, (client, []))[1].append(call)
        for client, calls in by_node.values():
            self._flush(client, calls)

    @staticmethod
    def _finish(calls, results):
        for call, result in zip(calls, results):
            call.result, call.finished = result, True
            call.done.set()

    def _flush(self, client, calls: List[_Call]):
        try:
            results = self._execute(client, calls)
        except Exception as exc:  # handed to every waiting caller, who raises it
            if isinstance(exc, REDIS_ERRORS):
                self._store.refresh()
            results = [exc] * len(calls)
        retry = [
            i for i, r in enumerate(results) if isinstance(r, TOPOLOGY_ERRORS) and calls[i].attempts < MAX_ATTEMPTS
        ]
        if retry:
            # The slot moved (failover, resharding): learn where it is now and send those calls again;
            # every script is idempotent, so a call that ran before the move is harmless to repeat.
            self._store.refresh()
            with self._lock:
                for i in retry:
                    calls[i].attempts += 1
                    self._queue.append(calls[i])
            keep = set(retry)
            calls = [c for i, c in enumerate(calls) if i not in keep]
            results = [r for i, r in enumerate(results) if i not in keep]
        self._finish(calls, results)

    def _execute(self, client, calls):
        results = self._pipeline(client, calls)
        missing = {
            calls[i].script.name: calls[i].script
            for i, r in enumerate(results)
            if isinstance(r, redis.exceptions.NoScriptError)
        }
        if missing:  # a new node, or Redis restarted and lost its scripts
            for script in missing.values():
                client.script_load(script.text)
            results = self._pipeline(client, calls)
        return results

    def _connection(self, client):
        """The connection to a node that every leader uses in turn, kept from batch to batch: taking one from
        the pool for every batch (and a pipeline object around it) costs more than the batch's own commands."""
        pool = client.connection_pool
        held = self._held.get(id(pool))
        if held is None:
            held = self._held[id(pool)] = (pool, pool.get_connection())
        return held[1]

    def _drop_all(self):
        for pool, connection in self._held.values():
            connection.disconnect()
            pool.release(connection)
        self._held.clear()

    def _drop(self, client):
        """Give up the node's connection after an error: the next batch connects again."""
        held = self._held.pop(id(client.connection_pool), None)
        if held is not None:
            pool, connection = held
            connection.disconnect()
            pool.release(connection)

    def _pipeline(self, client, calls):
        """Send the batch's script calls (and WAIT) in one write, and read one reply per command."""
        replicas, timeout_ms = self._wait
        commands = [("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args) for call in calls]
        if replicas and not any(call.durable for call in calls):
            replicas = 0  # a batch of reads and counts: nothing to wait for
        if replicas:
            commands.append(("WAIT", replicas, timeout_ms))
        connection = self._connection(client)
        # hiredis packs each command in C: redis-py's packer encodes every argument in Python first, and an
        # ingest call has ~35 of them (the same bytes either way).
        payload = b"".join(map(hiredis.pack_command, commands))
        try:
            wire = _wire(connection)
            results = (
                _exchange(wire, payload, len(commands)) if wire else _exchange_slowly(connection, payload, commands)
            )
        except REDIS_ERRORS:
            self._drop(client)
            raise
        if replicas:
            confirmed = results.pop()
            if not isinstance(confirmed, int) or confirmed < replicas:
                behind = ReplicasBehind(
                    f"{confirmed} of {replicas} Redis replicas confirmed the write in {timeout_ms} ms"
                )
                results = [
                    behind if call.durable and not isinstance(r, Exception) else r for call, r in zip(calls, results)
                ]
        return results


def _wire(connection):
    """(gevent socket, its OS socket, hiredis reader, the parser) of a connected plain TCP or Unix connection read by
    hiredis, else None (TLS, another parser, the embedded fake, a connection not yet made)."""
    if type(connection) not in (redis.Connection, redis.UnixDomainSocketConnection):
        return None  # an SSLConnection's socket must be written through TLS
    sock, parser = connection._sock, connection._parser
    raw, reader = getattr(sock, "_sock", None), getattr(parser, "_reader", None)
    if reader is None or not isinstance(raw, _socket.socket) or not hasattr(sock, "_read_event"):
        return None
    return sock, raw, reader, parser


def _exchange(wire, payload: bytes, count: int) -> list:
    """Send ``payload`` and read ``count`` replies on the OS socket under gevent's, as redis-py's ``send_packed_command``
    and ``read_response`` do, without the layers that cost a round trip as much again as the relay's own work: a
    write goes out in one ``send`` when the kernel takes it whole, and a reply already in hiredis's buffer, or on the
    socket, is taken without waiting. Only when there is nothing to read does the greenlet wait, on the socket's own
    watcher, with its timeout. An error reply is a result; a lost connection raises."""
    sock, raw, reader, parser = wire
    try:
        sent = raw.send(payload)
    except BlockingIOError:
        sent = 0
    if sent < len(payload):
        sock.sendall(payload[sent:])  # gevent's: waits for room, with the socket's timeout
    push = getattr(parser, "_hiredis_PushNotificationType", None)
    results: list = []
    while len(results) < count:
        reply = reader.gets()
        if reply is NOT_ENOUGH_DATA:  # redis-py's reader says so with this object (hiredis's own default is False)
            try:
                data = raw.recv(65536)
            except BlockingIOError:
                sock._wait(sock._read_event)  # gevent's wait for a readable socket, with the socket's timeout
                continue
            if not data:
                raise redis.ConnectionError("Connection closed by server.")
            reader.feed(data)
        elif push is not None and isinstance(reply, push):
            parser.handle_push_response(reply)  # none is expected on this connection; never taken for a reply
        elif isinstance(reply, Exception) and not isinstance(reply, redis.ResponseError):
            raise reply  # the reader's ConnectionError: the connection is unusable
        else:
            results.append(reply)  # a reply, or this call's own error (the others' replies follow)
    return results


def _exchange_slowly(connection, payload: bytes, commands) -> list:
    """:func:`_exchange` through redis-py's connection, for what :func:`_wire` does not take."""
    connection.send_packed_command([payload])
    results = []
    for _ in commands:
        try:
            results.append(connection.read_response())
        except redis.ResponseError as exc:
            results.append(exc)
    return results
