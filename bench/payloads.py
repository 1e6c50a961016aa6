"""Signed webhook requests, generated ahead of time so the load generator only sends bytes."""

import json
import urllib.parse
from typing import List, NamedTuple, Optional

import orjson

from cintel_relay.normalize import transcript_event
from cintel_relay.simulator.signing import sign_form, sign_json

PATH = "/webhook/cor-event"


class SignedRequest(NamedTuple):
    path: str  # with the bodySHA256 query for JSON
    signature: str
    body: bytes
    content_type: str = "application/json"


def call_sid(n: int) -> str:
    return "CA%032x" % (0xBE0C0000 + n)


def _communication(call: int, n: int, text: Optional[str] = None) -> dict:
    """The communication of line ``n`` of call ``call``, as Conversation Orchestrator sends it."""
    return {
        "id": f"bench-{call}-{n}",
        "conversationId": f"conv_bench_{call}",
        "author": {"address": "+15125550123", "channel": "VOICE", "participantId": f"p-{call}"},
        "content": {"type": "TRANSCRIPTION", "text": text or f"bench {call} {n}"},
        "channelId": call_sid(call),
        "createdAt": "2026-11-25T10:00:00.000Z",
    }


def line(call: int, n: int, token: str, base_url: str, text: Optional[str] = None) -> SignedRequest:
    """A transcript line for call ``call``, signed for ``base_url`` as Twilio signs it."""
    body = json.dumps(
        {
            "eventType": "COMMUNICATION_CREATED",
            "timestamp": "2026-11-25T10:00:00.000Z",
            "data": _communication(call, n, text),
        },
        separators=(",", ":"),
    ).encode()
    return _signed_json(body, token, base_url)


def _signed_json(body: bytes, token: str, base_url: str) -> SignedRequest:
    signed_url, signature = sign_json(base_url + PATH, body, token)
    return SignedRequest(signed_url[len(base_url) :], signature, body)


def participant(call: int, token: str, base_url: str) -> SignedRequest:
    """PARTICIPANT_ADDED for the customer of call ``call`` (maps the conversation to the call)."""
    body = json.dumps(
        {
            "eventType": "PARTICIPANT_ADDED",
            "timestamp": "2026-11-25T10:00:00.000Z",
            "data": {
                "id": f"p-{call}",
                "conversationId": f"conv_bench_{call}",
                "type": "CUSTOMER",
                "addresses": [{"channel": "VOICE", "address": "+15125550123", "channelId": call_sid(call)}],
            },
        },
        separators=(",", ":"),
    ).encode()
    return _signed_json(body, token, base_url)


def lines(calls: int, per_call: int, token: str, base_url: str, start: int = 0) -> List[SignedRequest]:
    """``calls * per_call`` distinct lines, interleaved across calls as a contact center would send them."""
    return [line(c, n, token, base_url) for n in range(start, start + per_call) for c in range(calls)]


def transcript_frame(call: int, n: int) -> bytes:
    """The frame the relay logs and publishes for :func:`line` (the customer's, as :func:`participant` registers
    them), made by the relay's own normalization: for publishing one without its webhook."""
    event = transcript_event(_communication(call, n), "CUSTOMER", ())
    assert event is not None  # the line has text
    return orjson.dumps(event.frame)


def parse_text(text: str):
    """(call, n) from a line's text."""
    _, call, n = text.split()[:3]
    return int(call), int(n)


def completed(call: int, token: str, base_url: str) -> SignedRequest:
    """The Voice status callback that ends call ``call``."""
    form = {"CallSid": call_sid(call), "CallStatus": "completed", "CallDuration": "300"}
    signature = sign_form(base_url + "/webhook/status", form, token)
    return SignedRequest(
        "/webhook/status", signature, urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    )
