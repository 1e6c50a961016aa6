"""Hardening, round two (issue 24), against real gunicorn replicas: work before authentication is bounded,
each route reads only the body it takes, and signed but hostile content is contained."""

import json
import urllib.parse

import pytest
import requests

from cintel_relay.bus.keys import conversation_keys, session_keys
from cintel_relay.server.bodies import MAX_CHUNKS
from cintel_relay.webhooks.signature import MAX_PARAMS

from .support import (
    CALL_SID,
    CONVERSATION,
    SUMMARY_OPERATOR,
    communication,
    operator_result,
    post_form,
    post_json,
    rule_execution,
    sign,
)
from .support.flex_relays import flex_relay_of_its_own
from .support.raw_http import chunked, connect, exchange, head, read_answer

#: The URL the raw requests name: ``head`` sends ``Host: 127.0.0.1``.
PUBLIC = "http://127.0.0.1"
FORM = "Content-Type: application/x-www-form-urlencoded"


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# --- B1: an unsigned form is not parsed and signed whatever its field count ----------------------------


def test_a_form_with_more_fields_than_twilio_sends_is_refused_before_its_signature(relays, redis_client):
    form = "&".join(f"f{i}=x" for i in range(100_000)).encode()
    request = head("POST", "/webhook/status", FORM, f"Content-Length: {len(form)}", "X-Twilio-Signature: x") + form
    status, answer, _ = exchange(relays[0].port, request)
    assert status == 413, answer[:300]
    assert body_of(answer)["code"] == "too_many_parameters" and str(MAX_PARAMS) in body_of(answer)["error"]
    assert redis_client.dbsize() == 0


def test_a_signed_form_at_the_parameter_cap_is_taken(relays, redis_client):
    form = {"CallSid": CALL_SID, "CallStatus": "in-progress"}
    form.update({f"Extra{i:03}": "x" for i in range(MAX_PARAMS - len(form))})
    raw = urllib.parse.urlencode(form).encode()
    request = (
        head(
            "POST",
            "/webhook/status",
            FORM,
            f"Content-Length: {len(raw)}",
            f"X-Twilio-Signature: {sign(PUBLIC + '/webhook/status', form)}",
            "Connection: close",
        )
        + raw
    )
    status, answer, _ = exchange(relays[0].port, request)
    assert status == 200, answer[:300]
    assert body_of(answer)["logged"] == 1


# --- B2: each route reads only the body it takes --------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/api/stream/" + CALL_SID, "/metrics"])
def test_a_body_sent_to_a_route_that_takes_none_is_not_read(relays, redis_client, path):
    """Headers declaring 1 MiB and no body at all: the answer comes without waiting for it (no 408 later)."""
    request = head("POST", path, f"Content-Length: {1024 * 1024}")
    status, answer, closed = exchange(relays[0].port, request, timeout=5)
    assert status is not None and status < 500 and status != 408, answer[:300]
    assert closed  # the unread body is never taken as the next request
    assert redis_client.dbsize() == 0


def test_a_declared_body_past_the_routes_own_limit_is_413_before_it_is_sent(relays, redis_client):
    request = head("POST", "/api/stream-ticket", "Content-Type: application/json", f"Content-Length: {1024 * 1024}")
    status, answer, closed = exchange(relays[0].port, request, timeout=5)
    assert status == 413 and closed, answer[:300]
    assert "4096" in body_of(answer)["error"]


def test_a_get_to_a_route_that_takes_none_still_works_after_a_refused_body(relays):
    """The refused request's connection closes; the worker serves the next one as usual."""
    exchange(relays[0].port, head("POST", "/healthz", "Content-Length: 10") + b"0123456789", timeout=5)
    status, answer, _ = exchange(relays[0].port, head("GET", "/healthz", "Connection: close"))
    assert status == 200, answer[:300]


# --- B4: chunked bodies cost a bounded amount of work ---------------------------------------------------


def test_a_body_of_many_tiny_chunks_is_refused_after_the_chunk_cap(relays, redis_client):
    request = head(
        "POST", "/webhook/cor-event?bodySHA256=00", "Content-Type: application/json", "Transfer-Encoding: chunked"
    ) + chunked(b"x" * 200_000, size=1)
    status, answer, closed = exchange(relays[0].port, request, timeout=5)
    assert status == 413 and closed, answer[:300]
    assert body_of(answer)["code"] == "too_many_chunks" and str(MAX_CHUNKS) in body_of(answer)["error"]
    assert redis_client.dbsize() == 0


