"""CINTEL_REDIS_WAIT_REPLICAS on a standalone Redis with a replica: a webhook is acknowledged only once a
replica holds its writes (Redis WAIT); without one it gets 503 and Twilio's retry lands it exactly once."""

import io

import pytest
import redis

from cintel_relay.bus.keys import log_key
from cintel_relay.setup import check

from .support import CALL_SID, RedisReplica, RedisServer, Relay, base_env, communication, post_json, wait_for


@pytest.fixture
def durable():
    primary = RedisServer().start()
    replica = RedisReplica(primary).start()
    relay = Relay(primary.url, CINTEL_REDIS_WAIT_REPLICAS="1", CINTEL_REDIS_WAIT_TIMEOUT_MS="300").start()
    yield primary, replica, relay
    relay.stop()
    replica.stop()
    primary.stop()


def test_an_acknowledged_event_is_on_the_replica_already(durable):
    primary, replica, relay = durable
    body = communication("c1", "Thanks for contacting Swift Movers.")
    assert post_json(relay.url, "/webhook/cor-event", body).json()["logged"] == 1
    # No waiting here: WAIT returned only after the replica had the write.
    assert redis.Redis(port=replica.port).xlen(log_key(CALL_SID)) == 1


def test_without_a_replica_the_webhook_gets_503_and_its_retry_lands_once(durable):
    primary, replica, relay = durable
    replica.stop()
    wait_for(
        lambda: redis.Redis(port=primary.port).info("replication")["connected_slaves"] == 0,
        what="the primary to notice the replica is gone",
    )
    body = communication("c1", "said while no replica confirms")
    refused = post_json(relay.url, "/webhook/cor-event", body)
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.json()["code"] == "unavailable" and "replica" in refused.json()["error"]
    replica.start()
    # Twilio retries until a 2xx, with backoff; a replica just back may take a moment to confirm writes again (under
    # load, longer than the relay's 300 ms WAIT), so the retries go on for a few seconds here too.
    statuses = []
    wait_for(
        lambda: statuses.append(post_json(relay.url, "/webhook/cor-event", body).status_code) or statuses[-1] == 200,
        interval=0.5,
        what="a retry to be acknowledged",
    )
    assert set(statuses[:-1]) <= {503}
    texts = [f[b"f"] for _, f in redis.Redis(port=primary.port).xrange(log_key(CALL_SID))]
    assert len(texts) == 1  # the first attempt's write plus every retry: one event
    wait_for(lambda: redis.Redis(port=replica.port).xlen(log_key(CALL_SID)) == 1, what="the replica to catch up")


def test_check_says_when_the_redis_has_fewer_replicas_than_wait_asks_for(durable):
    primary, replica, relay = durable
    env = base_env(primary.url, CINTEL_REDIS_WAIT_REPLICAS="1", CINTEL_VERIFY_SIGNATURES="false")
    out = io.StringIO()
    check.run(env, out)
    assert "ok    Redis answers at REDIS_URL (standalone)" in out.getvalue()
    replica.stop()
    wait_for(
        lambda: redis.Redis(port=primary.port).info("replication")["connected_slaves"] == 0,
        what="the primary to notice the replica is gone",
    )
    out = io.StringIO()
    assert check.run(env, out) == 1
    assert "CINTEL_REDIS_WAIT_REPLICAS=1 but Redis has 0 replica(s)" in out.getvalue()
    assert "fix: add replicas to that Redis" in out.getvalue()
