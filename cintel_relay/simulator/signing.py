"""Webhook requests signed as Twilio signs them, with twilio-python's own algorithm (``RequestValidator``): the
simulator's posts, the tests' and the benchmark's. The relay's verifier (webhooks/signature.py) is a separate
implementation, so what they sign checks it rather than itself.

JSON bodies: ``bodySHA256`` (hex SHA-256 of the raw body) is added to the URL's query and the whole URL is signed,
with no parameters. Form bodies: the URL followed by the sorted parameters is signed.
"""

import hashlib
import urllib.parse
from typing import Mapping, Tuple

from twilio.request_validator import RequestValidator


def sign_json(url: str, raw: bytes, token: str) -> Tuple[str, str]:
    """(``url`` with its ``bodySHA256`` query, the X-Twilio-Signature of that URL)."""
    query = urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    signed = f"{url}{'&' if '?' in url else '?'}{query}"
    return signed, RequestValidator(token).compute_signature(signed, {})


def sign_form(url: str, form: Mapping[str, str], token: str) -> str:
    """The X-Twilio-Signature of a form-encoded request to ``url`` (a MultiDict signs every value of a repeated key)."""
    return RequestValidator(token).compute_signature(url, form)
