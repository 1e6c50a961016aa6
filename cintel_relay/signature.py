"""Twilio webhook signatures: rebuild the URL Twilio called, then check ``X-Twilio-Signature``."""

import logging
from urllib.parse import quote

from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from .errors import BadRequest, SignatureError

logger = logging.getLogger(__name__)


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


class SignatureVerifier:
    """Checks requests against the account's auth token (or accepts all, when explicitly disabled)."""

    def __init__(self, auth_token, server_url=None, enabled=True):
        self.enabled = enabled
        self._server_url = server_url
        self._validator = RequestValidator(auth_token) if auth_token else None

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
        if json_body:
            if "bodySHA256" not in request.args:
                raise SignatureError("JSON webhooks must carry ?bodySHA256=<hex> in the URL, as Twilio sends them.")
            try:
                params = request.get_data(cache=True).decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("the body is not valid UTF-8: Twilio sends UTF-8 JSON.")
        else:
            params = request.form
        url = public_url(request, self._server_url)
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if not self._validator.validate(url, params, signature, algorithm):
            logger.warning("webhook signature mismatch", extra={"path": request.path})
            raise SignatureError(
                "X-Twilio-Signature does not match this request: check TWILIO_AUTH_TOKEN, and that SERVER_URL "
                "(or the proxy's X-Forwarded-Proto/Host with CINTEL_PROXY_COUNT) gives the URL Twilio called."
            )
