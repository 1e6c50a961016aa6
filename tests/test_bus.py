"""The bus against a real redis-server: ordering, holding, routing a conversation's events to its calls,
dedupe, sticky adherence, retention."""

import orjson
import pytest
import redis as redis_lib

from cintel_relay.bus.event_bus import EventBus
from cintel_relay.bus.keys import BOARD, channel, conversation_keys, latest_key, log_key, session_keys
from cintel_relay.bus.routing import Route
from cintel_relay.bus.store import Store
from cintel_relay.config import load_config
from cintel_relay.errors import Unavailable
from cintel_relay.events import FRAME_TYPES
from cintel_relay.normalize import Event

from .support import EMPTY_SNAPSHOT

CALL = "CA" + "1" * 32
CALL2 = "CA" + "2" * 32
CONV = "conv_conversation_bus"


@pytest.fixture
def redis_client(private_redis):
    """This module's own Redis: its tests count script calls, and the session's relays (their due runners claim
    every 0.2 s) would add to them on the shared one."""
    client = redis_lib.Redis.from_url(private_redis.url)
    client.flushall()
    yield client
    client.close()


MODES = ["one script call", "a call per slot"]


@pytest.fixture(params=MODES)
def bus(request, redis_client):
    """Both ways the bus delivers on one Redis: ingest.lua's single call, and the per-slot calls it
    makes on a cluster (route, append, board), which must behave the same."""
    return make_bus(redis_client, request.param)


def make_bus(redis_client, mode: str, **kwargs):
    bus = EventBus(
        Store(redis_client, redis_client.pubsub),
        load_config(
            {
                "TWILIO_AUTH_TOKEN": "t",
                "CINTEL_LOG_MAXLEN": "50",
                "CINTEL_SESSION_TTL": "3600",
                "CINTEL_COMPLETED_TTL": "60",
            }
        ),
        **kwargs,
    )
    bus.single_node = mode == "one script call"
    return bus


def ev(n, type_="transcript", **data):
    return Event(f"e{n}", {"type": type_, "data": {"n": n, **data}})


def ended(n="end"):
    return Event(n, {"type": "call-status", "data": {"status": "completed"}}, ends=True)


def logged(redis_client, session=CALL):
    return [(i.decode(), orjson.loads(f[b"f"])) for i, f in redis_client.xrange(log_key(session))]


def numbers(redis_client, session=CALL):
    return [e["data"]["n"] for _, e in logged(redis_client, session) if e["type"] != "call-status"]


def voice(bus, n, call=CALL, comm=None):
    """An utterance of ``call`` in the conversation (communication id ``comm`` or ``c<n>``)."""
    return bus.route(CONV, [(Route("voice", comm=comm or f"c{n}", call=call), [ev(n)])])


def result(bus, n, *refs, call=""):
    return bus.route(CONV, [(Route("result", call=call, refs=refs), [ev(n, "operator-result")])])


def test_events_are_logged_in_order_and_published(bus, redis_client):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(channel(CALL))
    pubsub.get_message(timeout=1)
    outcome = bus.ingest([ev(1), ev(2)], session=CALL)
    entries = logged(redis_client)
    assert [e[1]["data"]["n"] for e in entries] == [1, 2]
    assert outcome.ids == [e[0] for e in entries]
    published = [pubsub.get_message(timeout=1)["data"] for _ in range(2)]
    assert published[0] == b'id: %s\ndata: {"type":"transcript","data":{"n":1}}\n\n' % outcome.ids[0].encode()


def test_duplicates_are_dropped(bus, redis_client):
    bus.ingest([ev(1)], session=CALL)
    again = bus.ingest([ev(1), ev(2)], session=CALL)
    assert again.duplicates == 1 and len(again.ids) == 1
    assert numbers(redis_client) == [1, 2]
    assert voice(bus, 3).ids and voice(bus, 3).duplicates == 1


def test_results_before_the_call_is_known_are_held_then_delivered_first_in_order(bus, redis_client):
    held = bus.route(CONV, [(Route("result"), [ev(1), ev(2)])])
    assert held.as_dict() == {"logged": 0, "held": 2, "duplicates": 0}
    assert result(bus, 3).held == 1 and result(bus, 3).duplicates == 1  # a held redelivery stays one event
    assert not redis_client.exists(log_key(CALL))
    assert len(voice(bus, 4).ids) == 1
    assert numbers(redis_client) == [1, 2, 3, 4]
    assert redis_client.llen(conversation_keys(CONV)[3]) == 0  # nothing is left pending
    assert len(result(bus, 5).ids) == 1 and numbers(redis_client)[-1] == 5


