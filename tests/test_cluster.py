"""The relay on a real Redis Cluster (3 masters, 3 replicas): routing, order, dedupe, held results, resume,
the board, sharded pub/sub, and a master's failover under load without losing an acknowledged event."""

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests

from cintel_relay.bus.keys import conversation_keys, log_key

from .cluster_support import RedisCluster
from .support import (
    SENTIMENT_OPERATOR,
    Relay,
    SSEClient,
    communication,
    operator_result,
    post_json,
    race_held_results,
    rule_execution,
    wait_for,
)

CLUSTER_ENV = {"CINTEL_REDIS_MODE": "cluster"}


@pytest.fixture(scope="module")
def cluster():
    cluster = RedisCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def pair(cluster):
    relays = [Relay(cluster.url, **CLUSTER_ENV).start(), Relay(cluster.url, **CLUSTER_ENV).start()]
    yield relays
    for relay in relays:
        relay.stop()


def spread(cluster, count, prefix):
    """``count`` Call SIDs (or conversation ids) whose slots are on different masters, where possible."""
    chosen, masters = [], set()
    for n in itertools.count():
        name = f"CA{prefix}{n:0{32 - len(prefix)}x}" if prefix.isdigit() else f"{prefix}_{n}"
        master = cluster.master_of(log_key(name) if name.startswith("CA") else conversation_keys(name)[0])
        if master not in masters or len(masters) == 3:
            chosen.append(name)
            masters.add(master)
        if len(chosen) == count:
            return chosen


def logged(cluster, session):
    with cluster.client() as client:
        return [(i.decode(), orjson.loads(f[b"f"])) for i, f in client.xrange(log_key(session))]


def sms(comm_id, text, conversation):
    body = communication(comm_id, text, speaker="customer", conversation=conversation, channel="SMS")
    body["data"]["channelId"] = None
    return body


def result(result_id, conversation, last=None, label="neutral"):
    body = operator_result(result_id, SENTIMENT_OPERATOR, {"label": label}, "CLASSIFICATION")
    if last:
        body["executionDetails"]["communications"] = {"first": last, "last": last}
    return rule_execution([body], conversation=conversation)


def test_a_conversation_with_an_sms_thread_and_two_calls_on_the_cluster(cluster, pair):
    first, second = spread(cluster, 2, "1")
    (conv,) = spread(cluster, 1, "conv_cluster")
    streams = {s: [SSEClient(r.url, s) for r in pair] for s in (first, second, conv)}
    for subs in streams.values():
        for sub in subs:
            sub.events(2)
    deliveries = [
        ("/webhook/cor-event", sms("m1", "Hi, I texted about my move", conv)),
        ("/webhook/cintel-action", result("r1", conv, last="m1")),
        (
            "/webhook/cor-event",
            communication("v1", "Thanks for calling Swift Movers", call_sid=first, conversation=conv),
        ),
        ("/webhook/cintel-action", result("r2", conv, last="v1", label="positive")),
        ("/webhook/cor-event", sms("m2", "Sending the inventory list now", conv)),
        ("/webhook/cintel-action", result("r3", conv, last="m2")),
        ("/webhook/cor-event", communication("v2", "Calling back about the piano", call_sid=second, conversation=conv)),
        ("/webhook/cintel-action", result("r4", conv, last="v1", label="mixed")),  # the first call's, late
        ("/webhook/cintel-action", result("r5", conv, last="v2", label="negative")),
    ]
    for n, (path, body) in enumerate(deliveries):
        assert post_json(pair[n % 2].url, path, body).status_code == 200
    ids = {s: [e["data"].get("operatorResultId") or e["data"]["id"] for _, e in logged(cluster, s)] for s in streams}
    assert ids[conv] == ["m1", "r1", "r1", "m2"]
    assert ids[first] == ["v1", "r2", "r2", "m2", "r3", "r3", "r4", "r4"]
    assert ids[second] == ["v2", "r5", "r5"]
    for session, subs in streams.items():
        log = logged(cluster, session)
        for sub in subs:
            assert sub.events(len(log)) == log
            sub.close()


def test_held_results_come_first_whoever_wins_the_race(cluster, pair):
    for round_, call_sid in enumerate(spread(cluster, 6, "2")):
        conv = f"conv_race_{round_}"
        ids = race_held_results(pair[0], pair[0], pair[1], call_sid, conv, lambda s: logged(cluster, s))
        assert ids[:2] == [f"{conv}-early"] * 2
        assert sorted(ids[2:]) == sorted([f"{conv}-late", f"{conv}-late", f"{conv}-c1"])


def test_the_same_delivery_at_both_replicas_at_once_is_one_event(cluster, pair):
    (call_sid,) = spread(cluster, 1, "3")
    barrier = threading.Barrier(4)

    def deliver(i, n):
        barrier.wait()
        return post_json(
            pair[i % 2].url,
            "/webhook/cor-event",
            communication(f"dup-{n}", f"line {n}", call_sid=call_sid, conversation="conv_dup"),
        ).json()

    for n in range(5):
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(deliver, range(4), [n] * 4))
        assert sorted(r["logged"] for r in results) == [0, 0, 0, 1]
    assert [e["data"]["text"] for _, e in logged(cluster, call_sid)] == [f"line {n}" for n in range(5)]


