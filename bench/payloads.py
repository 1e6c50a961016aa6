"""Signed webhook requests, generated ahead of time so the load generator only sends bytes."""

import hashlib
import json
import urllib.parse
from typing import List, NamedTuple, Optional

from twilio.request_validator import RequestValidator

PATH = "/webhook/cor-event"


class SignedRequest(NamedTuple):
    path: str  # with the bodySHA256 query for JSON
    signature: str
    body: bytes
    content_type: str = "application/json"


def call_sid(n: int) -> str:
    return "CA%032x" % (0xBE0C0000 + n)


def line(call: int, n: int, token: str, base_url: str, text: Optional[str] = None) -> SignedRequest:
    """A transcript line for call ``call``, signed for ``base_url`` as Twilio signs it."""
    body = json.dumps(
        {
            "eventType": "COMMUNICATION_CREATED",
            "timestamp": "2026-11-25T10:00:00.000Z",
            "data": {
                "id": f"bench-{call}-{n}",
                "conversationId": f"conv_bench_{call}",
                "author": {"address": "+15125550123", "channel": "VOICE", "participantId": f"p-{call}"},
                "content": {"type": "TRANSCRIPTION", "text": text or f"bench {call} {n}"},
                "channelId": call_sid(call),
                "createdAt": "2026-11-25T10:00:00.000Z",
            },
        },
        separators=(",", ":"),
    ).encode()
    path = f"{PATH}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return SignedRequest(path, RequestValidator(token).compute_signature(base_url + path, {}), body)


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
    path = f"{PATH}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    return SignedRequest(path, RequestValidator(token).compute_signature(base_url + path, {}), body)


def lines(calls: int, per_call: int, token: str, base_url: str, start: int = 0) -> List[SignedRequest]:
    """``calls * per_call`` distinct lines, interleaved across calls as a contact center would send them."""
    return [line(c, n, token, base_url) for n in range(start, start + per_call) for c in range(calls)]


def parse_text(text: str):
    """(call, n) from a line's text."""
    _, call, n = text.split()[:3]
    return int(call), int(n)


def completed(call: int, token: str, base_url: str) -> SignedRequest:
    """The Voice status callback that ends call ``call``."""
    form = {"CallSid": call_sid(call), "CallStatus": "completed", "CallDuration": "300"}
    signature = RequestValidator(token).compute_signature(base_url + "/webhook/status", form)
    return SignedRequest(
        "/webhook/status", signature, urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    )
