"""Delivery guarantees under concurrency, across three replicas: one order, no loss, no duplicate."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from cintel_relay.bus.keys import log_key

from .support import (
    SENTIMENT_OPERATOR,
    Relay,
    SSEClient,
    communication,
    operator_result,
    post_json,
    race_held_results,
    rule_execution,
    running_all,
)


@pytest.fixture(scope="module")
def trio(redis_server):
    yield from running_all(Relay(redis_server.url) for _ in range(3))


def logged(redis_client, session):
    return [(i.decode(), orjson.loads(f[b"f"])) for i, f in redis_client.xrange(log_key(session))]


def test_randomized_interleavings_every_subscriber_sees_the_log(trio, redis_client):
    rng = random.Random(20261125)
    calls = [("CA%032x" % (0xA000 + n), f"conv_{n}") for n in range(4)]
    deliveries = []  # (path, body); every call: results before the mapping, lines, duplicates
    for call_sid, conv in calls:
        for n in range(30):
            if n % 3 == 0:
                body = rule_execution(
                    [operator_result(f"{conv}-r{n}", SENTIMENT_OPERATOR, {"label": "neutral"})], conversation=conv
                )
                deliveries.append(("/webhook/cintel-action", body))
            else:
                deliveries.append(
                    (
                        "/webhook/cor-event",
                        communication(f"{conv}-c{n}", f"{conv} line {n}", call_sid=call_sid, conversation=conv),
                    )
                )
    deliveries += rng.sample(deliveries, 20)  # redeliveries
    rng.shuffle(deliveries)
    subscribers = {call_sid: [SSEClient(trio[i].url, call_sid) for i in range(3)] for call_sid, _ in calls}
    for subs in subscribers.values():
        for sub in subs:
            sub.events(2)

    def deliver(item):
        path, body = item
        return post_json(rng.choice(trio).url, path, body).status_code

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(deliver, deliveries)) == {200}
    for call_sid, _conv in calls:
        log = logged(redis_client, call_sid)
        # 20 lines, and 10 results each yielding operator-result + sentiment: all of them, once
        assert len(log) == 40
        assert len({e["data"].get("id", e["data"].get("operatorResultId")) + e["type"] for _, e in log}) == 40
        for sub in subscribers[call_sid]:
            assert sub.events(40) == log
            sub.close()


def test_mapping_and_results_racing_at_two_replicas(trio, redis_client):
    for round_ in range(15):
        call_sid, conv = "CA%032x" % (0xB000 + round_), f"race_{round_}"
        ids = race_held_results(trio[0], trio[1], trio[2], call_sid, conv, lambda s: logged(redis_client, s))
        assert ids[:2] == [f"{conv}-early"] * 2  # held events first, in order, whoever won the race
        assert sorted(ids[2:]) == sorted([f"{conv}-late", f"{conv}-late", f"{conv}-c1"])
        assert len(ids) == 5


def test_same_delivery_to_two_replicas_at_once_is_one_event(trio, redis_client):
    call_sid = "CA%032x" % 0xC000
    barrier = threading.Barrier(6)

    def deliver(i, n):
        barrier.wait()
        return post_json(
            trio[i % 3].url, "/webhook/cor-event", communication(f"dup-{n}", f"line {n}", call_sid=call_sid)
        ).json()

    for n in range(10):
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(deliver, range(6), [n] * 6))
        assert sorted(r["logged"] for r in results) == [0, 0, 0, 0, 0, 1]
        assert sum(r["duplicates"] for r in results) == 5
    assert [e["data"]["text"] for _, e in logged(redis_client, call_sid)] == [f"line {n}" for n in range(10)]
