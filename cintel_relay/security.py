"""Response hardening and request shape limits: security headers, CORS for the browser API, JSON bodies."""

import json
from urllib.parse import urlsplit, urlunsplit

import orjson
from flask import Response, request

from .errors import BadRequest, Forbidden, UnsupportedMediaType

#: Sent on every response unless a view chose its own (a console page that must be framed, say).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: Paths a browser on another origin (the Flex UI) calls; webhooks and health checks get no CORS at all.
CORS_PREFIX = "/api/"
CORS_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
    "Access-Control-Max-Age": "600",
}
#: Deeper than any Twilio payload; shallow enough that nothing downstream hits a recursion limit.
MAX_JSON_DEPTH = 64


def register_security_headers(app):
    """Add the security headers to every response, and keep redirects on this host (config-free)."""

    @app.after_request
    def security_headers(response):
        # One pass over the response's headers (Headers.setdefault would scan them once per name).
        present = {name.lower() for name in response.headers.keys()}
        response.headers.extend([(k, v) for k, v in SECURITY_HEADERS.items() if k.lower() not in present])
        location = response.headers.get("Location")
        if location:
            response.headers["Location"] = same_host(location)
        return response


def same_host(location: str) -> str:
    """``location`` without scheme and host: Werkzeug builds a redirect's URL (``//x`` to ``/x``, say) from the
    request's ``Host`` (or a forwarded one), which a client chooses; a path-only ``Location`` names no host."""
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/")  # "//evil.example" would be read as a host again
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def _is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def register_cors(app, origins):
    """CORS for ``/api/`` from the allow-listed origins only: each echoed back, never ``*``, no credentials.

    A preflight from any other origin is refused with 403; other requests from it get no CORS
    headers, so the browser keeps the response from the page.
    """
    allowed = frozenset(origins)

    @app.before_request
    def cors_preflight():
        if not (request.path.startswith(CORS_PREFIX) and _is_preflight()):
            return None
        if request.headers.get("Origin") not in allowed:
            raise Forbidden(
                "this origin may not call the relay from a browser: the operator can add it to CINTEL_CORS_ORIGINS.",
                code="origin_not_allowed",
            )
        return Response(status=204)

    @app.after_request
    def cors_response_headers(response):
        if not request.path.startswith(CORS_PREFIX):
            return response
        response.vary.add("Origin")
        response.headers.extend(cors_headers(request.headers.get("Origin"), allowed, _is_preflight(), vary=False))
        return response


def cors_headers(origin, allowed, preflight: bool, vary: bool = True) -> list:
    """The CORS headers of a response under ``/api/`` to ``origin``: none for an origin not ``allowed``."""
    headers = [("Vary", "Origin")] if vary else []
    if origin in allowed:
        headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", "Retry-After")]
        if preflight:
            headers += CORS_PREFLIGHT.items()
    return headers


def check_json_depth(value, limit: int = MAX_JSON_DEPTH):
    """Refuse JSON nested deeper than ``limit`` with :class:`BadRequest` (iteratively: no recursion here).

    Level by level, visiting only containers: a webhook's scalars, most of its values, are never looked at alone."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 1
    while level:
        if depth > limit:
            raise BadRequest(
                f"the JSON body is nested deeper than {limit} levels: send a flatter document.", code="too_deep"
            )
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        depth += 1


def has_lone_surrogate(value) -> bool:
    """True when a string in ``value`` holds a lone surrogate (``"\\ud800"`` escaped in JSON): not Unicode text,
    so it can be neither stored nor sent on."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _loads(raw: bytes, lone_surrogates: bool):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not (lone_surrogates and "surrogate" in exc.msg):
            raise BadRequest(f"the body is not valid JSON: {exc.msg}.") from exc
    try:
        # The standard library keeps an escaped lone surrogate in its string; the caller drops what holds one.
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("the body is not valid JSON.") from exc


def json_body(what: str, lone_surrogates: bool = False, req=None):
    """The request's JSON body: 415 unless ``application/json``, 400 unless valid and at most MAX_JSON_DEPTH deep.

    :param what: how to name the expected body in the 415 message.
    :param lone_surrogates: load strings with escaped lone surrogates (else 400) for a caller that drops the
        parts holding them (see :func:`has_lone_surrogate`).
    :param req: the request (a werkzeug request, for the lean routes); Flask's current request by default.
    """
    req = request if req is None else req
    if req.mimetype != "application/json":
        raise UnsupportedMediaType(f"send {what} as application/json.")
    body = _loads(req.get_data(cache=True), lone_surrogates)
    check_json_depth(body)
    return body
