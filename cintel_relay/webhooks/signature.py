"""Twilio webhook signatures: rebuild the URL Twilio called, then check ``X-Twilio-Signature``.

The algorithm is Twilio's (HMAC-SHA1 of the URL followed by the sorted form parameters, base64;
JSON bodies are bound by ``bodySHA256`` in the URL). It is implemented here rather than through
twilio-python's validator, which computes every signature twice, compares in a Python loop, and
raises on a JSON body without ``bodySHA256``; tests check the two agree.

The work it does before knowing whether Twilio signed is bounded whatever a stranger sends: a form is
parsed once, into at most :data:`MAX_PARAMS` parameters, and its signed text is built once and hashed
once per candidate URL (two: with and without the default port).
"""

import base64
import hashlib
import hmac
import logging
from urllib.parse import parse_qsl, quote, urlsplit

from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, get_signature_algorithm
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, BodyTooLarge, SignatureError

logger = logging.getLogger(__name__)

#: Twilio's algorithm names and their digests, by name: ``hmac.digest`` computes a named one in one C call.
_DIGESTS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
#: Parameters a form webhook may carry. A Voice status callback has about 30; a form of 100k fields
#: would cost a worker a second of parsing and sorting before its signature is even compared.
MAX_PARAMS = 256


def form_params(body: bytes) -> MultiDict:
    """An ``application/x-www-form-urlencoded`` body's parameters, parsed once, or :class:`BodyTooLarge` past
    :data:`MAX_PARAMS`.

    Decoded as Werkzeug decodes forms: ``&`` separates, ``+`` is a space, percent-escapes are bytes, and
    the bytes are UTF-8 (an invalid sequence becomes U+FFFD).
    """
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1", max_num_fields=MAX_PARAMS)
    except ValueError:
        raise BodyTooLarge(
            f"the form has more than {MAX_PARAMS} parameters: Twilio sends far fewer.", code="too_many_parameters"
        ) from None

    def text(value: str) -> str:
        return value.encode("latin-1").decode("utf-8", "replace")

    return MultiDict([(text(name), text(value)) for name, value in pairs])


def public_url(request, server_url=None) -> str:
    """The URL Twilio requested, query string byte for byte as sent.

    With ``SERVER_URL`` set it is the base (required with ``flex`` stream auth); otherwise scheme and host come
    from the request, which honours ``X-Forwarded-Proto``/``Host`` only as far as ``CINTEL_PROXY_COUNT`` trusts
    (gunicorn itself trusts no forwarded header: see gunicorn_conf).
    """
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        query = environ.get("QUERY_STRING", "")
        target = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
    base = server_url or request.host_url.rstrip("/")
    return base + target


def signed_params(params=None) -> bytes:
    """What Twilio appends to the URL before signing: each parameter's name and value, sorted by name, then value."""
    if not params:
        return b""
    getall = getattr(params, "getlist", None)
    parts = []
    for name in sorted(set(params)):
        for value in sorted(set(getall(name) if getall else [params[name]])):
            parts.append(name + value)
    return "".join(parts).encode("utf-8")


def sign(token: bytes, url: str, suffix: bytes, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature of ``url`` followed by :func:`signed_params`' ``suffix``."""
    return base64.b64encode(hmac.digest(token, url.encode("utf-8") + suffix, _DIGESTS[algorithm])).decode()


def compute_signature(token: bytes, url: str, params=None, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature of ``url`` and form ``params`` (a dict or a MultiDict)."""
    return sign(token, url, signed_params(params), algorithm)


def _port_variants(url: str):
    """The URL as given, then with its default port added or removed: Twilio signs either form."""
    yield url
    parts = urlsplit(url)
    default = "443" if parts.scheme == "https" else "80"
    if parts.port is None:
        yield parts._replace(netloc=f"{parts.netloc}:{default}").geturl()
    else:
        # No hostname ("http://:80") gives an empty netloc, which urlunsplit treats as it treats None.
        yield parts._replace(netloc=parts.hostname or "").geturl()


def _settings(header: str):
    """``(key id or None, algorithm)`` from ``X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=<alg>``."""
    fields = {}
    for part in header.split(","):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields.get("key") or None, get_signature_algorithm(header).upper()


def _ascii(value: str, what: str) -> bytes:
    """A header value as bytes for a constant-time comparison; a non-ASCII one cannot be Twilio's."""
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError(f"{what} is not ASCII, so Twilio did not send it.") from None


class SignatureVerifier:
    """Checks requests against the account's auth token or a Webhook Rule's shared key (or accepts all, when
    explicitly disabled)."""

    def __init__(self, auth_token, server_url=None, enabled=True, shared_keys=None):
        self.enabled = enabled
        self._server_url = server_url
        self._token = auth_token.encode("utf-8") if auth_token else None
        self._shared_keys = {key: secret.encode("utf-8") for key, secret in (shared_keys or {}).items()}

    def _secret(self, request):
        """(secret, algorithm): a Webhook Rule names its shared key in the settings header; else the auth token."""
        header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        if header is None:
            return self._token, "HMAC_SHA1"
        key_id, algorithm = _settings(header)
        if algorithm not in _DIGESTS:
            raise SignatureError(f"unsupported signature algorithm {algorithm!r}: use HMAC_SHA1 or HMAC_SHA256.")
        if key_id is None:
            return self._token, algorithm
        secret = self._shared_keys.get(key_id)
        if secret is None:
            logger.warning("webhook signed with an unknown shared key", extra={"path": request.path})
            raise SignatureError(
                "the request names a Webhook Shared Key the relay does not know: add it to "
                "TWILIO_WEBHOOK_SHARED_KEYS as <key id>=<secret>.",
                code="unknown_shared_key",
            )
        return secret, algorithm

    def verify(self, request, json_body: bool, params=None):
        """Raise :class:`SignatureError` unless Twilio signed this request.

        JSON bodies are bound to the signature through ``bodySHA256`` in the URL, so a JSON webhook
        without it is refused: its body would be unauthenticated. A GET request is signed over its URL
        alone (its parameters are in the query); a form POST over its URL and ``params``, the form as
        :func:`form_params` parsed it.
        """
        if not self.enabled:
            return
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature header: only Twilio may call this webhook.")
        signature = _ascii(signature, "X-Twilio-Signature")
        secret, algorithm = self._secret(request)
        if json_body:
            body_hash = request.args.get("bodySHA256")
            if not body_hash:
                raise SignatureError("JSON webhooks must carry ?bodySHA256=<hex> in the URL, as Twilio sends them.")
            body = request.get_data(cache=True)
            expected = hashlib.sha256(body).hexdigest().encode()
            if not hmac.compare_digest(expected, _ascii(body_hash, "bodySHA256").lower()):
                raise SignatureError("the body does not match bodySHA256: it was changed after Twilio signed it.")
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("the body is not valid UTF-8: Twilio sends UTF-8 JSON.") from None
        suffix = signed_params(params) if request.method == "POST" and not json_body else b""
        url = public_url(request, self._server_url)
        if not any(
            hmac.compare_digest(sign(secret, candidate, suffix, algorithm).encode(), signature)
            for candidate in _port_variants(url)
        ):
            logger.warning("webhook signature mismatch", extra={"path": request.path})
            raise SignatureError(
                "X-Twilio-Signature does not match this request: check TWILIO_AUTH_TOKEN (or the Webhook Shared Key "
                "in TWILIO_WEBHOOK_SHARED_KEYS), and that SERVER_URL (or the proxy's X-Forwarded-Proto/Host with "
                "CINTEL_PROXY_COUNT) gives the URL Twilio called."
            )
