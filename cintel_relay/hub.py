"""One Redis pub/sub connection per worker process, fanned out to every stream of that process.

Streams subscribe to a session's channel here; the hub owns the only pub/sub connection, SUBSCRIBEs
a channel while at least one local stream wants it, and reconnects with capped backoff when Redis
goes away. After a reconnect every stream is told to resync from the log, so a gap in pub/sub
delivery never becomes a gap on the wire.
"""

import collections
import logging
import threading
import time

from .bus import HUB_CHANNEL, REDIS_ERRORS

logger = logging.getLogger(__name__)

#: Why a subscription stopped receiving frames, or must catch up from the log.
RESYNC, OVERFLOW, CLOSED, SHUTDOWN = "resync", "overflow", "closed", "shutdown"


class Subscription:
    """A stream's mailbox: frames pushed by the hub, a state change, and one event to wait on."""

    __slots__ = ("channel", "frames", "limit", "ready", "state", "_wake")

    def __init__(self, channel: str, limit: int):
        self.channel = channel
        self.frames = []  # a list: an idle stream's empty list is far smaller than an empty deque
        self.limit = limit
        self.ready = False
        self.state = None
        self._wake = threading.Event()

    def push(self, raw: bytes) -> bool:
        """Queue a frame; False (and state OVERFLOW) when the stream is too far behind."""
        if len(self.frames) >= self.limit:
            self.signal(OVERFLOW)
            return False
        self.frames.append(raw)
        self._wake.set()
        return True

    def signal(self, state: str):
        # A terminal state is never downgraded to a resync.
        if self.state in (None, RESYNC):
            self.state = state
        self._wake.set()

    def mark_ready(self):
        self.ready = True
        self._wake.set()

    def wait(self, timeout: float) -> bool:
        """Wait until something happens; False on timeout."""
        woke = self._wake.wait(timeout)
        self._wake.clear()
        return woke

    def wait_ready(self, timeout: float) -> bool:
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


class Hub:
    """The per-process pub/sub fan-out. Create one per app; it starts its listener on first use."""

    def __init__(self, client, queue_limit: int, max_backoff: float = 5.0, on_reconnect=None):
        self._client = client
        self._on_reconnect = on_reconnect or (lambda: None)
        self._queue_limit = queue_limit
        self._max_backoff = max_backoff
        self._subs = {}
        self._pending = collections.Counter()
        self._lock = threading.RLock()
        self._pubsub = None
        self._listener = None
        self._stopping = False
        self.reconnects = 0
        self.connected = threading.Event()

    def subscribe(self, channel: str) -> Subscription:
        sub = Subscription(channel, self._queue_limit)
        with self._lock:
            self._start()
            subs = self._subs.setdefault(channel, set())
            subs.add(sub)
            if len(subs) == 1:
                self._send_subscribe(channel)
            elif not self._pending[channel] and self.connected.is_set():
                sub.ready = True
        return sub

    def unsubscribe(self, sub: Subscription):
        with self._lock:
            subs = self._subs.get(sub.channel)
            if not subs or sub not in subs:
                return
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]
                if self._pubsub is not None:
                    try:
                        self._pubsub.unsubscribe(sub.channel)
                    except REDIS_ERRORS:
                        logger.warning("pub/sub unsubscribe failed; the listener will reconnect")

    @property
    def stream_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    def shutdown(self):
        """Tell every stream to end (so clients reconnect to another replica) and stop listening."""
        with self._lock:
            self._stopping = True
            for subs in self._subs.values():
                for sub in subs:
                    sub.signal(SHUTDOWN)

    def _start(self):
        if self._listener is None:
            self._listener = threading.Thread(target=self._run, name="cintel-hub", daemon=True)
            self._listener.start()

    def _send_subscribe(self, channel: str):
        if self._pubsub is None:
            return  # the listener subscribes every wanted channel when it (re)connects
        try:
            self._pubsub.subscribe(channel)
            self._pending[channel] += 1
        except REDIS_ERRORS:
            logger.warning("pub/sub subscribe failed; the listener will reconnect")

    def _connect(self):
        pubsub = self._client.pubsub()
        pubsub.subscribe(HUB_CHANNEL)
        with self._lock:
            self._pubsub = pubsub
            self._pending.clear()
            for channel in self._subs:
                self._send_subscribe(channel)
        return pubsub

    def _run(self):
        delay = 0.1
        while not self._stopping:
            pubsub = None
            try:
                pubsub = self._connect()
                while not self._stopping:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(message)
                        delay = 0.1
            except REDIS_ERRORS as exc:
                self.connected.clear()
                with self._lock:
                    self._pubsub = None
                self.reconnects += 1
                self._on_reconnect()
                logger.warning("pub/sub connection lost (%s); reconnecting in %.1fs", type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except REDIS_ERRORS:
                        pass

    def _dispatch(self, message):
        kind = message["type"]
        channel = message["channel"].decode()
        if kind == "message":
            with self._lock:
                subs = list(self._subs.get(channel, ()))
            for sub in subs:
                if not sub.push(message["data"]):
                    self.unsubscribe(sub)
        elif kind == "subscribe":
            if channel == HUB_CHANNEL:
                self.connected.set()
                return
            with self._lock:
                self._pending[channel] = max(0, self._pending[channel] - 1)
                if self._pending[channel]:
                    return
                for sub in self._subs.get(channel, ()):
                    if sub.ready:
                        sub.signal(RESYNC)
                    else:
                        sub.mark_ready()