def test_a_result_goes_to_the_call_of_the_communications_it_was_computed_from(bus, redis_client):
    """A second call in the same open conversation: each call's results reach that call."""
    voice(bus, 1, CALL)
    bus.ingest([ended()], session=CALL)
    voice(bus, 2, CALL2)
    result(bus, 3, "c1")  # computed from the first call's communications
    result(bus, 4, "c9", "c2")  # "last" unknown, "first" is the second call's
    result(bus, 5)  # names nothing: the conversation's current live call
    result(bus, 6, call=CALL)  # a Call SID in referenceIds
    assert numbers(redis_client, CALL) == [1, 3, 6]
    assert numbers(redis_client, CALL2) == [2, 4, 5]


def test_a_customer_who_texted_first_then_calls(bus, redis_client):
    bus.route(CONV, [(Route("text", comm="sms1"), [ev(1)])])
    result(bus, 2, "sms1")
    assert numbers(redis_client, CONV) == [1, 2]  # the SMS thread is the conversation's own session
    voice(bus, 3)  # the call re-points the conversation
    result(bus, 4, "c3")
    result(bus, 5)
    bus.route(CONV, [(Route("text", comm="sms2"), [ev(6)])])  # an SMS during the call
    result(bus, 7, "sms2")  # computed from it: the call's result
    assert numbers(redis_client, CALL) == [3, 4, 5, 6, 7]
    assert numbers(redis_client, CONV) == [1, 2, 6]


def test_after_the_last_call_ends_results_without_a_call_are_held(bus, redis_client):
    voice(bus, 1)
    bus.route(CONV, [(Route("conv"), [ended("closed")])])
    assert result(bus, 2).held == 1
    assert len(voice(bus, 3, CALL2).ids) == 1  # a new call takes what was held
    assert numbers(redis_client, CALL2) == [2, 3]


def test_the_conversation_closing_ends_each_live_session(bus, redis_client):
    voice(bus, 1, CALL)
    voice(bus, 2, CALL2)
    bus.route(CONV, [(Route("text", comm="sms"), [ev(3)])])
    assert len(bus.route(CONV, [(Route("conv"), [ended("closed")])]).ids) == 3
    for session in (CALL, CALL2, CONV):
        assert logged(redis_client, session)[-1][1]["type"] == "call-status"
        assert redis_client.hget(latest_key(session), "ended") == b"1"


def test_a_met_category_stays_met_and_the_score_is_weighted(bus, redis_client):
    def adherence(n, greeting, verification):
        cats = [
            {"key": "greeting", "label": "Greeting", "weight": 10, "status": greeting},
            {"key": "verification", "label": "Verification", "weight": 30, "status": verification},
        ]
        return Event(f"a{n}", {"type": "adherence", "data": {"categories": cats, "explanation": None}})

    bus.ingest([adherence(1, "met", "pending")], session=CALL)
    bus.ingest([adherence(2, "missed", "met")], session=CALL)
    bus.ingest([adherence(3, "pending", "missed")], session=CALL)
    states = [e[1]["data"] for e in logged(redis_client)]
    assert [[c["status"] for c in s["categories"]] for s in states] == [
        ["met", "pending"],
        ["met", "met"],
        ["met", "met"],
    ]
    assert [s["score"] for s in states] == [25, 100, 100]
    assert states[0]["explanation"] is None


@pytest.mark.parametrize(
    "weights, met, score",
    [
        ((1, 2), (True, False), 33.3),
        ((1, 2), (False, True), 66.7),
        ((10, 20, 40, 30), (True, True, False, False), 30.0),
        ((0, 0), (True, True), 0),
    ],
)
def test_the_score_is_the_weighted_share_of_met_categories_to_one_decimal(bus, redis_client, weights, met, score):
    cats = [
        {"key": f"k{n}", "label": f"K{n}", "weight": w, "status": "met" if m else "pending"}
        for n, (w, m) in enumerate(zip(weights, met))
    ]
    bus.ingest([Event("a", {"type": "adherence", "data": {"categories": cats, "explanation": None}})], session=CALL)
    assert logged(redis_client)[-1][1]["data"]["score"] == score


