"""Per-identity limits on a real Redis: slots are renewed while streaming and released however a stream ends."""

import pytest

from cintel_relay.errors import RateLimited
from cintel_relay.limits import Held, Limits, Slot, slots_key

from .support import wait_for


def frames():
    yield b"a"
    yield b"b"
    yield b"c"


def test_a_slot_is_released_when_the_client_goes_away_mid_stream(redis_client):
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    body = Held(limits.acquire_stream("who"), frames())
    assert next(body) == b"a"
    with pytest.raises(RateLimited):
        limits.acquire_stream("who")
    body.close()
    assert redis_client.zcard(slots_key("who")) == 0
    limits.acquire_stream("who")


def test_a_slot_is_released_when_the_stream_never_started(redis_client):
    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    Held(limits.acquire_stream("who"), frames()).close()
    assert redis_client.zcard(slots_key("who")) == 0


def test_a_slot_is_released_when_the_stream_fails(redis_client):
    def failing():
        yield b"a"
        raise ConnectionError("Redis went away")

    limits = Limits(redis_client, max_streams=1, tickets_per_minute=5, heartbeat=1)
    body = Held(limits.acquire_stream("who"), failing())
    with pytest.raises(ConnectionError):
        list(body)
    body.close()  # what the WSGI server does after any error
    assert redis_client.zcard(slots_key("who")) == 0


def test_a_live_stream_keeps_pushing_its_lease_out(redis_client):
    redis_client.zadd(slots_key("who"), {"me": 0})
    slot = Slot(redis_client, slots_key("who"), "me", lease=0.3)
    first = wait_for(lambda: slot.renew_if_due() or redis_client.zscore(slots_key("who"), "me"), what="a renewal")
    wait_for(lambda: slot.renew_if_due() or redis_client.zscore(slots_key("who"), "me") > first, what="another")
    assert redis_client.ttl(slots_key("who")) > 0


def test_the_lease_outlasts_several_heartbeats(redis_client):
    assert Limits(redis_client, 1, 1, heartbeat=15).lease == 60
    assert Limits(redis_client, 1, 1, heartbeat=20).lease == 80
