"""The SSE endpoint, served by a real gunicorn (gevent worker) on a real Redis: bytes on the wire."""

import time

import orjson
import requests

from cintel_relay.bus.keys import channel, log_key

from .support import CALL_SID, EMPTY_SNAPSHOT, SSEClient, communication, parse_block, payload, post_json, wait_for


def say(relay, n, session=CALL_SID):
    response = post_json(relay.url, "/webhook/cor-event", communication(f"comm-{n}", f"line {n}", call_sid=session))
    assert response.status_code == 200, response.text


def subscribed(redis_client, session=CALL_SID):
    return dict(redis_client.pubsub_numsub(channel(session)))[channel(session).encode()]


def test_every_block_before_the_snapshot_carries_data_so_no_client_sees_an_empty_event(relays):
    """httpx-sse and other clients dispatch a block with only ``retry:`` as an event with empty data."""
    client = SSEClient(relays[0].url, CALL_SID)
    blocks = [parse_block(client.read_block()) for _ in range(2)]
    assert [(sorted(b), orjson.loads(b["data"])["type"]) for b in blocks] == [
        (["data", "retry"], "connected"),
        (["data"], "initial"),
    ]
    board = SSEClient(relays[0].url, None, path="/api/board/stream")
    first, second = parse_block(board.read_block()), parse_block(board.read_block())
    assert sorted(first) == ["comments"] and sorted(second) == ["data", "retry"]  # a comment is no event


def test_fresh_stream_bytes_headers_and_live_frames(relays, redis_client):
    relay = relays[0]
    client = SSEClient(relay.url, CALL_SID)
    assert client.response.status == 200
    assert client.response.getheader("Content-Type").startswith("text/event-stream")
    assert client.response.getheader("Cache-Control") == "no-cache"
    assert client.response.getheader("X-Accel-Buffering") == "no"
    assert client.read_block() == b'retry: 2000\ndata: {"type":"connected","sessionId":"%s"}' % CALL_SID.encode()
    assert client.read_block() == b"data: " + orjson.dumps(EMPTY_SNAPSHOT)
    say(relay, 1)
    say(relay, 2)
    blocks = [client.read_block(), client.read_block()]
    logged = redis_client.xrange(log_key(CALL_SID))
    assert blocks == [b"id: %s\ndata: %s" % (entry_id, fields[b"f"]) for entry_id, fields in logged]
    assert orjson.loads(logged[1][1][b"f"])["data"]["text"] == "line 2"
    client.close()


def test_snapshot_then_resume_exactly_after_last_event_id(relays, redis_client):
    relay = relays[0]
    for n in range(3):
        say(relay, n)
    first = SSEClient(relay.url, CALL_SID)
    _, connected = first.next_event()
    snapshot_id, snapshot = first.next_event()
    assert connected == {"type": "connected", "sessionId": CALL_SID}
    assert [line["text"] for line in snapshot["transcript"]] == ["line 0", "line 1", "line 2"]
    assert snapshot_id == redis_client.xrange(log_key(CALL_SID))[-1][0].decode()
    first.close()
    for n in range(3, 6):
        say(relay, n)
    ids = [i.decode() for i, _ in redis_client.xrange(log_key(CALL_SID))]
    header = SSEClient(relay.url, CALL_SID, last_event_id=snapshot_id)
    query = SSEClient(relay.url, CALL_SID, query=f"?lastEventId={ids[4]}")
    header.next_event()
    query.next_event()
    got = header.events(3)
    assert [i for i, _ in got] == ids[3:6]
    assert [e["data"]["text"] for _, e in got] == ["line 3", "line 4", "line 5"]
    assert query.next_event() == (ids[5], orjson.loads(redis_client.xrange(log_key(CALL_SID))[5][1][b"f"]))
    say(relay, 6)
    assert header.next_event()[1]["data"]["text"] == "line 6"
    assert query.next_event()[1]["data"]["text"] == "line 6"
    header.close()
    query.close()


def test_unknown_or_trimmed_last_event_id_gets_a_fresh_snapshot(relays):
    say(relays[0], 1)
    client = SSEClient(relays[0].url, CALL_SID, last_event_id="1-0")
    client.next_event()
    assert client.next_event()[1]["type"] == "initial"
    client.close()


def test_heartbeat_on_an_idle_stream(relays):
    client = SSEClient(relays[0].url, "CA" + "e" * 32)
    client.events(2)
    started = time.monotonic()
    assert client.read_block(timeout=5) == b": keep-alive"
    assert time.monotonic() - started < 3  # the test relays beat every second
    client.close()


def test_client_hang_up_releases_the_subscription(relays, redis_client):
    session = "CA" + "d" * 32
    client = SSEClient(relays[0].url, session)
    client.events(2)
    assert subscribed(redis_client, session) == 1
    client.close()
    wait_for(lambda: subscribed(redis_client, session) == 0, timeout=3, what="the channel to be released")


def test_one_pubsub_connection_per_worker_whatever_the_number_of_streams(relays, redis_client):
    clients = [SSEClient(relays[0].url, "CA%032x" % n) for n in range(40)]
    for client in clients:
        client.events(2)
    pubsub_clients = [c for c in redis_client.client_list() if "P" in c["flags"]]
    assert len(pubsub_clients) <= 2  # at most one per replica (a replica subscribes on its first stream)
    assert max(int(c["sub"]) for c in pubsub_clients) >= 40
    say(relays[1], 1, session="CA%032x" % 7)
    assert clients[7].next_event()[1]["data"]["text"] == "line 1"
    for client in clients:
        client.close()


def test_malformed_session_ids_are_400(relays):
    response = requests.get(relays[0].url + "/api/stream/CA123%20OR%201=1", timeout=5)
    assert response.status_code == 400 and "session id" in response.json()["error"]
    assert requests.get(relays[0].url + "/api/stream/" + "x" * 101, timeout=5).status_code == 400


def test_conversation_sessions_for_digital_channels(relays):
    conversation = "conv_conversation_sms1"
    client = SSEClient(relays[0].url, conversation)
    client.events(2)
    sms = communication("sms-1", "Hi, is my move booked?", speaker="customer", conversation=conversation, channel="SMS")
    assert post_json(relays[1].url, "/webhook/cor-event", sms).json()["logged"] == 1
    assert client.next_event()[1]["data"]["text"] == "Hi, is my move booked?"
    client.close()


def test_stream_survives_while_the_example_call_plays(relays):
    client = SSEClient(relays[1].url, CALL_SID)
    client.events(2)
    post_json(relays[0].url, "/webhook/cintel-action", payload("cintel-script-adherence.json"))
    post_json(relays[0].url, "/webhook/cor-event", payload("cor-communication-transcription.json"))
    assert [e["type"] for _, e in client.events(3)] == ["operator-result", "adherence", "transcript"]
    client.close()