def test_a_chunked_body_to_a_route_that_takes_none_is_not_read(relays):
    request = head("POST", "/healthz", "Transfer-Encoding: chunked") + chunked(b"x" * 50_000, size=1)
    status, answer, closed = exchange(relays[0].port, request, timeout=5)
    assert status is not None and status < 500 and closed, answer[:300]


# --- signed but hostile content -------------------------------------------------------------------------


def test_a_result_with_invalid_unicode_is_dropped_and_the_rest_of_its_delivery_kept(relays, redis_client):
    """B9: an escaped lone surrogate made the whole delivery fail on every retry, good results included."""
    post_json(relays[0].url, "/webhook/cor-event", communication("c1", "hello"))
    good = operator_result("r-good", SUMMARY_OPERATOR, {"text": "fine"})
    bad = operator_result("r-bad", SUMMARY_OPERATOR, {"text": "LONE"})
    raw = json.dumps(rule_execution([good, bad])).replace("LONE", "\\ud800").encode()
    for attempt in range(2):  # Twilio's retry gets the same answer: nothing left to fail
        answer = post_json(relays[attempt].url, "/webhook/cintel-action", raw)
        assert answer.status_code == 200, answer.text
        assert answer.json()["dropped"] == 1
    assert answer.json()["duplicates"] >= 1  # the good result was logged by the first attempt
    stored = [f for _, e in redis_client.xrange(session_keys(CALL_SID)[0]) for f in e.values()]
    assert any(b'"fine"' in f for f in stored) and not any(b"r-bad" in f for f in stored)


def test_invalid_unicode_outside_the_results_is_a_400(relays, redis_client):
    raw = json.dumps(rule_execution([], conversation="LONE")).replace("LONE", "\\udc00").encode()
    answer = post_json(relays[0].url, "/webhook/cintel-action", raw)
    assert answer.status_code == 400 and "surrogate" in answer.json()["error"]
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("call_sid", [CALL_SID + "\n", CALL_SID + "\r", " " + CALL_SID])
def test_a_call_sid_with_anything_around_it_is_refused(relays, redis_client, call_sid):
    """B10: ``$`` matched before a final newline, and ``CA...\\n`` became a phantom session."""
    answer = post_form(relays[0].url, "/webhook/status", {"CallSid": call_sid, "CallStatus": "ringing"})
    assert answer.status_code == 422 and "CallSid" in answer.json()["fields"], answer.text
    assert redis_client.dbsize() == 0


def test_a_delivery_larger_than_the_log_is_refused_naming_the_limit(start_relay, redis_client):
    """B13: one delivery of more events than CINTEL_LOG_MAXLEN trimmed the call's transcript out of its log."""
    relay = start_relay(CINTEL_LOG_MAXLEN="20")
    assert post_json(relay.url, "/webhook/cor-event", communication("c1", "hello")).status_code == 200
    results = [operator_result(f"r{n}", SUMMARY_OPERATOR, {"text": f"s{n}"}) for n in range(25)]
    answer = post_json(relay.url, "/webhook/cintel-action", rule_execution(results))
    assert answer.status_code == 413 and answer.json()["code"] == "too_many_events", answer.text
    assert "CINTEL_LOG_MAXLEN" in answer.json()["error"] and "20" in answer.json()["error"]
    entries = redis_client.xrange(session_keys(CALL_SID)[0])
    assert len(entries) == 1 and b'"hello"' in b"".join(entries[0][1].values())


