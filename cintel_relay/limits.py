"""Per-identity limits kept in Redis, so they hold across replicas: open streams, and tickets per minute.

Stream slots are members of a sorted set per identity, scored by when their lease runs out. A live
stream renews its lease as it sends (it sends at least a heartbeat every ``CINTEL_HEARTBEAT_SECONDS``)
and removes its slot when it ends; a replica that dies stops renewing, so its slots lapse within one
lease instead of leaking forever.
"""

import logging
import time
import uuid

from .bus import REDIS_ERRORS
from .errors import RateLimited, Unavailable

logger = logging.getLogger(__name__)

WINDOW = 60

# KEYS: the identity's slot set. ARGV: now, lease seconds, limit, slot id.
# Returns 0 when the identity is at its limit, else 1 with the slot held.
ACQUIRE_LUA = r"""
local key, now, lease, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then return 0 end
redis.call('ZADD', key, now + lease, ARGV[4])
redis.call('EXPIRE', key, math.ceil(lease))
return 1
"""


def slots_key(identity_key: str) -> str:
    return f"cintel:streams:{identity_key}"


def rate_key(identity_key: str, window: int) -> str:
    return f"cintel:rate:tickets:{identity_key}:{window}"


def _redis_down() -> Unavailable:
    return Unavailable("Redis is unreachable, so limits cannot be checked; retry shortly.")


class Slot:
    """One stream's hold on a slot: renewed while it streams, released when it ends."""

    def __init__(self, redis_client, key: str, member: str, lease: float):
        self._redis = redis_client
        self._key = key
        self._member = member
        self._lease = lease
        self._renewed = time.monotonic()

    def renew_if_due(self):
        """Push the lease out, at most every third of a lease."""
        if time.monotonic() - self._renewed < self._lease / 3:
            return
        self._renewed = time.monotonic()
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self._key, {self._member: time.time() + self._lease}, xx=True)
                pipe.expire(self._key, int(self._lease) + 1)
                pipe.execute()
        except REDIS_ERRORS:
            logger.warning("could not renew a stream slot; it lapses unless a later renewal succeeds")

    def release(self):
        try:
            self._redis.zrem(self._key, self._member)
        except REDIS_ERRORS:
            logger.warning("could not release a stream slot; it lapses when its lease runs out")


class Held:
    """Stream ``body`` while holding ``slot``: renew it as frames go out, release it however the stream ends.

    An iterable with ``close()`` rather than a generator: a WSGI server closes what it never iterated
    (a HEAD request, say), and a generator that never started would not run its ``finally``.
    """

    def __init__(self, slot: Slot, body):
        self._slot = slot
        self._body = body
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._body)
        except StopIteration:
            self.close()
            raise
        self._slot.renew_if_due()
        return chunk

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self._body.close()
        finally:
            self._slot.release()


class Limits:
    """The per-identity stream cap and ticket rate. One per app."""

    def __init__(self, redis_client, max_streams: int, tickets_per_minute: int, heartbeat: float):
        self._redis = redis_client
        self._acquire = redis_client.register_script(ACQUIRE_LUA)
        self.max_streams = max_streams
        self.tickets_per_minute = tickets_per_minute
        #: Long enough for several heartbeats between renewals, short enough that a dead replica's slots free soon.
        self.lease = max(60.0, 4 * heartbeat)

    def acquire_stream(self, identity_key: str) -> Slot:
        """A slot for one more stream of this identity, or :class:`RateLimited` at the cap."""
        key, member = slots_key(identity_key), uuid.uuid4().hex
        try:
            granted = self._acquire(keys=[key], args=[time.time(), self.lease, self.max_streams, member])
        except REDIS_ERRORS:
            raise _redis_down()
        if not granted:
            raise RateLimited(f"you already have {self.max_streams} streams open: close one (another tab or window) "
                              "and retry.", code="too_many_streams", headers={"Retry-After": str(int(self.lease))})
        return Slot(self._redis, key, member, self.lease)

    def count_ticket(self, identity_key: str):
        """Count a ticket minted for this identity; :class:`RateLimited` past the rate, with ``Retry-After``."""
        now = time.time()
        window = int(now // WINDOW)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(rate_key(identity_key, window))
                pipe.expire(rate_key(identity_key, window), WINDOW + 1)
                count, _ = pipe.execute()
        except REDIS_ERRORS:
            raise _redis_down()
        if count > self.tickets_per_minute:
            retry = max(1, int((window + 1) * WINDOW - now))
            raise RateLimited(f"more than {self.tickets_per_minute} stream tickets a minute for you: wait "
                              f"{retry}s, and reuse a ticket for reconnects to the same call.",
                              code="too_many_tickets", headers={"Retry-After": str(retry)})
