"""The bus against a real redis-server: ordering, holding, dedupe, sticky adherence, retention."""

import orjson
import pytest

from cintel_relay.bus import EventBus, channel, latest_key, log_key
from cintel_relay.config import load_config
from cintel_relay.normalize import Event
from cintel_relay.script import load_script

CALL = "CA" + "1" * 32


@pytest.fixture
def bus(redis_client):
    return EventBus(redis_client, load_config({"TWILIO_AUTH_TOKEN": "t", "CINTEL_LOG_MAXLEN": "50",
                                               "CINTEL_SESSION_TTL": "3600", "CINTEL_COMPLETED_TTL": "60"}))


def ev(n, type_="transcript", **data):
    return Event(f"e{n}", {"type": type_, "data": {"n": n, **data}})


def logged(redis_client, session=CALL):
    return [(i.decode(), orjson.loads(f[b"f"])) for i, f in redis_client.xrange(log_key(session))]


def test_events_are_logged_in_order_and_published(bus, redis_client):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(channel(CALL))
    pubsub.get_message(timeout=1)
    result = bus.ingest([ev(1), ev(2)], session=CALL)
    entries = logged(redis_client)
    assert [e[1]["data"]["n"] for e in entries] == [1, 2]
    assert result.ids == [e[0] for e in entries]
    published = [pubsub.get_message(timeout=1)["data"] for _ in range(2)]
    assert published[0] == b'id: %s\ndata: {"type":"transcript","data":{"n":1}}\n\n' % result.ids[0].encode()


def test_duplicates_are_dropped(bus, redis_client):
    bus.ingest([ev(1)], session=CALL)
    again = bus.ingest([ev(1), ev(2)], session=CALL)
    assert again.duplicates == 1 and len(again.ids) == 1
    assert [e[1]["data"]["n"] for e in logged(redis_client)] == [1, 2]


def test_unmapped_events_are_held_then_flushed_in_order(bus, redis_client):
    held = bus.ingest([ev(1), ev(2)], conversation="conv1")
    assert held.held == 2 and not redis_client.exists(log_key(CALL))
    bus.ingest([ev(3)], conversation="conv1")
    mapped = bus.ingest([ev(4)], session=CALL, conversation="conv1")
    assert len(mapped.ids) == 1
    assert [e[1]["data"]["n"] for e in logged(redis_client)] == [1, 2, 3, 4]
    later = bus.ingest([ev(5)], conversation="conv1")
    assert len(later.ids) == 1 and logged(redis_client)[-1][1]["data"]["n"] == 5


def test_a_met_category_stays_met(bus, redis_client):
    def adherence(n, greeting, verification):
        cats = [{"key": "greeting", "label": "Greeting", "weight": 10, "status": greeting},
                {"key": "verification", "label": "Verification", "weight": 30, "status": verification}]
        return Event(f"a{n}", {"type": "adherence", "data": {"categories": cats, "score": 0, "explanation": None}})

    bus.ingest([adherence(1, "met", "pending")], session=CALL)
    bus.ingest([adherence(2, "missed", "met")], session=CALL)
    bus.ingest([adherence(3, "pending", "missed")], session=CALL)
    states = [e[1]["data"] for e in logged(redis_client)]
    assert [[c["status"] for c in s["categories"]] for s in states] == [
        ["met", "pending"], ["met", "met"], ["met", "met"]]
    assert [s["score"] for s in states] == [25, 100, 100]
    assert states[0]["explanation"] is None


def test_snapshot_has_lists_and_latest_values(bus):
    ids = bus.ingest([ev(1), Event("s1", {"type": "sentiment", "data": {"label": "neutral"}}),
                Event("o1", {"type": "operator-result", "data": {"id": "o1"}}),
                Event("s2", {"type": "sentiment", "data": {"label": "negative"}})], session=CALL).ids
    snapshot = bus.snapshot(CALL)
    assert snapshot.frame == {"type": "initial", "transcript": [{"n": 1}], "operatorResults": [{"id": "o1"}],
                              "adherence": None, "sentiment": {"label": "negative"}, "summary": None,
                              "callStatus": None}
    assert snapshot.last_id == ids[-1]
    assert bus.snapshot("CA" + "9" * 32) == (None, {"type": "initial", "transcript": [], "operatorResults": [],
                                                    "adherence": None, "sentiment": None, "summary": None,
                                                    "callStatus": None})


def test_read_after_and_has_event(bus):
    ids = bus.ingest([ev(n) for n in range(5)], session=CALL).ids
    assert [i for i, _ in bus.read_after(CALL, ids[1])] == ids[2:]
    assert bus.has_event(CALL, ids[0]) and not bus.has_event(CALL, "1-0")
    assert [i for i, _ in bus.read_after(CALL, ids[0], page=2)] == ids[1:]


def test_log_is_bounded(bus, redis_client):
    for n in range(0, 400, 20):
        bus.ingest([ev(i) for i in range(n, n + 20)], session=CALL)
    assert redis_client.xlen(log_key(CALL)) < 200  # approximate trimming keeps about CINTEL_LOG_MAXLEN


def test_session_expires_and_sooner_once_the_call_ends(bus, redis_client):
    bus.ingest([ev(1)], session=CALL)
    assert 3500 < redis_client.ttl(log_key(CALL)) <= 3600
    bus.ingest([Event("end", {"type": "call-status", "data": {"status": "completed"}}, ends=True)], session=CALL)
    assert 0 < redis_client.ttl(log_key(CALL)) <= 60
    assert 0 < redis_client.ttl(latest_key(CALL)) <= 60
    bus.ingest([ev(2)], session=CALL)  # a late result does not bring the long TTL back
    assert redis_client.ttl(log_key(CALL)) <= 60
    assert all(redis_client.ttl(k) > 0 for k in redis_client.keys("*"))


def test_ending_the_call_shortens_the_conversation_keys_too(bus, redis_client):
    bus.ingest([ev(1)], conversation="conv9")
    bus.remember_participant("conv9", "p1", "CUSTOMER")
    bus.ingest([ev(2)], session=CALL, conversation="conv9")
    assert redis_client.ttl("cintel:conv:{conv9}:seen") > 60
    bus.ingest([Event("end", {"type": "call-status", "data": {"status": "completed"}}, ends=True)], session=CALL)
    keys = redis_client.keys("*")
    assert {k.decode() for k in keys} >= {"cintel:conv:{conv9}:seen", "cintel:conv:{conv9}:session",
                                          "cintel:conv:{conv9}:participants", log_key(CALL)}
    assert all(0 < redis_client.ttl(k) <= 60 for k in keys)
    bus.ingest([ev(3)], conversation="conv9")  # a late result keeps the short lifetime
    assert all(0 < redis_client.ttl(k) <= 60 for k in redis_client.keys("*"))
