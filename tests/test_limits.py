"""Limits on a real Redis: slots are renewed while streaming, released however a stream ends, timed by Redis's
clock, and a stream ends when its ticket does; refused tokens are counted per client address."""

import time

import pytest

from cintel_relay.access.limits import Held, Limits, Slot, slots_key
from cintel_relay.errors import RateLimited

from .support import wait_for

#: A ticket expiry far enough away not to end a test's stream.
FAR = time.time() + 3600


def frames():
    yield b"a"
    yield b"b"
    yield b"c"


def test_a_slot_is_released_when_the_client_goes_away_mid_stream(redis_client):
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    body = Held(limits.acquire_stream("who", FAR), frames())
    assert next(body) == b"a"
    with pytest.raises(RateLimited):
        limits.acquire_stream("who", FAR)
    body.close()
    assert redis_client.zcard(slots_key("who")) == 0
    limits.acquire_stream("who", FAR)


def test_a_slot_is_released_when_the_stream_never_started(redis_client):
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    Held(limits.acquire_stream("who", FAR), frames()).close()
    assert redis_client.zcard(slots_key("who")) == 0


def test_a_slot_is_released_when_the_stream_fails(redis_client):
    def failing():
        yield b"a"
        raise ConnectionError("Redis went away")

    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    body = Held(limits.acquire_stream("who", FAR), failing())
    with pytest.raises(ConnectionError):
        list(body)
    body.close()  # what the WSGI server does after any error
    assert redis_client.zcard(slots_key("who")) == 0


def test_a_live_stream_keeps_pushing_its_lease_out(redis_client):
    redis_client.zadd(slots_key("who"), {"me": 0})
    limits = Limits(redis_client, 1, 1, heartbeat=1)
    slot = Slot(redis_client, limits._renew, slots_key("who"), "me", lease=0.3, until=FAR)
    first = wait_for(lambda: slot.renew_if_due() or redis_client.zscore(slots_key("who"), "me"), what="a renewal")
    wait_for(lambda: slot.renew_if_due() or redis_client.zscore(slots_key("who"), "me") > first, what="another")
    assert redis_client.ttl(slots_key("who")) > 0


def test_the_lease_outlasts_several_heartbeats(redis_client):
    assert Limits(redis_client, 1, 1, heartbeat=15).lease == 60
    assert Limits(redis_client, 1, 1, heartbeat=20).lease == 80


def redis_now(redis_client) -> float:
    seconds, micros = redis_client.time()
    return seconds + micros / 1e6


def test_a_replica_whose_clock_runs_ahead_evicts_no_live_slot(redis_client, monkeypatch):
    """Leases are in Redis's clock: a replica 61 s ahead neither evicts others' slots nor gives itself longer."""
    others = {"other-replica": redis_now(redis_client) + 30}
    redis_client.zadd(slots_key("who"), others)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 61)
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    with pytest.raises(RateLimited):
        limits.acquire_stream("who", FAR)
    assert redis_client.zscore(slots_key("who"), "other-replica") == others["other-replica"]
    redis_client.delete(slots_key("who"))
    slot = limits.acquire_stream("who", FAR + 61)
    ((member, lease_end),) = redis_client.zrange(slots_key("who"), 0, -1, withscores=True)
    assert lease_end <= redis_now(redis_client) + limits.lease
    slot._renewed -= limits.lease  # due: a renewal is timed by Redis too
    slot.renew_if_due()
    assert redis_client.zscore(slots_key("who"), member) <= redis_now(redis_client) + limits.lease


def test_a_stream_ends_when_its_ticket_expires(redis_client):
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)

    def endless():
        while True:
            yield b": keep-alive\n\n"

    body = Held(limits.acquire_stream("who", time.time() + 0.3), endless())
    assert next(body) == b": keep-alive\n\n"
    wait_for(lambda: next(body, None) is None, timeout=5, what="the stream to end with its ticket")
    assert redis_client.zcard(slots_key("who")) == 0


def test_refused_tokens_are_counted_per_address(redis_client):
    limits = Limits(redis_client, 1, 1, heartbeat=1, bad_tokens_per_minute=3)
    for _ in range(3):
        limits.admit_unknown_token("address-a")
    limits.admit_unknown_token("address-a")  # past the limit: the lane's one token this second
    with pytest.raises(RateLimited) as refused:
        limits.admit_unknown_token("address-a")
    assert refused.value.code == "too_many_bad_tokens" and refused.value.headers["Retry-After"] == "1"
    limits.admit_unknown_token("address-b")


def test_a_valid_token_gives_its_count_back(redis_client):
    limits = Limits(redis_client, 1, 1, heartbeat=1, bad_tokens_per_minute=2)
    for _ in range(5):
        limits.token_was_valid(limits.admit_unknown_token("address-a"))
    limits.admit_unknown_token("address-a")
    limits.admit_unknown_token("address-a")  # the two refused tokens of the limit: no lane needed yet
