"""Webhook requests signed as Twilio signs them, with Twilio's own algorithm (cintel_relay.simulator.signing)."""

import json
import urllib.parse
from typing import Optional

import requests

from cintel_relay.simulator.signing import sign_form, sign_json

AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def sign(url: str, params=None, token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature of ``url`` (and form ``params``)."""
    return sign_form(url, params or {}, token)


def json_request(base: str, path: str, body, token: str = AUTH_TOKEN, public_base: Optional[str] = None):
    """(url, headers, raw body) for a JSON webhook signed as Twilio signs it: bodySHA256 in the URL."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed_url, signature = sign_json(f"{public_base or base}{path}", raw, token)
    query = signed_url.partition("?")[2]
    return f"{base}{path}?{query}", {"Content-Type": "application/json", "X-Twilio-Signature": signature}, raw


def form_request(base: str, path: str, form: dict, token: str = AUTH_TOKEN):
    """(url, headers, raw body) for a form-encoded webhook signed as Twilio signs it."""
    url = base + path
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign_form(url, form, token)}
    return url, headers, urllib.parse.urlencode(form).encode()


def post_json(base, path, body, **kw):
    """POST a signed JSON webhook."""
    url, headers, raw = json_request(base, path, body, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)


def post_form(base, path, form, **kw):
    """POST a signed form-encoded webhook."""
    url, headers, raw = form_request(base, path, form, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)