def test_a_delivery_the_pending_list_cannot_take_stores_nothing(relays, redis_client):
    """B14: a delivery refused PENDINGFULL had already held what fitted; every retry got 503 again."""
    pending = conversation_keys(CONVERSATION)[3]

    def held(first, count):
        results = [
            operator_result(f"r{n}", "intelligence_operator_custom", {"x": n}) for n in range(first, first + count)
        ]
        return post_json(relays[0].url, "/webhook/cintel-action", rule_execution(results))

    assert held(0, 400).status_code == 200
    before = redis_client.llen(pending)
    per_result = before // 400
    over = held(400, (1000 - before) // per_result + 1)
    assert over.status_code == 503 and "too many events waiting" in over.json()["error"]
    assert redis_client.llen(pending) == before
    fits = held(400, (1000 - before) // per_result)
    assert fits.status_code == 200 and redis_client.llen(pending) <= 1000


# --- B16: redirects name no host a client chose ---------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1"])
def test_a_redirect_names_no_host_from_the_request(relays, host):
    request = f"GET /webhook//status?x=1 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    status, answer, _ = exchange(relays[0].port, request)
    assert 300 <= status < 400, answer[:300]
    (location,) = [line for line in answer.split(b"\r\n") if line.lower().startswith(b"location:")]
    assert location.split(b":", 1)[1].strip() == b"/webhook/status?x=1"


# --- B15: stream re-opens are rate limited --------------------------------------------------------------


def opens(url: str, **params) -> list:
    """Open and drop streams until one is refused (7 at most: a limit of 3, twice across a minute boundary);
    the statuses (each open reads the call's log), then the refusal's code and Retry-After."""
    statuses = []
    for _ in range(7):
        with requests.get(url, params=params, stream=True, timeout=10) as answer:
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                return statuses + [answer.json()["code"], int(answer.headers["Retry-After"])]
    return statuses


def test_stream_reopens_are_limited_per_address_without_stream_auth(start_relay, redis_client):
    relay = start_relay(CINTEL_STREAM_OPENS_PER_MINUTE="3")
    *statuses, code, retry = opens(f"{relay.url}/api/stream/{CALL_SID}")
    assert statuses[:3] == [200] * 3 and statuses[-1] == 429 and code == "too_many_stream_opens"
    assert 1 <= retry <= 60


def test_stream_reopens_are_limited_per_identity_with_flex_tickets(twilio_server, fake_twilio):
    supervisor = fake_twilio.add_user("sup_sam", roles=["supervisor"])
    with flex_relay_of_its_own(twilio_server.url, CINTEL_STREAM_OPENS_PER_MINUTE="3") as relay:
        answer = requests.post(
            relay.url + "/api/stream-ticket",
            json={"sessionId": CALL_SID},
            headers={"Authorization": f"Bearer {supervisor}"},
            timeout=10,
        )
        ticket = answer.json()["ticket"]
        *statuses, code, _ = opens(f"{relay.url}/api/stream/{CALL_SID}", ticket=ticket)
        assert statuses[:3] == [200] * 3 and statuses[-1] == 429 and code == "too_many_stream_opens"


# --- B5: idle and half-sent connections cannot starve a worker ------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 127"])
def test_idle_connections_do_not_keep_health_checks_and_streams_out(start_relay, redis_client, sent):
    relay = start_relay(CINTEL_WORKER_CONNECTIONS="8")
    idle = [connect(relay.port) for _ in range(20)]
    try:
        for sock in idle:
            sock.sendall(sent)
        status, answer, _ = exchange(relay.port, head("GET", "/healthz", "Connection: close"), timeout=5)
        assert status == 200, answer[:300]
        with requests.get(f"{relay.url}/api/stream/{CALL_SID}", stream=True, timeout=5) as stream:
            assert stream.status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_a_burst_of_connections_is_not_cut_while_connections_are_plentiful(start_relay, redis_client):
    """A reconnect storm: thousands of clients connect to the replica left at once, and their heads follow. With
    most of the worker's connections free, none is closed for waiting past a quarter: every one is answered."""
    relay = start_relay(CINTEL_WORKER_CONNECTIONS="40")  # a quarter is 10
    burst = [connect(relay.port) for _ in range(20)]
    try:
        # Accepted in order: once a later connection is answered, the worker holds all 20, waiting for their heads.
        status, answer, _ = exchange(relay.port, head("GET", "/healthz", "Connection: close"), timeout=5)
        assert status == 200, answer[:300]
        for sock in burst:
            sock.sendall(head("GET", "/healthz", "Connection: close"))
        assert [read_answer(sock, timeout=5)[0] for sock in burst] == [200] * 20
    finally:
        for sock in burst:
            sock.close()
