"""Malformed HTTP framing and oversized chunked bodies against a real gunicorn: a clear 4xx, never a 500 or a
traceback; and gunicorn trusts no forwarded header beyond what CINTEL_PROXY_COUNT says."""

import email.utils
import hashlib
import json
import time
import urllib.parse

import pytest

from .support import communication, sign
from .support.raw_http import chunked, exchange, head


def new_output(relay, before: int) -> str:
    return relay.output()[before:]


@pytest.mark.parametrize(
    "framing",
    [
        ("Content-Length: 3", "Content-Length: 3"),
        ("Content-Length: 3", "Content-Length: 4"),
        ("Content-Length: 3", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "Content-Length: 3"),
    ],
)
def test_ambiguous_body_framing_is_400(relays, redis_client, framing):
    relay = relays[0]
    before = len(relay.output())
    request = (
        head("POST", "/webhook/status", "Content-Type: application/x-www-form-urlencoded", *framing)
        + b"3\r\nabc\r\n0\r\n\r\n"
    )
    status, answer, closed = exchange(relay.port, request)
    assert status == 400 and closed, answer
    output = new_output(relay, before)
    assert "Traceback" not in output and '"status":500' not in output and '"level":"ERROR"' not in output
    assert redis_client.dbsize() == 0


#: The URL the raw requests name: ``head`` sends ``Host: 127.0.0.1``.
PUBLIC = "http://127.0.0.1"


@pytest.mark.parametrize(
    "path, limit, closes",
    [
        ("/webhook/cor-event?bodySHA256=00", 1024 * 1024, True),  # refused mid-body: the rest is never read
        ("/api/stream-ticket", 4096, True),  # the route's own limit, not CINTEL_MAX_BODY_BYTES: refused mid-body
    ],
)
def test_a_chunked_body_past_the_limit_is_413(relays, redis_client, path, limit, closes):
    request = head(
        "POST",
        path,
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        "X-Twilio-Signature: x",
        "Authorization: Bearer x",
    ) + chunked(b" " * (limit + 1), size=65536)
    status, answer, closed = exchange(relays[0].port, request, timeout=3)
    assert status == 413 and closed == closes, answer[:300]
    refusal = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert refusal["code"] == "request_entity_too_large" and refusal["limit"] == limit
    # The limit, and for the setting's limit, the setting that raises it; a ticket request's is fixed.
    assert f"larger than {limit} bytes" in refusal["error"]
    assert ("CINTEL_MAX_BODY_BYTES" in refusal["error"]) == (path != "/api/stream-ticket")
    assert redis_client.dbsize() == 0


def test_a_signed_chunked_body_within_the_limit_is_taken(relays, redis_client):
    relay = relays[0]
    raw = json.dumps(communication("c1", "chunked hello")).encode()
    target = "/webhook/cor-event?" + urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    request = head(
        "POST",
        target,
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        f"X-Twilio-Signature: {sign(PUBLIC + target)}",
        "Connection: close",
    ) + chunked(raw, size=100)
    status, answer, _ = exchange(relay.port, request)
    assert status == 200, answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["logged"] == 1


@pytest.mark.parametrize("header", ["X-Forwarded-Proto: https", "X-Forwarded-Ssl: on", "X-Forwarded-Protocol: ssl"])
def test_without_a_trusted_proxy_a_forwarded_scheme_does_not_change_the_signed_url(relays, redis_client, header):
    """CINTEL_PROXY_COUNT=0: even from loopback, gunicorn's own default trust, X-Forwarded-* is ignored."""
    relay = relays[0]
    raw = json.dumps(communication("c1", "hello")).encode()
    target = "/webhook/cor-event?" + urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    https_url = PUBLIC.replace("http://", "https://") + target
    request = (
        head(
            "POST",
            target,
            "Content-Type: application/json",
            f"Content-Length: {len(raw)}",
            header,
            f"X-Twilio-Signature: {sign(https_url)}",
            "Connection: close",
        )
        + raw
    )
    status, answer, _ = exchange(relay.port, request)
    assert status == 403 and b"invalid_signature" in answer
    assert redis_client.dbsize() == 0


def test_answers_on_a_keep_alive_connection_are_whole_messages_with_a_current_date(relays):
    """The worker sends an answer's head with its body, and a Date formatted once a second: two requests on one
    connection get two complete answers, each framed by its Content-Length, each dated now."""
    two = head("GET", "/healthz") + head("GET", "/api/script", "Connection: close")
    status, answer, closed = exchange(relays[0].port, two)
    assert status == 200 and closed
    rest, answers = answer, []
    while rest:
        head_bytes, _, rest = rest.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head_bytes.decode("latin-1").split("\r\n")[1:])
        length = int(fields["Content-Length"])
        body, rest = rest[:length], rest[length:]
        answers.append((head_bytes.split(b" ", 2)[1], fields, body))
    assert [code for code, _, _ in answers] == [b"200", b"200"]
    assert json.loads(answers[1][2])["categories"]  # the script, whole
    for _, fields, _ in answers:
        assert abs(email.utils.parsedate_to_datetime(fields["Date"]).timestamp() - time.time()) < 5