def test_snapshot_has_lists_and_latest_values(bus):
    ids = bus.ingest(
        [
            ev(1),
            Event("s1", {"type": "sentiment", "data": {"label": "neutral"}}),
            Event("o1", {"type": "operator-result", "data": {"id": "o1"}}),
            Event("n1", {"type": "suggestion", "data": {"text": "Offer a walkthrough"}}),
            Event("s2", {"type": "sentiment", "data": {"label": "negative"}}),
        ],
        session=CALL,
    ).ids
    snapshot = bus.snapshot(CALL)
    assert snapshot.frame == {
        **EMPTY_SNAPSHOT,
        "transcript": [{"n": 1}],
        "operatorResults": [{"id": "o1"}],
        "sentiment": {"label": "negative"},
        "suggestion": {"text": "Offer a walkthrough"},
    }
    assert snapshot.last_id == ids[-1]
    assert bus.snapshot("CA" + "9" * 32) == (None, EMPTY_SNAPSHOT)


def test_every_snapshot_type_reaches_the_snapshot(bus):
    """append.lua's tables come from events.py: each type the snapshot keeps is kept by the script."""
    kept = [t for t, spec in FRAME_TYPES.items() if spec.snapshot and not spec.keyed_by]
    bus.ingest([Event(f"k-{t}", {"type": t, "data": {"n": t, "categories": []}}) for t in kept], session=CALL)
    frame = bus.snapshot(CALL).frame
    assert {t: frame[FRAME_TYPES[t].snapshot]["n"] for t in kept} == {t: t for t in kept}


def test_read_after(bus):
    ids = bus.ingest([ev(n) for n in range(5)], session=CALL).ids
    assert [i for i, _ in bus.read_after(CALL, ids[1])] == ids[2:]
    assert [i for i, _ in bus.read_after(CALL, ids[0], page=2)] == ids[1:]


def test_open_resumes_after_an_id_the_log_holds_in_pages(bus):
    """One call: the events after the client's last id, a page at a time, and whether more follow."""
    ids = bus.ingest([ev(n) for n in range(5)], session=CALL).ids
    opening = bus.open(CALL, ids[1])
    assert opening.resumed and opening.snapshot is None and not opening.more
    assert [i for i, _ in opening.events] == ids[2:]
    assert [orjson.loads(f)["data"]["n"] for _, f in opening.events] == [2, 3, 4]
    paged = bus.open(CALL, ids[0], page=2)
    assert [i for i, _ in paged.events] == ids[1:3] and paged.more
    assert bus.open(CALL, ids[-1]).events == []


def test_open_gives_a_snapshot_for_an_id_the_log_no_longer_holds(bus):
    ids = bus.ingest([ev(n) for n in range(3)], session=CALL).ids
    for gone in ("1-0", None):
        opening = bus.open(CALL, gone)
        assert not opening.resumed and opening.snapshot == bus.snapshot(CALL)
        assert opening.snapshot.last_id == ids[-1] and len(opening.snapshot.frame["transcript"]) == 3


def test_log_is_bounded(bus, redis_client):
    for n in range(0, 400, 20):
        bus.ingest([ev(i) for i in range(n, n + 20)], session=CALL)
    assert redis_client.xlen(log_key(CALL)) < 200  # approximate trimming keeps about CINTEL_LOG_MAXLEN


def test_session_expires_and_sooner_once_the_call_ends(bus, redis_client):
    bus.ingest([ev(1)], session=CALL)
    assert 3500 < redis_client.ttl(log_key(CALL)) <= 3600
    bus.ingest([ended()], session=CALL)
    assert 0 < redis_client.ttl(log_key(CALL)) <= 60
    assert 0 < redis_client.ttl(latest_key(CALL)) <= 60
    bus.ingest([ev(2)], session=CALL)  # a late result does not bring the long TTL back
    assert redis_client.ttl(log_key(CALL)) <= 60
    assert all(redis_client.ttl(k) > 0 for k in redis_client.keys("*"))


def test_when_its_only_call_ends_the_conversation_keys_are_shortened_too(bus, redis_client):
    result(bus, 1)
    bus.remember_participant(CONV, "p1", "CUSTOMER")
    voice(bus, 2)
    assert redis_client.ttl(conversation_keys(CONV)[0]) > 60
    bus.ingest([ended()], session=CALL)  # a Voice status callback, which names only the call
    tombstone = f"cintel:{{{CALL}}}:ended"
    conversation = {k.decode() for k in redis_client.keys("cintel:conv:*")}
    assert conversation >= {conversation_keys(CONV)[0], conversation_keys(CONV)[1], conversation_keys(CONV)[2]}
    assert all(0 < redis_client.ttl(k) <= 60 for k in conversation - {f"cintel:conv:{{{CONV}}}:participants"})
    assert redis_client.ttl(tombstone) > 60
    assert result(bus, 3).held == 1  # the conversation has no live call now


