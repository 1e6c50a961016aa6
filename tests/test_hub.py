"""The hub's listener reads a burst of pub/sub messages as redis-py would give them one by one: every message, in
order, none twice, against a real redis-server."""

import redis

from cintel_relay.bus.hub import _buffered


def test_a_burst_read_at_once_is_every_message_in_order(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    pubsub = client.pubsub()
    pubsub.subscribe("burst")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    with client.pipeline(transaction=False) as pipe:
        for n in range(500):
            pipe.publish("burst", b"x" * (n % 97) + b"%d" % n)
        pipe.execute()
    got, reads = [], 0
    while len(got) < 500:
        message = pubsub.get_message(timeout=5)
        assert message is not None, f"{len(got)} of 500 messages arrived"
        reads += 1
        got += [message, *_buffered(pubsub)]
    assert [m["data"] for m in got] == [b"x" * (n % 97) + b"%d" % n for n in range(500)]
    assert {(m["type"], m["channel"]) for m in got} == {("message", b"burst")}
    assert reads < 500  # the burst came in a few reads, the rest taken from what they brought
    assert pubsub.get_message(timeout=0.2) is None
    pubsub.close()
    client.close()
