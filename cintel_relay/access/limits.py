"""Limits kept in Redis, so they hold across replicas: open streams and tickets per identity, refused
tokens per client address.

Stream slots are members of a sorted set per identity, scored by when their lease runs out, in Redis's
own clock (``TIME``), so a replica whose clock is off cannot evict the others' live slots. A live
stream renews its lease as it sends (it sends at least a heartbeat every ``CINTEL_HEARTBEAT_SECONDS``)
and removes its slot when it ends; a replica that dies stops renewing, so its slots lapse within one
lease instead of leaking forever. A stream also ends when its ticket expires: the client then needs a
new ticket, and so a Flex token that is still valid.
"""

import logging
import time
import uuid
from typing import Optional

from ..bus.group_commit import GroupCommit, LuaScript
from ..bus.store import REDIS_ERRORS, Store
from ..errors import RateLimited, Unavailable

logger = logging.getLogger(__name__)

WINDOW = 60

# Leases are in Redis's clock, shared by every replica. KEYS: the identity's slot set. ARGV: lease seconds,
# limit, slot id. Returns 0 when the identity is at its limit, else 1 with the slot held.
ACQUIRE_LUA = r"""
local t = redis.call('TIME')
local key, now, lease, limit = KEYS[1], tonumber(t[1]) + tonumber(t[2]) / 1e6, tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then return 0 end
redis.call('ZADD', key, now + lease, ARGV[3])
redis.call('EXPIRE', key, math.ceil(lease))
return 1
"""

# Count, then check, in one step, so concurrent bad tokens cannot all pass a check made before any is counted.
# KEYS: this minute's count of an address's unresolved and refused tokens, the address's lane. ARGV: the
# limit, the count's TTL, the lane's seconds. Returns 1 (under the limit), 2 (past it, but the lane was
# free: this token may be asked), or 0 (refused; not counted).
ADMIT_LUA = r"""
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count <= tonumber(ARGV[1]) then return 1 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return 2 end
redis.call('DECR', KEYS[1])
return 0
"""

# KEYS: the count. Takes one off it, and leaves no key at zero.
UNCOUNT_LUA = r"""
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
"""