def test_a_stream_resumes_on_the_other_replica(cluster, pair):
    (call_sid,) = spread(cluster, 1, "4")
    for n in range(3):
        post_json(
            pair[0].url,
            "/webhook/cor-event",
            communication(f"res-{n}", f"line {n}", call_sid=call_sid, conversation="conv_resume"),
        )
    first_id = logged(cluster, call_sid)[0][0]
    client = SSEClient(pair[1].url, call_sid, last_event_id=first_id)
    assert client.next_event()[1]["type"] == "connected"
    assert [e[1]["data"]["text"] for e in client.events(2)] == ["line 1", "line 2"]
    client.close()


def test_the_board_sees_calls_of_every_shard(cluster, pair):
    calls = spread(cluster, 3, "5")
    board = SSEClient(pair[1].url, None, path="/api/board/stream")
    assert board.next_event()[1]["type"] == "board"
    for n, call_sid in enumerate(calls):
        post_json(
            pair[0].url,
            "/webhook/cor-event",
            communication(f"b-{n}", f"board {n}", call_sid=call_sid, conversation=f"conv_board_{n}"),
        )
    seen = {board.next_event()[1]["data"]["session"] for _ in calls}
    assert seen == set(calls)
    listed = {c["session"] for c in requests.get(pair[0].url + "/api/board", timeout=5).json()["calls"]}
    assert listed >= set(calls)
    board.close()


def test_each_worker_holds_one_sharded_pubsub_connection_per_shard(cluster, pair):
    calls = spread(cluster, 12, "6")
    streams = [SSEClient(pair[0].url, c) for c in calls for _ in range(3)]
    for stream in streams:
        stream.events(2)
    per_master = {}
    for port in cluster.procs:
        if cluster.info(port)["role"] != "master":
            continue
        clients = __import__("redis").Redis(port=port).client_list()
        per_master[port] = len([c for c in clients if c["name"].endswith(":pubsub")])
    # Two relays, one worker each: at most one pub/sub connection per relay per master, 36 streams or not.
    assert len(per_master) == 3 and all(1 <= n <= 2 for n in per_master.values()), per_master
    for stream in streams:
        stream.close()


def test_a_failover_under_load_loses_no_acknowledged_event():
    """SIGKILL the master of a call's slot while two replicas take webhooks with WAIT for one replica;
    afterwards the log holds every acknowledged event once, and every subscriber got it, in log order.

    The promoted replica has no replica of its own until the killed node comes back (as one), so until
    then its writes are refused with 503 and retried, as Twilio retries: nothing is acknowledged that a
    second failure could lose."""
    cluster = RedisCluster().start()
    relays = [Relay(cluster.url, CINTEL_REDIS_WAIT_REPLICAS="1", **CLUSTER_ENV).start() for _ in range(2)]
    try:
        (call_sid,) = spread(cluster, 1, "7")
        victim = cluster.master_of(log_key(call_sid))
        subscribers = [SSEClient(r.url, call_sid) for r in relays]
        for sub in subscribers:
            sub.events(2)
        acknowledged, stop = [], threading.Event()

        def post(n):
            body = communication(f"fo-{n}", f"line {n}", call_sid=call_sid, conversation="conv_failover")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # as Twilio does: retry until a 2xx
                try:
                    if post_json(relays[n % 2].url, "/webhook/cor-event", body).status_code == 200:
                        acknowledged.append(n)
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.2)

        def heal():
            cluster.wait_failover(victim)
            cluster.restart(victim)

        healer = threading.Thread(target=heal)

        def load():
            for n in range(200):
                post(n)
                if n == 60:
                    cluster.kill(victim)
                    healer.start()
            stop.set()

        poster = threading.Thread(target=load)
        poster.start()
        poster.join(120)
        healer.join(30)
        assert stop.is_set() and sorted(acknowledged) == list(range(200))
        wait_for(cluster.healthy, timeout=30, what="the cluster to have a replica for every master again")
        log = [(i, e["data"]["text"]) for i, e in logged(cluster, call_sid)]
        assert sorted(int(text.split()[1]) for _, text in log) == list(range(200))  # every one, once
        for sub in subscribers:
            got = []
            while len(got) < len(log):
                try:
                    got.append(sub.next_event(timeout=20))
                except EOFError:  # the stream's Redis went away: reconnect with Last-Event-ID, as a browser does
                    sub = SSEClient(
                        sub.conn.host and relays[0].url, call_sid, last_event_id=got[-1][0] if got else None
                    )
                    if not got:
                        sub.events(2)
                    else:
                        assert sub.next_event()[1]["type"] == "connected"
            assert [(i, e["data"]["text"]) for i, e in got] == log
    finally:
        for relay in relays:
            relay.stop()
        cluster.stop()


def test_a_cluster_relay_refuses_to_start_without_a_redis_url():
    relay = Relay(None, **CLUSTER_ENV)
    with pytest.raises(AssertionError, match="CINTEL_REDIS_MODE=cluster needs REDIS_URL"):
        relay.start()
    wait_for(lambda: relay.proc.poll() is not None, what="the relay to exit")
