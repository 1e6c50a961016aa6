"""Pub/sub for a worker process: one connection per shard, fanned out to every stream of the process.

Streams subscribe to a channel here. The hub asks the store which shard carries the channel (one
for a single Redis; the master owning the channel's slot on a cluster, with SSUBSCRIBE) and keeps
one connection per shard it needs, subscribed to a channel while at least one local stream wants
it. A shard reconnects with capped backoff when its connection fails; on a cluster it first learns
the topology again, so channels whose slot moved (failover, resharding) follow it to their new
master. After any gap every affected stream is told to resync from the log, so a gap in pub/sub
delivery never becomes a gap on the wire.
"""

import collections
import logging
import threading
import time
from typing import Callable, Counter, Dict, List, Optional, Set

import redis

from ..server import timers
from .store import REDIS_ERRORS

logger = logging.getLogger(__name__)

#: Why a subscription stopped receiving frames, or must catch up from the log.
RESYNC, OVERFLOW, CLOSED, SHUTDOWN = "resync", "overflow", "closed", "shutdown"
_FAILURES = REDIS_ERRORS + (redis.ResponseError,)


class Subscription:
    """A stream's mailbox: frames pushed by the hub, a state change, and one event to wait on.

    While its stream waits with nothing queued, ``direct`` may hold a writer of the stream's: a frame pushed then is
    handed to it at once, in the hub's greenlet, instead of being queued for the stream's greenlet to wake up for.
    The writer takes it off ``direct`` when it cannot go on (the client is slow or gone), and the stream, waking,
    takes it off before it writes anything itself: so frames go out in the order they came, by one writer at a time.
    """

    __slots__ = ("_wake", "channel", "direct", "frames", "limit", "ready", "state")

    def __init__(self, channel: str, limit: int):
        self.channel = channel
        self.frames: List[bytes] = []  # a list: an idle stream's empty list is far smaller than an empty deque
        self.limit = limit
        self.ready = False
        self.state: Optional[str] = None
        self.direct: Optional[Callable[[bytes], None]] = None
        self._wake = threading.Event()

    def push(self, raw: bytes) -> bool:
        """Hand a frame to the stream's writer, or queue it; False (and state OVERFLOW) when the stream is too far
        behind."""
        if self.direct is not None and self.state is None and not self.frames:
            self.direct(raw)
            return True
        if len(self.frames) >= self.limit:
            self.signal(OVERFLOW)
            return False
        self.frames.append(raw)
        self._wake.set()
        return True

    def signal(self, state: str):
        """Record a state change (a terminal state is never downgraded to a resync) and wake the stream."""
        if self.state in (None, RESYNC):
            self.state = state
        self._wake.set()

    def wake(self):
        """Wake the stream with nothing new queued (its writer stopped, and left it something to do)."""
        self._wake.set()

    def mark_ready(self):
        self.ready = True
        self._wake.set()

    def wait(self, timeout: float) -> bool:
        """Wait until something happens; False on timeout."""
        woke = timers.wait(self._wake, timeout)
        self._wake.clear()
        return woke

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the subscription is live; False when it is not within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.ready and self.state is None:
            left = deadline - time.monotonic()
            if left <= 0 or not self.wait(left):
                break
        return self.ready

    def take(self):
        """Everything queued so far, and the state (clearing a resync)."""
        frames, self.frames = self.frames, []
        state = self.state
        if state == RESYNC:
            self.state = None
        return frames, state


