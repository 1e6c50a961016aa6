"""Twilio webhook signatures: rebuild the URL Twilio called, then check ``X-Twilio-Signature``.

The algorithm is Twilio's (HMAC-SHA1 of the URL followed by the sorted form parameters, base64;
JSON bodies are bound by ``bodySHA256`` in the URL). It is implemented here rather than through
twilio-python's validator, which computes every signature twice, compares in a Python loop, and
raises on a JSON body without ``bodySHA256``; tests check the two agree.
"""

import base64
import hashlib
import hmac
import logging
from urllib.parse import quote, urlsplit

from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, get_signature_algorithm

from .errors import BadRequest, SignatureError

logger = logging.getLogger(__name__)

_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def public_url(request, server_url=None) -> str:
    """The URL Twilio requested, query string byte for byte as sent.

    With ``SERVER_URL`` set it is the base; otherwise scheme and host come from the request, which
    honours ``X-Forwarded-Proto``/``Host`` only when the proxy is trusted (``CINTEL_PROXY_COUNT``).
    """
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        query = environ.get("QUERY_STRING", "")
        target = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
    base = server_url or request.host_url.rstrip("/")
    return base + target


def compute_signature(token: bytes, url: str, params=None, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature of ``url`` and form ``params`` (a dict or a MultiDict)."""
    data = url
    if params:
        getall = getattr(params, "getlist", None)
        for name in sorted(set(params)):
            for value in sorted(set(getall(name) if getall else [params[name]])):
                data += name + value
    return base64.b64encode(hmac.new(token, data.encode("utf-8"), _HASHES[algorithm]).digest()).decode()


def _port_variants(url: str):
    """The URL as given, then with its default port added or removed: Twilio signs either form."""
    yield url
    parts = urlsplit(url)
    default = "443" if parts.scheme == "https" else "80"
    if parts.port is None:
        yield parts._replace(netloc=f"{parts.netloc}:{default}").geturl()
    else:
        yield parts._replace(netloc=parts.hostname).geturl()


class SignatureVerifier:
    """Checks requests against the account's auth token (or accepts all, when explicitly disabled)."""

    def __init__(self, auth_token, server_url=None, enabled=True):
        self.enabled = enabled
        self._server_url = server_url
        self._token = auth_token.encode("utf-8") if auth_token else None

    def verify(self, request, json_body: bool):
        """Raise :class:`SignatureError` unless Twilio signed this request.

        JSON bodies are bound to the signature through ``bodySHA256`` in the URL, so a JSON webhook
        without it is refused: its body would be unauthenticated.
        """
        if not self.enabled:
            return
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature header: only Twilio may call this webhook.")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER)).upper()
        if algorithm not in _HASHES:
            raise SignatureError(f"unsupported signature algorithm {algorithm!r}: use HMAC_SHA1 or HMAC_SHA256.")
        params = None
        if json_body:
            body_hash = request.args.get("bodySHA256")
            if not body_hash:
                raise SignatureError("JSON webhooks must carry ?bodySHA256=<hex> in the URL, as Twilio sends them.")
            body = request.get_data(cache=True)
            if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), body_hash.lower()):
                raise SignatureError("the body does not match bodySHA256: it was changed after Twilio signed it.")
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("the body is not valid UTF-8: Twilio sends UTF-8 JSON.")
        else:
            params = request.form
        url = public_url(request, self._server_url)
        if not any(hmac.compare_digest(compute_signature(self._token, candidate, params, algorithm), signature)
                   for candidate in _port_variants(url)):
            logger.warning("webhook signature mismatch", extra={"path": request.path})
            raise SignatureError(
                "X-Twilio-Signature does not match this request: check TWILIO_AUTH_TOKEN, and that SERVER_URL "
                "(or the proxy's X-Forwarded-Proto/Host with CINTEL_PROXY_COUNT) gives the URL Twilio called."
            )
