"""The hub's listener reads pub/sub messages as redis-py's ``get_message`` would give them one by one: every message,
in order, none twice, a quiet connection within its timeout and a dropped one as an error, against a real
redis-server."""

import time

import pytest
import redis

from cintel_relay.bus.hub import _arrived


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pubsub(request, redis_server):
    """A pub/sub connection subscribed to ``burst``, as the store opens it (RESP2, read directly), and under redis-py's
    default (RESP3, read through ``get_message``)."""
    client = redis.Redis.from_url(redis_server.url, protocol=request.param, health_check_interval=1)
    pubsub = client.pubsub()
    pubsub.subscribe("burst")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    yield pubsub
    pubsub.close()
    client.close()


def test_a_burst_read_at_once_is_every_message_in_order(redis_server, pubsub):
    client = redis.Redis.from_url(redis_server.url)
    with client.pipeline(transaction=False) as pipe:
        for n in range(500):
            pipe.publish("burst", b"x" * (n % 97) + b"%d" % n)
        pipe.execute()
    got, waits = [], 0
    while len(got) < 500 and waits < 500:
        waits += 1
        got += list(_arrived(pubsub, 5))
    # Each as redis-py's get_message gives a published message.
    assert got == [
        {"type": "message", "pattern": None, "channel": b"burst", "data": b"x" * (n % 97) + b"%d" % n}
        for n in range(500)
    ]
    assert waits < 500  # the burst came in a few reads, the rest taken from what they brought
    assert list(_arrived(pubsub, 0.2)) == []
    client.close()


def test_a_quiet_connection_gives_nothing_within_the_timeout_then_the_next_message(redis_server, pubsub):
    started = time.monotonic()
    assert list(_arrived(pubsub, 0.3)) == []
    assert 0.25 <= time.monotonic() - started < 3
    redis.Redis.from_url(redis_server.url).publish("burst", b"later")
    assert [m["data"] for m in _arrived(pubsub, 5)] == [b"later"]


def test_a_connection_the_server_drops_is_an_error_not_silence(redis_server, pubsub):
    redis.Redis.from_url(redis_server.url).client_kill_filter(_type="pubsub")
    with pytest.raises(redis.ConnectionError):
        for _ in range(20):
            list(_arrived(pubsub, 0.5))


def test_a_health_check_on_a_quiet_connection_is_no_message_and_no_error(redis_server, pubsub):
    """After the health check interval (the store's is 10 s; 1 s here) a wait sends Redis a PING: its pong is taken
    off the connection as get_message takes it, not handed to the hub as a message."""
    time.sleep(1.2)
    assert [m for _ in range(3) for m in _arrived(pubsub, 0.3)] == []
    redis.Redis.from_url(redis_server.url).publish("burst", b"after")
    assert [m["data"] for m in _arrived(pubsub, 5)] == [b"after"]