def test_a_key_created_between_refreshes_of_the_ttls_gets_one_at_once(bus, redis_client):
    """The TTLs are refreshed at most once a minute, so the keys a later event creates (the said set with the first
    line, the met set with the first met step) must get theirs as they are created."""
    bus.ingest([ev(1, "sentiment", label="neutral")], session=CALL)
    said, met = f"cintel:{{{CALL}}}:said", f"cintel:{{{CALL}}}:met"
    assert not redis_client.exists(said, met)
    line = {"id": "u1", "speaker": "agent", "text": "hi", "timestamp": "2026-01-02T03:04:05.000Z"}
    bus.ingest([Event("u1", {"type": "transcript", "data": line})], session=CALL)
    greeting = [{"key": "greeting", "label": "Greeting", "weight": 10, "status": "met"}]
    bus.ingest(
        [Event("a1", {"type": "adherence", "data": {"categories": greeting, "explanation": None}})], session=CALL
    )
    assert redis_client.exists(said) and redis_client.exists(met)
    assert all(3500 < redis_client.ttl(k) <= 3600 for k in redis_client.keys(f"cintel:{{{CALL}}}:*"))


def test_a_live_call_keeps_its_data_for_the_ttl_after_its_last_event(bus, redis_client):
    """Each key's TTL is within a minute of the full TTL after the call's last event: once the last refresh is a
    minute old, the next event sets them all again (here the TTLs are shortened to show it)."""
    bus.ingest([ev(1)], session=CALL)
    keys = [k for k in session_keys(CALL) if redis_client.exists(k)]
    for key in keys:
        redis_client.expire(key, 1000)
    bus.ingest([ev(2)], session=CALL)  # within the minute: left as they are
    assert all(redis_client.ttl(k) <= 1000 for k in keys if not k.endswith(":board"))
    redis_client.hset(latest_key(CALL), "refreshed", int(redis_client.hget(latest_key(CALL), "refreshed")) - 60_000)
    bus.ingest([ev(3)], session=CALL)
    assert all(3590 < redis_client.ttl(k) <= 3600 for k in keys)


def test_every_key_expires_also_for_a_call_with_only_participants(bus, redis_client):
    bus.route(CONV, [(Route("call", call=CALL), [])], board={"agent": "Dana"}, board_session=CALL)
    keys = redis_client.keys("*")
    assert latest_key(CALL).encode() in keys
    assert all(redis_client.ttl(k) > 0 for k in keys)


def test_a_delivery_writes_only_the_keys_named_in_keys_py_in_one_script_call(bus, redis_client):
    bus.route("conv_conversation_warm_up", [(Route("voice", comm="c0", call=CALL2), [ev(0)])])
    redis_client.delete(*redis_client.keys("*"))  # the scripts stay loaded
    redis_client.config_resetstat()
    voice(bus, 1)
    result(bus, 2, "c1")
    voice(bus, 3)
    written = {k.decode() for k in redis_client.keys("*")}
    log, latest, _, seen, summary, _, _, events_channel = session_keys(CALL)
    named = set(session_keys(CALL)) - {events_channel} | set(conversation_keys(CONV)) | {BOARD}
    assert {log, latest, seen, summary, BOARD} <= written <= named
    assert numbers(redis_client) == [1, 2, 3]
    calls = redis_client.info("commandstats")["cmdstat_evalsha"]["calls"]
    # per slot: route, append and board for an utterance; a raw operator result does not change the board
    assert calls == (3 if bus.single_node else 3 + 2 + 3)


def test_a_replayed_delivery_cannot_revive_a_call_whose_data_expired(bus, redis_client):
    bus.ingest([ev(1)], session=CALL)
    bus.ingest([ended()], session=CALL)
    redis_client.delete(*[k for k in redis_client.keys(f"cintel:{{{CALL}}}:*") if not k.endswith(b":ended")])
    replay = bus.ingest([ev(1), ev(2, "call-status", status="in-progress")], session=CALL)
    assert replay.as_dict() == {"logged": 0, "held": 0, "duplicates": 0, "stale": 2}
    assert not redis_client.exists(log_key(CALL)) and not redis_client.zrange(BOARD, 0, -1)


@pytest.mark.parametrize("mode", MODES)
def test_a_conversation_with_too_many_held_events_refuses_more(redis_client, mode):
    bus = make_bus(redis_client, mode, max_pending=3)
    bus.route(CONV, [(Route("result"), [ev(1), ev(2), ev(3)])])
    with pytest.raises(Unavailable, match="too many events"):
        result(bus, 4)
