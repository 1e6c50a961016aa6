"""Webhook requests signed as Twilio signs them, with Twilio's own algorithm (RequestValidator)."""

import hashlib
import json
import urllib.parse
from typing import Optional

import requests
from twilio.request_validator import RequestValidator

AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def sign(url: str, params=None, token: str = AUTH_TOKEN) -> str:
    """The X-Twilio-Signature of ``url`` (and form ``params``)."""
    return RequestValidator(token).compute_signature(url, params or {})


def json_request(base: str, path: str, body, token: str = AUTH_TOKEN, public_base: Optional[str] = None):
    """(url, headers, raw body) for a JSON webhook signed as Twilio signs it: bodySHA256 in the URL."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    query = urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    signed_url = f"{public_base or base}{path}?{query}"
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(signed_url, token=token)}
    return f"{base}{path}?{query}", headers, raw


def form_request(base: str, path: str, form: dict, token: str = AUTH_TOKEN):
    """(url, headers, raw body) for a form-encoded webhook signed as Twilio signs it."""
    url = base + path
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, form, token)}
    return url, headers, urllib.parse.urlencode(form).encode()


def post_json(base, path, body, **kw):
    """POST a signed JSON webhook."""
    url, headers, raw = json_request(base, path, body, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)


def post_form(base, path, form, **kw):
    """POST a signed form-encoded webhook."""
    url, headers, raw = form_request(base, path, form, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)
