"""A conversation is not a call (facts F17): with GROUP_BY_PROFILE it holds an SMS thread and several calls.
Each result reaches the call it was computed from, across two gunicorn replicas on one real Redis."""

import threading
from concurrent.futures import ThreadPoolExecutor

import orjson

from cintel_relay.bus.keys import log_key

from .support import SENTIMENT_OPERATOR, SSEClient, communication, operator_result, post_form, post_json, rule_execution

CONV = "conv_conversation_01kroutingtest000000000000"
FIRST, SECOND = "CA" + "a1" * 16, "CA" + "b2" * 16


def logged(redis_client, session):
    return [(i.decode(), orjson.loads(f[b"f"])) for i, f in redis_client.xrange(log_key(session))]


def ids(redis_client, session):
    return [
        e["data"].get("operatorResultId") or e["data"].get("id") or e["type"] for _, e in logged(redis_client, session)
    ]


def sms(comm_id, text):
    body = communication(comm_id, text, speaker="customer", conversation=CONV, channel="SMS")
    body["data"].update(channelId="SM" + "0" * 32, content={"type": "TEXT", "text": text})
    return body


def voice(comm_id, text, call):
    return communication(comm_id, text, call_sid=call, conversation=CONV)


def result(result_id, *communications, label="neutral"):
    """A Sentiment result computed from ``communications`` (first ... last), as Twilio names them."""
    body = operator_result(result_id, SENTIMENT_OPERATOR, {"label": label}, "CLASSIFICATION")
    if communications:
        body["executionDetails"]["communications"] = {"first": communications[0], "last": communications[-1]}
    return rule_execution([body], conversation=CONV)


def deliver(relay, body):
    path = "/webhook/cintel-action" if "operatorResults" in body else "/webhook/cor-event"
    response = post_json(relay.url, path, body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_call_joins_a_conversation_that_has_an_sms_thread(relays, redis_client):
    thread = SSEClient(relays[1].url, CONV)
    call = SSEClient(relays[1].url, FIRST)
    thread.events(2)
    call.events(2)
    deliver(relays[0], sms("m1", "Hi, I need a quote for a move"))
    deliver(relays[0], result("r1", "m1"))
    deliver(relays[0], voice("v1", "Thanks for contacting Swift Movers", FIRST))
    deliver(relays[1], result("r2", "v1", label="positive"))
    deliver(relays[0], result("r3", label="mixed"))  # names no communication: the live call's
    deliver(relays[1], sms("m2", "Here is my inventory"))  # texted during the call
    deliver(relays[0], result("r4", "v1", "m2"))  # computed from the call and that message
    assert ids(redis_client, CONV) == ["m1", "r1", "r1", "m2"]
    assert ids(redis_client, FIRST) == ["v1", "r2", "r2", "r3", "r3", "m2", "r4", "r4"]
    on_call = [e for _, e in logged(redis_client, FIRST) if e["type"] == "transcript"]
    assert [(e["data"]["channel"], e["data"]["speaker"]) for e in on_call] == [("VOICE", "agent"), ("SMS", "customer")]
    for client, session in ((thread, CONV), (call, FIRST)):
        log = logged(redis_client, session)
        assert client.events(len(log)) == log  # what the other replica streams is the log, in order
        client.close()


def test_a_second_call_in_the_same_open_conversation_while_results_of_both_arrive(relays, redis_client):
    deliver(relays[0], voice("v1", "first call", FIRST))
    deliver(relays[1], voice("v2", "first call again", FIRST))
    assert post_form(relays[0].url, "/webhook/status", {"CallSid": FIRST, "CallStatus": "completed"}).ok
    deliver(relays[1], voice("w1", "second call", SECOND))
    results = [result(f"first-{n}", "v1", "v2") for n in range(6)] + [result(f"second-{n}", "w1") for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda nb: deliver(relays[nb[0] % 2], nb[1]), enumerate(results[::2] + results[1::2])))
    first = [i for i in ids(redis_client, FIRST) if i.startswith(("first", "second"))]
    second = [i for i in ids(redis_client, SECOND) if i.startswith(("first", "second"))]
    assert sorted(set(first)) == [f"first-{n}" for n in range(6)]
    assert sorted(set(second)) == [f"second-{n}" for n in range(6)]
    assert deliver(relays[0], result("late", "v2"))["logged"] == 2  # a late result of the ended call still lands
    assert ids(redis_client, FIRST)[-2:] == ["late", "late"]


def test_results_racing_a_re_point_at_two_replicas_stay_with_their_call(relays, redis_client):
    for round_ in range(8):
        first, second = "CA%032x" % (0xD000 + round_), "CA%032x" % (0xE000 + round_)
        deliver(relays[0], voice(f"v-{round_}", "on the first call", first))
        barrier = threading.Barrier(2)

        def race(relay, body):
            barrier.wait()
            return deliver(relay, body)

        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(race, relays[0], result(f"r-{round_}", f"v-{round_}"))
            b = pool.submit(race, relays[1], voice(f"w-{round_}", "the customer calls again", second))
            assert a.result()["logged"] == 2 and b.result()["logged"] == 1
        assert ids(redis_client, first) == [f"v-{round_}", f"r-{round_}", f"r-{round_}"]
        assert ids(redis_client, second) == [f"w-{round_}"]
        deliver(relays[1], result(f"after-{round_}"))  # now the newest call is the current one
        assert ids(redis_client, second)[-1] == f"after-{round_}"
