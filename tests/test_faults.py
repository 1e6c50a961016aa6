"""Break things on purpose: kill a replica, stop Redis, stall a client. Nothing acknowledged is lost."""

import signal
import socket
import time

import orjson
import pytest
import redis as redis_lib
import requests

from cintel_relay.bus.keys import channel, log_key

from .support import CALL_SID, RedisServer, Relay, SSEClient, communication, post_json, running, wait_for


@pytest.fixture
def own_redis():
    yield from running(RedisServer())


@pytest.fixture
def start_relay():
    started = []

    def start(redis_url, **env):
        relay = Relay(redis_url, **env).start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop(signal.SIGKILL)


def say(relay, n, session=CALL_SID):
    return post_json(relay.url, "/webhook/cor-event", communication(f"comm-{n}", f"line {n}", call_sid=session))


def texts(events):
    return [e["data"]["text"] for _, e in events]


def test_kill_9_of_the_serving_replica_loses_nothing(own_redis, start_relay):
    a, b = start_relay(own_redis.url), start_relay(own_redis.url)
    client = SSEClient(a.url, CALL_SID)
    client.events(2)
    for n in range(3):
        assert say(b, n).status_code == 200
    received = client.events(3)
    a.stop(signal.SIGKILL)
    with pytest.raises(EOFError):
        client.next_event(timeout=5)
    for n in range(3, 8):  # published while the client is away
        assert say(b, n).status_code == 200
    resumed = SSEClient(b.url, CALL_SID, last_event_id=received[-1][0])
    resumed.next_event()
    received += resumed.events(5)
    assert texts(received) == [f"line {n}" for n in range(8)]
    assert len({i for i, _ in received}) == 8
    resumed.close()


def test_redis_outage_gives_503_then_recovers_without_restarting(own_redis, start_relay):
    relay = start_relay(own_redis.url)
    client = SSEClient(relay.url, CALL_SID)
    client.events(2)
    assert say(relay, 1).status_code == 200
    last_id, _ = client.next_event()
    own_redis.stop()
    response = say(relay, 2)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "retry" in response.json()["error"]
    assert requests.get(relay.url + "/readyz", timeout=5).status_code == 503
    own_redis.start()  # same port, empty: a Redis that lost its data
    wait_for(lambda: requests.get(relay.url + "/readyz", timeout=5).status_code == 200, what="readyz")
    wait_for(lambda: say(relay, 3).status_code == 200, timeout=10, what="webhooks to be accepted again")
    event_id, event = client.next_event(timeout=10)  # the same stream, no reconnect
    assert event["data"]["text"] == "line 3" and event_id != last_id
    client.close()


def test_stream_resyncs_from_the_log_after_a_pubsub_gap(own_redis, start_relay):
    relay = start_relay(own_redis.url)
    client = SSEClient(relay.url, CALL_SID)
    client.events(2)
    direct = redis_lib.Redis.from_url(own_redis.url)
    direct.client_kill_filter(_type="pubsub")  # the hub loses its connection; Redis keeps the data
    for n in range(4):
        assert say(relay, n).status_code == 200  # some of these go out while nobody is subscribed
    assert texts(client.events(4)) == [f"line {n}" for n in range(4)]
    client.close()


def _narrow_stream(relay, direct):
    """A raw socket streaming the call with a 4 KiB receive window, once the relay has subscribed it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", relay.port))
    sock.sendall(f"GET /api/stream/{CALL_SID} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    wait_for(
        lambda: dict(direct.pubsub_numsub(channel(CALL_SID)))[channel(CALL_SID).encode()] == 1,
        what="the stream to subscribe",
    )
    return sock


def test_a_client_that_stops_reading_is_cut_off_and_resumes_from_the_log(own_redis, start_relay):
    relay = start_relay(own_redis.url, CINTEL_SUBSCRIBER_QUEUE=16, CINTEL_SEND_TIMEOUT=1)
    direct = redis_lib.Redis.from_url(own_redis.url)
    stalled = _narrow_stream(relay, direct)
    big = "x" * 30000  # enough to fill the kernel's socket buffers, so the relay's writes block
    for n in range(300):
        assert post_json(relay.url, "/webhook/cor-event", communication(f"c{n}", f"{n} {big}")).status_code == 200
    wait_for(
        lambda: dict(direct.pubsub_numsub(channel(CALL_SID)))[channel(CALL_SID).encode()] == 0,
        timeout=15,
        what="the stalled stream to be dropped",
    )
    stalled.close()
    first_id = direct.xrange(log_key(CALL_SID), count=1)[0][0].decode()
    back = SSEClient(relay.url, CALL_SID, last_event_id=first_id)
    back.next_event()
    assert [e["data"]["text"].split()[0] for _, e in back.events(299)] == [str(n) for n in range(1, 300)]
    back.close()
    assert requests.get(relay.url + "/healthz", timeout=5).ok


def _dechunk(raw: bytes) -> bytes:
    """An HTTP/1.1 chunked body's bytes, as far as whole chunks go."""
    body, at = b"", 0
    while True:
        end = raw.find(b"\r\n", at)
        if end < 0:
            return body
        size = int(raw[at:end], 16)
        if size == 0 or len(raw) < end + 2 + size + 2:
            return body
        body += raw[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def test_a_slow_reader_gets_every_frame_whole_and_in_order(own_redis, start_relay):
    # Frames far larger than the client's window: the relay's writes are taken a piece at a time, while more frames
    # arrive. The client reads nothing for a while, then everything: each frame once, whole, in the order logged.
    relay = start_relay(own_redis.url, CINTEL_SUBSCRIBER_QUEUE=1000, CINTEL_SEND_TIMEOUT=20)
    slow = _narrow_stream(relay, redis_lib.Redis.from_url(own_redis.url))
    big = "x" * 30000
    count = 150
    for n in range(count):
        assert post_json(relay.url, "/webhook/cor-event", communication(f"c{n}", f"{n} {big}")).status_code == 200
    time.sleep(1)  # nothing read yet: the relay's writes wait on the client
    raw, said = b"", []
    slow.settimeout(20)
    while len(said) < count:
        chunk = slow.recv(65536)
        assert chunk, f"the stream ended after {len(said)} lines"
        raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        frames = [orjson.loads(f.split(b"data: ", 1)[1]) for f in _dechunk(body).split(b"\n\n") if b"data: " in f]
        said = [f["data"]["text"].split()[0] for f in frames if f["type"] == "transcript"]
    slow.close()
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    assert said == [str(n) for n in range(count)]


def test_sigterm_ends_streams_at_once_and_clients_resume_elsewhere(own_redis, start_relay):
    a, b = start_relay(own_redis.url), start_relay(own_redis.url)
    clients = [SSEClient(a.url, CALL_SID) for _ in range(5)]
    for client in clients:
        client.events(2)
    say(b, 1)
    last = [client.next_event()[0] for client in clients]
    started = time.monotonic()
    a.stop(signal.SIGTERM, timeout=15)
    elapsed = time.monotonic() - started
    print(f"replica with 5 open streams exited {elapsed:.1f}s after SIGTERM")
    for client in clients:
        with pytest.raises(EOFError):
            client.next_event(timeout=5)
    say(b, 2)
    for event_id in last:
        again = SSEClient(b.url, CALL_SID, last_event_id=event_id)
        again.next_event()
        assert texts([again.next_event()]) == ["line 2"]
        again.close()