# KEYS: this window's count. ARGV: its TTL. Counts one more and returns the count.
COUNT_LUA = r"""
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

# KEYS: the slot set. ARGV: lease seconds, slot id. Pushes the slot's lease out, if it still holds one.
RENEW_LUA = r"""
local t = redis.call('TIME')
local lease = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1e6 + lease, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 1)
"""


ACQUIRE = LuaScript("acquire-stream", text=ACQUIRE_LUA)
COUNT = LuaScript("count", text=COUNT_LUA)


def slots_key(identity_key: str) -> str:
    return f"cintel:streams:{identity_key}"


def rate_key(identity_key: str, window: int) -> str:
    return f"cintel:rate:tickets:{identity_key}:{window}"


def opens_key(subject_key: str, window: int) -> str:
    return f"cintel:rate:stream-opens:{subject_key}:{window}"


def bad_tokens_key(address_key: str, window: int) -> str:
    # The hash tag keeps it in the lane's slot: one script call uses both.
    return f"cintel:rate:bad-tokens:{{{address_key}}}:{window}"


def bad_token_lane_key(address_key: str) -> str:
    return f"cintel:rate:bad-token-lane:{{{address_key}}}"


#: Past its bad-token limit an address may still have one unknown token a second asked of Twilio, so a
#: colleague behind the same NAT or proxy is delayed by seconds, never locked out for the minute.
LANE_SECONDS = 1


def _window() -> tuple:
    """(this minute's number, seconds left in it): the fixed windows of the rate limits."""
    now = time.time()
    window = int(now // WINDOW)
    return window, max(1, int((window + 1) * WINDOW - now))


def _redis_down() -> Unavailable:
    return Unavailable("Redis is unreachable, so limits cannot be checked; retry shortly.")


class Slot:
    """One stream's hold on a slot: renewed while it streams, released when it ends or its ticket expires."""

    def __init__(self, redis_client, renew_script, key: str, member: str, lease: float, until: float):
        self._redis = redis_client
        self._renew = renew_script
        self._key = key
        self._member = member
        self._lease = lease
        #: Epoch seconds at which the stream's ticket expires; the stream ends then.
        self.until = until
        self._renewed = time.monotonic()

    def renew_if_due(self):
        """Push the lease out, at most every third of a lease."""
        if time.monotonic() - self._renewed < self._lease / 3:
            return
        self._renewed = time.monotonic()
        try:
            self._renew(keys=[self._key], args=[self._lease, self._member])
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
        if time.time() >= self._slot.until:
            # The ticket has expired: a reconnect needs a new one, so a revoked user stops watching.
            self.close()
            raise StopIteration
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
    """The per-identity stream cap and ticket rate, and refused tokens per client address. One per app."""

    def __init__(
        self,
        redis_client,
        max_streams: int,
        tickets_per_minute: int,
        heartbeat: float,
        bad_tokens_per_minute: int = 10,
        stream_opens_per_minute: int = 120,
        commit: Optional[GroupCommit] = None,
    ):
        self._redis = redis_client
        # A stream's open is counted (and its slot taken) in script calls shared with other callers' round trips:
        # in a reconnect storm thousands of opens would otherwise queue for the few pooled connections.
        self._commit = commit or GroupCommit(Store(redis_client, None))
        self._renew = redis_client.register_script(RENEW_LUA)
        self._admit = redis_client.register_script(ADMIT_LUA)
        self._uncount = redis_client.register_script(UNCOUNT_LUA)
        self.max_streams = max_streams
        self.tickets_per_minute = tickets_per_minute
        self.bad_tokens_per_minute = bad_tokens_per_minute
        self.stream_opens_per_minute = stream_opens_per_minute
        #: Long enough for several heartbeats between renewals, short enough that a dead replica's slots free soon.
        self.lease = max(60.0, 4 * heartbeat)

    def acquire_stream(self, identity_key: str, until: float) -> Slot:
        """A slot for one more stream of this identity until ``until`` (epoch seconds), or :class:`RateLimited`
        at the cap."""
        key, member = slots_key(identity_key), uuid.uuid4().hex
        try:
            granted = self._commit.run(ACQUIRE, (key,), [self.lease, self.max_streams, member], durable=False)
        except REDIS_ERRORS:
            raise _redis_down() from None
        if not granted:
            raise RateLimited(
                f"you already have {self.max_streams} streams open: close one (another tab or window) and retry.",
                code="too_many_streams",
                headers={"Retry-After": str(int(self.lease))},
            )
        return Slot(self._redis, self._renew, key, member, self.lease, until)

    def _count(self, key_of, subject: str) -> tuple:
        """(count this minute after adding one, seconds left in the minute)."""
        window, retry = _window()
        try:
            count = self._commit.run(COUNT, (key_of(subject, window),), [WINDOW + 1], durable=False)
        except REDIS_ERRORS:
            raise _redis_down() from None
        return count, retry

    def count_ticket(self, identity_key: str):
        """Count a ticket minted for this identity; :class:`RateLimited` past the rate, with ``Retry-After``."""
        count, retry = self._count(rate_key, identity_key)
        if count > self.tickets_per_minute:
            raise RateLimited(
                f"more than {self.tickets_per_minute} stream tickets a minute for you: wait "
                f"{retry}s, and reuse a ticket for reconnects to the same call.",
                code="too_many_tickets",
                headers={"Retry-After": str(retry)},
            )

    def count_stream_open(self, subject_key: str):
        """Count a stream opened by this identity (or address); :class:`RateLimited` past the rate.

        Each open reads the call's log (its snapshot, or what follows ``Last-Event-ID``): a client reopening
        in a loop would make the relay re-read and re-send it as fast as it can ask.
        """
        count, retry = self._count(opens_key, subject_key)
        if count > self.stream_opens_per_minute:
            raise RateLimited(
                f"more than {self.stream_opens_per_minute} streams opened a minute: wait {retry}s, and reconnect "
                "with Last-Event-ID so nothing is missed.",
                code="too_many_stream_opens",
                headers={"Retry-After": str(retry)},
            )

    def admit_unknown_token(self, address_key: str) -> str:
        """Count an unknown token from this address before Twilio is asked about it; :class:`RateLimited` when
        the address is past ``CINTEL_BAD_TOKENS_PER_MINUTE`` and another of its tokens was asked this second.

        :returns: the count's key, for :meth:`token_was_valid` to take the token back off it.
        """
        window, _ = _window()
        key = bad_tokens_key(address_key, window)
        try:
            admitted = self._admit(
                keys=[key, bad_token_lane_key(address_key)],
                args=[self.bad_tokens_per_minute, WINDOW + 1, LANE_SECONDS],
            )
        except REDIS_ERRORS:
            raise _redis_down() from None
        if not admitted:
            raise RateLimited(
                f"too many refused Flex tokens from your address this minute: retry in {LANE_SECONDS}s.",
                code="too_many_bad_tokens",
                headers={"Retry-After": str(LANE_SECONDS)},
            )
        return key

    def token_was_valid(self, key: str):
        """Take a token Twilio accepted off its address's count: only refused tokens use up the limit."""
        try:
            self._uncount(keys=[key])
        except REDIS_ERRORS:
            logger.warning("could not uncount a valid token; it counts against its address until the minute ends")
