"""Attacks on the webhooks that tests/test_webhooks.py does not already make: each is refused and stores nothing."""

import hashlib
import urllib.parse

import requests

from .support import SENTIMENT_OPERATOR, json_request, operator_result, payload, rule_execution
from .test_webhooks import BASE, dump, map_call, post_json


def _nested(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_signed_json_nested_past_what_the_relay_can_store_is_400(client, redis_client):
    """Deep enough to pass the JSON parser (1024 levels) yet break serialization (254): once a 500."""
    map_call(client)
    before = dump(redis_client)
    for depth in (65, 300, 600):
        body = rule_execution([operator_result("r", SENTIMENT_OPERATOR, {"label": _nested(depth)})])
        response = post_json(client, "/webhook/cintel-action", body)
        assert (response.status_code, response.json["code"]) == (400, "too_deep")
    assert dump(redis_client) == before


def test_replay_with_a_changed_field_and_a_recomputed_body_hash_is_403(client, redis_client):
    map_call(client)
    before = dump(redis_client)
    url, headers, raw = json_request(BASE, "/webhook/cintel-action", payload("cintel-script-adherence.json"))
    changed = raw.replace(b'"Succeeded"', b'"Failed"')
    assert changed != raw
    forged_url = url.split("?")[0] + "?" + urllib.parse.urlencode({"bodySHA256": hashlib.sha256(changed).hexdigest()})
    response = client.post(forged_url[len(BASE) :], data=changed, headers=headers)
    assert response.status_code == 403 and response.json["code"] == "invalid_signature"
    assert dump(redis_client) == before


def test_huge_body_on_the_real_server_is_413_before_it_is_read(relays, redis_client):
    url, headers, raw = json_request(relays[0].url, "/webhook/cor-event", b"{" + b" " * (2 * 1024 * 1024) + b"}")
    response = requests.post(url, data=raw, headers=headers, timeout=10)
    assert response.status_code == 413 and response.json() == {
        "code": "request_entity_too_large",
        "error": "the body is larger than 1048576 bytes, the most this endpoint takes: send less, or raise the "
        "limit with CINTEL_MAX_BODY_BYTES.",
        "limit": 1048576,
    }
    assert redis_client.dbsize() == 0


def test_non_ascii_signatures_and_body_hashes_are_403_not_500(client, redis_client):
    map_call(client)
    before = dump(redis_client)
    url, headers, raw = json_request(BASE, "/webhook/cor-event", payload("cor-communication-transcription.json"))
    for signature in ("é" * 28, "☎", headers["X-Twilio-Signature"][:-1] + "é"):
        response = client.post(url[len(BASE) :], data=raw, headers={**headers, "X-Twilio-Signature": signature})
        assert (response.status_code, response.json["code"]) == (403, "invalid_signature")
    for body_hash in ("é" * 64, "²" * 64, "\u0663" * 64):
        path = "/webhook/cor-event?" + urllib.parse.urlencode({"bodySHA256": body_hash})
        response = client.post(path, data=raw, headers=headers)
        assert (response.status_code, response.json["code"]) == (403, "invalid_signature")
    assert dump(redis_client) == before
