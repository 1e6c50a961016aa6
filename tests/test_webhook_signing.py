"""How Twilio may sign a webhook, beyond the auth token over a POST: Webhook Rules' shared keys (HMAC-SHA256,
named in ``X-Twilio-Webhooks-Signature-Settings``) and GET status callbacks signed over the full URL. Each has
its refusals; all signatures are computed with twilio-python's RequestValidator."""

import hashlib
import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError

from .support import AUTH_TOKEN, base_env, communication, payload
from .test_webhooks import BASE, dump, log

KEY_ID = "webhooks_sharedkey_01kg30sh4r3dk3y0000000000a"
SECRET = "shared-key-secret-0123456789abcdef"
OLD_KEY_ID = "webhooks_sharedkey_01kg30sh4r3dk3y0000000000b"
OLD_SECRET = "older-shared-key-secret-9876543210"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


@pytest.fixture
def keyed(make_app):
    return make_app(TWILIO_WEBHOOK_SHARED_KEYS=f"{KEY_ID}={SECRET}, {OLD_KEY_ID}={OLD_SECRET}").test_client()


def status_form(status="ringing") -> dict:
    form = dict(urllib.parse.parse_qsl(payload("status-callback.form").strip()))
    form["CallStatus"] = status
    return form


def post_form_signed(client, form, secret, key_id=None, algorithm="HMAC_SHA256"):
    url = BASE + "/webhook/status"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": RequestValidator(secret).compute_signature(url, form, algorithm),
    }
    if key_id:
        headers[SETTINGS] = f"key={key_id},algorithm={algorithm}"
    return client.post("/webhook/status", data=urllib.parse.urlencode(form), headers=headers)


def post_json_signed(client, body, secret, key_id):
    raw = json.dumps(body).encode()
    path = "/webhook/cor-event?" + urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    headers = {
        "Content-Type": "application/json",
        SETTINGS: f"key={key_id},algorithm=HMAC_SHA256",
        "X-Twilio-Signature": RequestValidator(secret).compute_signature(BASE + path, {}, "HMAC_SHA256"),
    }
    return client.post(path, data=raw, headers=headers)


# --- Webhook Rules: shared keys -------------------------------------------------------------------


def test_a_shared_key_signature_is_accepted_with_either_listed_key(keyed, redis_client):
    assert post_form_signed(keyed, status_form("ringing"), SECRET, KEY_ID).status_code == 200
    assert post_form_signed(keyed, status_form("in-progress"), OLD_SECRET, OLD_KEY_ID).status_code == 200
    assert post_json_signed(keyed, communication("c1", "hello"), SECRET, KEY_ID).status_code == 200
    assert [e["data"]["status"] for e in log(redis_client) if e["type"] == "call-status"] == ["ringing", "in-progress"]


@pytest.mark.parametrize(
    "secret, key_id, code",
    [
        (SECRET, "webhooks_sharedkey_unknown", "unknown_shared_key"),
        (OLD_SECRET, KEY_ID, "invalid_signature"),  # another key's secret
        ("test-auth-token-0123456789abcdef", KEY_ID, "invalid_signature"),  # the auth token, naming a shared key
    ],
)
def test_shared_key_refusals_are_403(keyed, redis_client, secret, key_id, code):
    before = dump(redis_client)
    response = post_form_signed(keyed, status_form(), secret, key_id)
    assert (response.status_code, response.json["code"]) == (403, code)
    json_response = post_json_signed(keyed, communication("c1", "hello"), secret, key_id)
    assert (json_response.status_code, json_response.json["code"]) == (403, code)
    assert dump(redis_client) == before


def test_without_the_settings_header_the_auth_token_signs_as_before(keyed, redis_client):
    assert post_form_signed(keyed, status_form(), AUTH_TOKEN, algorithm="HMAC_SHA1").status_code == 200
    refused = post_form_signed(keyed, status_form(), SECRET, algorithm="HMAC_SHA1")
    assert refused.status_code == 403


@pytest.mark.parametrize("value", ["k1", "k1=", "=secret", "k1=a,k2"])
def test_bad_shared_keys_setting_names_the_variable(value):
    with pytest.raises(ConfigError, match=r"TWILIO_WEBHOOK_SHARED_KEYS.*keyid=secret"):
        load_config(base_env(TWILIO_WEBHOOK_SHARED_KEYS=value))
    assert SECRET not in repr(load_config(base_env(TWILIO_WEBHOOK_SHARED_KEYS=f"{KEY_ID}={SECRET}")))


# --- GET status callbacks -------------------------------------------------------------------------


def get_signed(client, form, signed_form=None, token=AUTH_TOKEN):
    """A GET status callback: parameters in the query, signed over the full URL (``form``: a dict or pairs)."""
    path = "/webhook/status?" + urllib.parse.urlencode(form)
    signed = "/webhook/status?" + urllib.parse.urlencode(signed_form or form)
    signature = RequestValidator(token).compute_signature(BASE + signed, {})
    return client.get(path, headers={"X-Twilio-Signature": signature})


def test_a_get_status_callback_is_taken_as_a_post_would_be(client, redis_client):
    response = get_signed(client, status_form("completed"))
    assert response.status_code == 200 and response.json["logged"] == 1
    (event,) = log(redis_client)
    assert (event["type"], event["data"]["status"]) == ("call-status", "completed")


def test_get_status_callback_refusals(client, redis_client):
    before = dump(redis_client)
    changed = get_signed(client, status_form("completed"), signed_form=status_form("ringing"))
    assert (changed.status_code, changed.json["code"]) == (403, "invalid_signature")
    unsigned = client.get("/webhook/status?" + urllib.parse.urlencode(status_form()))
    assert unsigned.status_code == 403
    wrong_token = get_signed(client, status_form(), token="not-the-auth-token")
    assert wrong_token.status_code == 403
    missing = get_signed(client, {k: v for k, v in status_form().items() if k != "CallSid"})
    assert missing.status_code == 422 and "CallSid" in missing.json["fields"]
    assert dump(redis_client) == before


# --- repeated parameters --------------------------------------------------------------------------


def repeated(status_values):
    """The status form with CallStatus sent once per value: Twilio's algorithm signs the values sorted."""
    return [(k, v) for k, v in status_form().items() if k != "CallStatus"] + [("CallStatus", s) for s in status_values]


def test_a_repeated_parameter_is_400_whatever_order_it_comes_in(client, redis_client):
    before = dump(redis_client)
    for values in (["completed", "ringing"], ["ringing", "completed"]):
        form = MultiDict(repeated(values))
        url = BASE + "/webhook/status"
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
        response = client.post(
            "/webhook/status",
            data=urllib.parse.urlencode(repeated(values)),
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        assert (response.status_code, response.json["code"]) == (400, "repeated_parameter"), response.json
        assert "CallStatus" in response.json["error"]
        query = get_signed(client, repeated(values))
        assert (query.status_code, query.json["code"]) == (400, "repeated_parameter")
    assert dump(redis_client) == before
