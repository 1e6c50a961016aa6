"""Flex-authenticated streams on a real gunicorn (gevent worker), real Redis and the fake Twilio.

Each refused stream gets its JSON status before the relay subscribes to anything; tickets and tokens
never reach the logs; the per-identity stream cap holds across replicas and frees its slots.
"""

import hashlib
import time
from datetime import datetime

import pytest
import requests

from cintel_relay.access import tickets
from cintel_relay.access.flex import identity_key
from cintel_relay.access.limits import slots_key
from cintel_relay.bus.keys import channel

from .support import (
    CALL_SID,
    TICKET_SECRET,
    RedisServer,
    SSEClient,
    communication,
    flushed_client,
    post_json,
    running,
    wait_for,
)
from .support.fakes.twilio import sid
from .support.flex_relays import flex_mode_relay, start_flex_relay

OTHER_CALL = "CA" + "7" * 32


@pytest.fixture(scope="session")
def flex_redis():
    """A Redis of its own, so counting its SUBSCRIBE commands counts this relay's only."""
    yield from running(RedisServer())


@pytest.fixture(scope="session")
def flex_relay(flex_redis, twilio_server):
    yield from running(flex_mode_relay(flex_redis.url, twilio_server.url))


@pytest.fixture
def redis_client(flex_redis):
    yield from flushed_client(flex_redis.url)


@pytest.fixture
def relay(flex_relay, fake_twilio, redis_client):
    return flex_relay


def subscribes(redis_client) -> int:
    """How many SUBSCRIBE commands Redis has run: a refused stream must not add one."""
    return redis_client.info("commandstats").get("cmdstat_subscribe", {}).get("calls", 0)


