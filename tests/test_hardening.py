"""Hardening, round two (issue 24), against real gunicorn replicas: work before authentication is bounded,
each route reads only the body it takes, and signed but hostile content is contained."""

import json
import urllib.parse

import pytest

from cintel_relay.server.bodies import MAX_CHUNKS
from cintel_relay.webhooks.signature import MAX_PARAMS

from .raw_http_support import chunked, exchange, head
from .support import CALL_SID, sign

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
