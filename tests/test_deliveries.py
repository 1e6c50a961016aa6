"""Reports delivered to the customer's systems (docs/reports.md): signed, one id on every retry, retried with
backoff until a 2xx, sent by one replica at a time, and not lost to a replica killed mid-attempt. Two real gunicorn
replicas on one real Redis; a receiver in the test."""

import signal

import orjson
import pytest
import redis as redis_lib

from cintel_relay.bus.keys import due_keys
from cintel_relay.outbound import signing

from .support import CALL_SID, METRICS_TOKEN, Receiver, metric, scrape, wait_for
from .support.postcall import completed_call

SECRET = "report-secret-for-tests-0123456789abcdef"


def delivery_env(receiver, **extra):
    env = dict(
        CINTEL_REPORT_URL=receiver.url,
        CINTEL_REPORT_SECRET=SECRET,
        CINTEL_REPORT_SETTLE_SECONDS="0.2",
        CINTEL_REPORT_RETRY_SECONDS="0.3",
        CINTEL_REPORT_TIMEOUT="1",
        CINTEL_DUE_LEASE_SECONDS="2",
        CINTEL_METRICS_TOKEN=METRICS_TOKEN,
    )
    return {**env, **extra}


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def verified(received):
    """Each request's signature checks out with the secret, and its body parses."""
    for r in received:
        stamp, sent = r.headers[signing.TIMESTAMP_HEADER], r.headers[signing.SIGNATURE_HEADER]
        assert signing.verify(SECRET, stamp, sent, r.body, now=int(stamp)), r.headers
        assert not signing.verify(SECRET, stamp, sent, r.body + b" ", now=int(stamp))
    return [orjson.loads(r.body) for r in received]


def totals(relays, outcome):
    return sum(metric(scrape(r.url), "cintel_deliveries_total", kind="report", outcome=outcome) for r in relays)


def queued(redis_url):
    """The due queue's items (the call's adherence deadlines stay queued until their time; they send nothing)."""
    with redis_lib.Redis.from_url(redis_url) as client:
        return [item.decode() for item in client.zrange(due_keys("relay")[0], 0, -1)]


def test_a_receiver_that_fails_twice_gets_three_attempts_with_one_id_then_nothing_more(
    start_private_relay, private_redis, receiver
):
    endpoint = receiver(statuses=[500, 503])
    relays = [start_private_relay(**delivery_env(endpoint)) for _ in range(2)]
    completed_call(relays)  # one settling, so one report: every request below is an attempt of one delivery
    wait_for(lambda: totals(relays, "delivered") == 1, timeout=20, what="the delivery to succeed")
    assert len(endpoint.received) == 3
    assert len({r.headers[signing.DELIVERY_HEADER] for r in endpoint.received}) == 1
    bodies = verified(endpoint.received)
    assert all(body == bodies[0] for body in bodies) and bodies[0]["final"] and bodies[0]["callSid"] == CALL_SID
    assert totals(relays, "failed") == 2 and totals(relays, "gave_up") == 0
    # nothing more: the delivery left the queue, and so did the settle item
    assert wait_for(
        lambda: not [i for i in queued(private_redis.url) if i.startswith(("deliver:", "settle:"))],
        what="no delivery or settling left in the queue",
    )
    assert len(endpoint.received) == 3


def test_a_replica_killed_while_it_holds_the_delivery_does_not_lose_it(start_private_relay, receiver):
    endpoint = receiver(hold=True)
    first = start_private_relay(**delivery_env(endpoint))
    completed_call([first, first])
    assert endpoint.holding.wait(20), "the first replica never sent the report"
    first.stop(signal.SIGKILL)  # mid-attempt: it never hears back, never finishes the item
    second = start_private_relay(**delivery_env(endpoint))
    wait_for(lambda: totals([second], "delivered") == 1, timeout=20, what="the other replica to deliver")
    ids = {r.headers[signing.DELIVERY_HEADER] for r in endpoint.received}
    assert len(endpoint.received) == 2 and len(ids) == 1
    verified(endpoint.received)