def get_ticket(relay, token, session=CALL_SID):
    response = requests.post(
        relay.url + "/api/stream-ticket",
        json={"sessionId": session},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


@pytest.fixture
def supervisor(fake_twilio):
    return fake_twilio.add_user("sup_sam", roles=["supervisor"])


def test_agent_streams_their_call_with_a_ticket(relay, fake_twilio, redis_client):
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    token = fake_twilio.add_user("agent_dana", worker_sid=worker)
    ticket = get_ticket(relay, token)
    client = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
    assert client.response.status == 200
    assert client.response.getheader("Server") == "relay"
    assert client.response.getheader("X-Content-Type-Options") == "nosniff"
    client.events(2)
    assert post_json(relay.url, "/webhook/cor-event", communication("c1", "hello")).status_code == 200
    assert client.next_event()[1]["data"]["text"] == "hello"
    client.close()
    output = wait_for(
        lambda: f'"path":"/api/stream/{CALL_SID}"' in relay.output() and relay.output(),
        what="the stream's access log line",
    )
    assert ticket not in output and "ticket=" not in output
    assert token not in output and token.split(".")[-1] not in output


@pytest.mark.parametrize(
    "make, status, code",
    [
        (lambda sup: "", 401, "ticket_missing"),
        (lambda sup: "v1.eyJzIjoiQ0EifQ.AAAA", 401, "ticket_invalid"),
        (lambda sup: tickets.mint("f" * 40, CALL_SID, "sup_sam", 3600)[0], 401, "ticket_invalid"),
        (
            lambda sup: tickets.mint(TICKET_SECRET, CALL_SID, "sup_sam", 60, now=time.time() - 61)[0],
            401,
            "ticket_expired",
        ),
        (lambda sup: tickets.mint(TICKET_SECRET, OTHER_CALL, "sup_sam", 3600)[0], 403, "ticket_wrong_session"),
    ],
)
def test_refused_streams_get_json_and_subscribe_nothing(relay, redis_client, supervisor, make, status, code):
    before = subscribes(redis_client)
    response = requests.get(f"{relay.url}/api/stream/{CALL_SID}", params={"ticket": make(supervisor)}, timeout=5)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.headers["Content-Type"] == "application/json"
    assert subscribes(redis_client) == before
    assert dict(redis_client.pubsub_numsub(channel(CALL_SID)))[channel(CALL_SID).encode()] == 0
    assert redis_client.keys("cintel:streams:*") == []


def test_a_ticket_serves_reconnects_to_its_call_only(relay, supervisor):
    ticket = get_ticket(relay, supervisor)
    for _ in range(2):
        client = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
        assert client.next_event()[1]["type"] == "connected"
        client.close()
    other = requests.get(f"{relay.url}/api/stream/{OTHER_CALL}", params={"ticket": ticket}, timeout=5)
    assert other.status_code == 403


def test_stream_cap_per_identity_holds_and_frees_its_slots(relay, redis_client, supervisor):
    ticket = get_ticket(relay, supervisor)
    key = slots_key(identity_key(TICKET_SECRET, "sup_sam"))
    streams = [SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}") for _ in range(2)]
    for stream in streams:
        stream.events(2)
    assert redis_client.zcard(key) == 2 and 0 < redis_client.ttl(key) <= 61
    before = subscribes(redis_client)
    refused = requests.get(
        f"{relay.url}/api/stream/{OTHER_CALL}", params={"ticket": get_ticket(relay, supervisor, OTHER_CALL)}, timeout=5
    )
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_streams")
    assert int(refused.headers["Retry-After"]) > 0 and subscribes(redis_client) == before
    streams.pop().close()
    wait_for(lambda: redis_client.zcard(key) == 1, timeout=5, what="the closed stream's slot to be released")
    third = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
    assert third.next_event()[1]["type"] == "connected"
    third.close()
    streams[0].close()
    wait_for(lambda: redis_client.zcard(key) == 0, timeout=5, what="every slot to be released")


def test_head_requests_do_not_leak_slots(relay, redis_client, supervisor):
    ticket = get_ticket(relay, supervisor)
    for _ in range(3):
        head = requests.head(f"{relay.url}/api/stream/{CALL_SID}", params={"ticket": ticket}, timeout=5)
        assert head.status_code == 200
    key = slots_key(identity_key(TICKET_SECRET, "sup_sam"))
    wait_for(lambda: redis_client.zcard(key) == 0, timeout=5, what="HEAD requests' slots to be released")


def test_slots_of_a_dead_replica_lapse_and_live_ones_elsewhere_count(relay, redis_client, supervisor):
    ticket = get_ticket(relay, supervisor)
    key = slots_key(identity_key(TICKET_SECRET, "sup_sam"))
    redis_client.zadd(key, {"crashed-replica": time.time() - 1, "other-replica": time.time() + 60})
    first = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
    first.events(2)
    assert set(redis_client.zrange(key, 0, -1)) - {b"other-replica"} and redis_client.zcard(key) == 2
    refused = requests.get(f"{relay.url}/api/stream/{CALL_SID}", params={"ticket": ticket}, timeout=5)
    assert refused.status_code == 429
    first.close()


def test_ticket_body_cap_on_the_real_server(relay, supervisor):
    headers = {"Authorization": f"Bearer {supervisor}", "Content-Type": "application/json"}
    big = b'{"sessionId": "%s", "pad": "%s"}' % (CALL_SID.encode(), b"x" * 10240)
    response = requests.post(relay.url + "/api/stream-ticket", data=big, headers=headers, timeout=10)
    assert response.status_code == 413 and response.json()["code"] == "request_entity_too_large"

    def chunks():
        yield big

    # A chunked body is read (whole, up to CINTEL_MAX_BODY_BYTES, within CINTEL_BODY_TIMEOUT) and measured too.
    chunked = requests.post(relay.url + "/api/stream-ticket", data=chunks(), headers=headers, timeout=10)
    assert chunked.status_code == 413 and chunked.json()["code"] == "request_entity_too_large"


def test_cors_and_banner_on_the_real_server(relay):
    origin = "https://flex.twilio.com"
    preflight = requests.options(
        relay.url + "/api/stream-ticket",
        timeout=5,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == origin
    for response in (preflight, requests.get(relay.url + "/healthz", timeout=5)):
        assert response.headers["Server"] == "relay"
        assert not any("gunicorn" in value.lower() for value in response.headers.values())
    assert requests.get(relay.url + "/readyz", timeout=5).json()["streamAuth"] == "flex"


def expiry(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_ticket_never_outlives_the_flex_token_it_came_from(relay, fake_twilio):
    token = fake_twilio.add_user("sup_brief", roles=["supervisor"], expires_in=8)
    response = requests.post(
        relay.url + "/api/stream-ticket",
        json={"sessionId": CALL_SID},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert expiry(response.json()["expiresAt"]) <= expiry(fake_twilio.users[token]["expiration"])
    long_lived = fake_twilio.add_user("sup_sam", roles=["supervisor"], expires_in=3600)
    claims = tickets.verify([TICKET_SECRET], get_ticket(relay, long_lived), CALL_SID)
    assert claims.expires - claims.issued == 600  # CINTEL_TICKET_TTL's default, well inside the token's hour


def test_a_stream_ends_with_its_ticket_and_an_expired_token_gets_no_new_one(relay, fake_twilio, redis_client):
    token = fake_twilio.add_user("sup_brief", roles=["supervisor"], expires_in=3)
    ticket = get_ticket(relay, token)
    stream = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
    stream.events(2)
    with pytest.raises(EOFError):
        while True:
            stream.read_block(timeout=10)  # heartbeats, then the end
    stream.close()
    again = requests.get(f"{relay.url}/api/stream/{CALL_SID}", params={"ticket": ticket}, timeout=5)
    assert (again.status_code, again.json()["code"]) == (401, "ticket_expired")
    # The ticket ends at the latest when the token does (whole seconds, so up to two earlier).
    wait_for(lambda: time.time() > expiry(fake_twilio.users[token]["expiration"]), what="the token to expire")
    renewal = requests.post(
        relay.url + "/api/stream-ticket",
        json={"sessionId": CALL_SID},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (renewal.status_code, renewal.json()["code"]) == (401, "token_expired")
    key = slots_key(identity_key(TICKET_SECRET, "sup_brief"))
    wait_for(lambda: redis_client.zcard(key) == 0, timeout=5, what="the ended stream's slot to be released")


def test_streams_end_when_their_ticket_does_not_at_the_next_heartbeat(flex_redis, twilio_server, fake_twilio):
    relay = start_flex_relay(flex_redis.url, twilio_server.url, CINTEL_HEARTBEAT_SECONDS="60")
    try:
        token = fake_twilio.add_user("sup_brief", roles=["supervisor"], expires_in=4)
        call = SSEClient(relay.url, CALL_SID, query=f"?ticket={get_ticket(relay, token)}")
        board = SSEClient(
            relay.url, None, path="/api/board/stream", query=f"?ticket={get_ticket(relay, token, 'board')}"
        )
        call.events(2)  # connected, initial
        board.events(1)  # the board's snapshot
        for stream in (call, board):
            with pytest.raises(EOFError):
                stream.read_block(timeout=30)  # the end, a minute before a heartbeat would be due
            stream.close()
    finally:
        relay.stop()


def test_identities_are_hashed_with_a_key_in_tickets_redis_and_logs(relay, redis_client, supervisor):
    ticket = get_ticket(relay, supervisor)
    stream = SSEClient(relay.url, CALL_SID, query=f"?ticket={ticket}")
    stream.events(2)
    unkeyed = hashlib.sha256(b"sup_sam").hexdigest()[:24]
    claims = tickets.verify([TICKET_SECRET], ticket, CALL_SID)
    assert claims.identity == identity_key(TICKET_SECRET, "sup_sam") != unkeyed
    assert redis_client.exists(slots_key(claims.identity)) and not redis_client.keys(f"*{unkeyed}*")
    stream.close()
    output = wait_for(lambda: claims.identity in relay.output() and relay.output(), what="the ticket's log line")
    assert unkeyed not in output and "sup_sam" not in output