class _Shard:
    """One pub/sub connection to one shard and the listener that reads it; the hub's lock guards it."""

    def __init__(self, hub, name: str):
        self.hub = hub
        self.name = name
        self.channels: Set[str] = set()
        self.pending: Counter[str] = collections.Counter()  # subscribe requests not yet confirmed, per channel
        self.pubsub = None
        self.anchor = None
        self.connected = threading.Event()
        #: Set when the shard's node is gone and every channel it carried moved away: its listener stops.
        self.retired = False
        self.thread = threading.Thread(target=self._run, name=f"cintel-hub:{name}", daemon=True)

    def live(self, channel: str) -> bool:
        return self.connected.is_set() and channel in self.channels and not self.pending[channel]

    def add(self, channel: str):
        self.channels.add(channel)
        self._send(channel)

    def remove(self, channel: str):
        self.channels.discard(channel)
        self.pending.pop(channel, None)
        if self.pubsub is not None:
            try:
                self.hub.store.unsubscribe(self.pubsub, channel)
            except REDIS_ERRORS:
                logger.warning("pub/sub unsubscribe failed; the listener will reconnect")

    def _send(self, channel: str):
        if self.pubsub is None:
            return  # the listener subscribes every wanted channel when it (re)connects
        try:
            self.hub.store.subscribe(self.pubsub, channel)
            self.pending[channel] += 1
        except REDIS_ERRORS:
            logger.warning("pub/sub subscribe failed; the listener will reconnect")

    def _connect(self):
        pubsub = self.hub.store.pubsub(self.name)
        # A channel of the shard's own that no stream uses: its confirmation says the connection is live.
        self.anchor = self.hub.store.anchor(self.name)
        self.hub.store.subscribe(pubsub, self.anchor)
        with self.hub.lock:
            self.pubsub = pubsub
            self.pending.clear()
            for channel in self.channels:
                self._send(channel)
        return pubsub

    def _run(self):
        delay = 0.1
        while not self.hub.stopping and not self.retired:
            pubsub = None
            try:
                pubsub = self._connect()
                while not self.hub.stopping:
                    for message in _arrived(pubsub, 1.0):
                        self._dispatch(message)
                        delay = 0.1
            except Exception as exc:
                # A Redis failure, or anything unexpected (a bug, a malformed reply): either way the listener
                # must not die while streams wait on it, so it reconnects and every stream resyncs from the log.
                self.connected.clear()
                with self.hub.lock:
                    self.pubsub = None
                self.hub.lost(self)
                if self.retired:
                    logger.info("pub/sub shard %s is gone and its channels moved; its listener stops", self.name)
                    return
                if isinstance(exc, _FAILURES):
                    logger.warning(
                        "pub/sub connection to %s lost (%s); reconnecting in %.1fs",
                        self.name,
                        type(exc).__name__,
                        delay,
                    )
                else:
                    logger.error("pub/sub listener failed (%s); reconnecting in %.1fs", type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.hub.max_backoff)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except REDIS_ERRORS:
                        pass

    def _dispatch(self, message):
        kind = message["type"]
        if message["channel"] is None:  # a pong, or a pattern's reply: nothing the hub subscribes to
            return
        channel = message["channel"].decode()
        if kind in ("message", "smessage"):
            self.hub.deliver(channel, message["data"])
        elif kind in ("subscribe", "ssubscribe"):
            if channel == self.anchor:
                self.connected.set()
                return
            with self.hub.lock:
                left = self.pending[channel] - 1
                if left > 0:
                    self.pending[channel] = left
                    return
                self.pending.pop(channel, None)
                self.hub.confirmed(channel)
        elif kind == "sunsubscribe" and channel in self.channels:
            # The server dropped the subscription: the channel's slot moved to another master.
            raise redis.ConnectionError(f"shard {self.name} no longer serves {channel}")


#: The kinds of a published message: redis-py's handle_message only reshapes them (and counts them for its telemetry).
_PUBLISHED = (b"message", b"smessage")


