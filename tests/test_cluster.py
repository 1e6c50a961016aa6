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

from .support import (
    SENTIMENT_OPERATOR,
    SUMMARY_OPERATOR,
    Relay,
    SSEClient,
    adherence_result,
    communication,
    operator_result,
    post_form,
    post_json,
    race_held_results,
    rule_execution,
    running,
    running_all,
    wait_for,
)
from .support.cluster import RedisCluster

CLUSTER_ENV = {"CINTEL_REDIS_MODE": "cluster"}


@pytest.fixture(scope="module")
def cluster():
    yield from running(RedisCluster())


@pytest.fixture(scope="module")
def pair(cluster):
    yield from running_all(Relay(cluster.url, **CLUSTER_ENV) for _ in range(2))


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
    ids = {
        s: [e["data"].get("operatorResultId") or e["data"].get("id") or e["type"] for _, e in logged(cluster, s)]
        for s in streams
    }
    assert ids[conv] == ["m1", "r1", "r1", "m2"]
    assert ids[first] == ["v1", "r2", "r2", "m2", "r3", "r3", "r4", "r4"]
    assert ids[second] == ["v2", "r5", "r5", "alert"]  # the negative sentiment raises the built-in alert
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


def deliver(post, relay, path, body):
    """Deliver as Twilio does: a 503 (Redis unreachable, as for a moment after a failover) is tried again."""
    for _ in range(20):
        answer = post(relay.url, path, body)
        if answer.status_code != 503:
            return answer
        time.sleep(0.5)
    return answer


def acceptance(pair, call_sid, tag="before"):
    """What a user depends on, for one call across two replicas: a late joiner gets ``connected`` then the
    snapshot with the transcript and the latest values, its stream stays up, and a refused (4xx) delivery
    harms nothing: the next good one still flows to it."""
    conv = f"conv_accept_{call_sid[-6:]}"
    lines = [("agent", f"Thanks for calling Swift Movers ({tag})"), ("customer", f"Hi, a move ({tag})")]
    for n, (speaker, text) in enumerate(lines):
        body = communication(f"{call_sid}-{tag}-c{n}", text, speaker=speaker, call_sid=call_sid, conversation=conv)
        answer = deliver(post_json, pair[n % 2], "/webhook/cor-event", body)
        assert answer.status_code == 200, answer.text
    results = [
        adherence_result(f"{call_sid}-{tag}-a", greeting="Succeeded", verification="Failed"),
        operator_result(f"{call_sid}-{tag}-s", SENTIMENT_OPERATOR, {"label": "positive"}, "CLASSIFICATION"),
        operator_result(f"{call_sid}-{tag}-m", SUMMARY_OPERATOR, {"text": f"A customer plans a move ({tag})."}, "TEXT"),
    ]
    assert deliver(post_json, pair[1], "/webhook/cintel-action", rule_execution(results, conversation=conv)).ok
    status = {"CallSid": call_sid, "CallStatus": "in-progress", "From": "+15125550123", "To": "+18005550199"}
    assert deliver(post_form, pair[0], "/webhook/status", status).status_code == 200

    late = SSEClient(pair[1].url, call_sid)
    connected, initial = (event for _, event in late.events(2))
    assert connected == {"type": "connected", "sessionId": call_sid}
    assert initial["type"] == "initial"
    assert [t["text"] for t in initial["transcript"]][-2:] == [text for _, text in lines]
    assert {c["key"]: c["status"] for c in initial["adherence"]["categories"]} == {
        "greeting": "met",
        "verification": "missed",
        "move-details": "pending",
        "confirmation": "pending",
    }
    assert initial["sentiment"]["label"] == "positive"
    assert initial["summary"]["text"] == f"A customer plans a move ({tag})."
    assert initial["callStatus"]["status"] == "in-progress"

    broken = communication(f"{call_sid}-{tag}-bad", "x", call_sid=call_sid, conversation=conv)
    broken["data"]["content"] = "not an object"
    refused = deliver(post_json, pair[0], "/webhook/cor-event", broken)
    assert 400 <= refused.status_code < 500 and "error" in refused.json()
    good = communication(f"{call_sid}-{tag}-c9", f"Still here ({tag})", call_sid=call_sid, conversation=conv)
    assert deliver(post_json, pair[0], "/webhook/cor-event", good).status_code == 200
    _, event = late.next_event()
    assert event["type"] == "transcript" and event["data"]["text"] == f"Still here ({tag})"
    return late


def test_the_acceptance_checks_on_every_master(cluster, pair):
    for call_sid in spread(cluster, 3, "8"):
        acceptance(pair, call_sid).close()


def test_the_acceptance_checks_after_a_master_fails_over_and_no_listener_reconnects_to_it(cluster, pair):
    """SIGKILL the master of a watched call's slot: its replica takes over, the checks pass again (for that
    call and on every master), the open stream still flows, and no listener keeps reconnecting to the dead
    node (it retires once its channels moved). Runs last in the module: it leaves a master dead."""
    (call_sid,) = spread(cluster, 1, "9")
    victim = cluster.master_of(log_key(call_sid))
    watching = [acceptance(pair, call_sid), SSEClient(pair[0].url, call_sid)]
    watching[1].events(2)
    cluster.kill(victim)
    cluster.wait_failover(victim)
    failed_over = time.monotonic()

    late = acceptance(pair, call_sid, "after")  # the same call, now on the promoted replica
    for call in spread(cluster, 3, "10"):
        acceptance(pair, call, "after").close()
    for stream in watching:  # the streams opened before the failover are still up and get the new events
        while stream.next_event(timeout=20)[1].get("data", {}).get("text") != "Still here (after)":
            pass

    dead = f"pub/sub connection to 127.0.0.1:{victim} lost"
    time.sleep(max(0.0, failed_over + 12 - time.monotonic()))
    marks = [len(relay.output()) for relay in pair]
    time.sleep(6)  # longer than the listener's longest backoff (5 s): a listener still reconnecting would log
    for relay, mark in zip(pair, marks):
        assert f"pub/sub shard 127.0.0.1:{victim} is gone" in relay.output()
        assert dead not in relay.output()[mark:]
    late.close()


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