def _arrived(pubsub, timeout: float):
    """The messages that have arrived, as ``get_message`` returns them, waiting up to ``timeout`` for the first.

    With hiredis's parser (the locked one) on a RESP2 connection (the store's) the connection is read directly:
    ``get_message`` would put each message through a health check, a retry wrapper, a poll of the socket and a peek
    to tell a closed one apart, which costs as much again as the message itself. Its health check still runs once a
    wait, and a Redis failure is raised as it is (the listener then resyncs every stream). Otherwise (the embedded
    fake's parser; RESP3, whose messages are push frames that ``read_response`` hands to redis-py's push handler) the
    first message comes from ``get_message``. Either way the rest of what one read brought (many, under load) is
    taken from hiredis's buffer."""
    connection = pubsub.connection
    reader = getattr(getattr(connection, "_parser", None), "_reader", None)
    if reader is None or getattr(connection, "protocol", None) not in (2, "2"):
        message = pubsub.get_message(timeout=timeout)
        if message is None:
            return
        yield message
        if reader is None:
            return
        reply = reader.gets()
    else:
        pubsub.check_health()
        reply = reader.gets()
        if not isinstance(reply, (list, Exception)):  # nothing whole in the buffer yet
            try:
                reply = connection.read_response(timeout=timeout, disconnect_on_error=False)
            except redis.TimeoutError:
                return  # nothing within the timeout: the listener looks at its flags and waits again
    # A subscriber's replies are lists; anything else is the rest of a reply still on its way.
    while isinstance(reply, (list, Exception)):
        if isinstance(reply, Exception):
            raise reply
        kind = reply[0]
        if kind in _PUBLISHED:
            # handle_message's own dict for a published message to a channel with no handler (the hub sets none).
            yield {"type": kind.decode(), "pattern": None, "channel": reply[1], "data": reply[2]}
        elif pubsub.is_health_check_response(reply):
            pubsub.health_check_response_counter -= 1  # as get_message does: the health check's pong is no message
        else:
            message = pubsub.handle_message(reply)  # its bookkeeping of (un)subscriptions, and pongs
            if message is not None:
                yield message
        reply = reader.gets()


class Hub:
    """The per-process pub/sub fan-out. Create one per app; shards start their listeners on first use."""

    def __init__(self, store, queue_limit: int, max_backoff: float = 5.0, on_reconnect=None):
        self.store = store
        #: On a cluster, channels are sharded (the store subscribes with SSUBSCRIBE) and follow their slot.
        self.sharded = store.mode == "cluster"
        self.max_backoff = max_backoff
        self.lock = threading.RLock()
        self.stopping = False
        self._on_reconnect = on_reconnect or (lambda: None)
        self._queue_limit = queue_limit
        self._subs: Dict[str, Set[Subscription]] = {}
        self._shards: Dict[str, _Shard] = {}
        self._homes: Dict[str, _Shard] = {}  # channel -> the shard subscribed to it

    def subscribe(self, channel: str) -> Subscription:
        """A new subscription to ``channel``; it is ``ready`` once the channel's shard confirms."""
        sub = Subscription(channel, self._queue_limit)
        with self.lock:
            subs = self._subs.setdefault(channel, set())
            subs.add(sub)
            if len(subs) == 1:
                self._place(channel)
            elif self._homes[channel].live(channel):
                sub.ready = True
        return sub

    def unsubscribe(self, sub: Subscription):
        """Drop a subscription; the last one of a channel unsubscribes it from its shard."""
        with self.lock:
            subs = self._subs.get(sub.channel)
            if not subs or sub not in subs:
                return
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]
                self._homes.pop(sub.channel).remove(sub.channel)

    def shutdown(self):
        """Tell every stream to end (so clients reconnect to another replica) and stop listening."""
        with self.lock:
            self.stopping = True
            for subs in self._subs.values():
                for sub in subs:
                    sub.signal(SHUTDOWN)

    # --- called by the shards ----------------------------------------------------------------

    def deliver(self, channel: str, raw: bytes):
        with self.lock:
            subs = list(self._subs.get(channel, ()))
        for sub in subs:
            if not sub.push(raw):
                self.unsubscribe(sub)

    def confirmed(self, channel: str):
        """A channel's subscription is live (again): new streams start, older ones resync from the log."""
        for sub in self._subs.get(channel, ()):
            if sub.ready:
                sub.signal(RESYNC)
            else:
                sub.mark_ready()

    def lost(self, shard: _Shard):
        """A shard's connection failed: learn the topology again and move channels whose slot moved."""
        self._on_reconnect()
        if not self.sharded:
            return
        self.store.refresh()
        with self.lock:
            for channel in list(shard.channels):
                if self.store.shard_for(channel) != shard.name:
                    shard.remove(channel)
                    self._place(channel)
            if not shard.channels and self._shards.get(shard.name) is shard:
                # Nothing left to carry (its node failed over or lost its slots): stop rather than reconnect to
                # it forever. A channel that maps to that node again later gets a new listener.
                del self._shards[shard.name]
                shard.retired = True

    def _place(self, channel: str):
        name = self.store.shard_for(channel)
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = _Shard(self, name)
            shard.thread.start()
        self._homes[channel] = shard
        shard.add(channel)
