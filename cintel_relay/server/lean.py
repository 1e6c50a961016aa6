"""The hot routes served without Flask's per-request machinery: a small WSGI dispatcher in front of the app.

A stream open and a webhook are the relay's hot paths: thousands of them in a reconnect storm, hundreds a
second from Twilio. Flask's request context, werkzeug's request object and URL matching, and the hooks
run for every response cost about as much CPU as the relay's own work, and an idle stream keeps ~6 KiB
of it for its whole life. :class:`Dispatcher` hands the few hot routes to plain WSGI handlers and everything
else to Flask. The handlers share everything else with the app (access, signature, schemas, normalize, the
bus), and this module gives them what the app's hooks give every Flask response, from the same homes: the
request id (:mod:`cintel_relay.logs`), the security and CORS headers (:mod:`cintel_relay.security`), the JSON
error bodies (:mod:`cintel_relay.errors`) and the per-route metrics (:mod:`cintel_relay.metrics`). Body limits,
deadlines and ``CINTEL_PROXY_COUNT`` apply as before: the dispatcher sits inside the same middleware.
"""

import json
import logging
from typing import Callable, Dict, Iterable, List, Tuple
from urllib.parse import parse_qsl

import orjson
from werkzeug.exceptions import HTTPException

from .. import logs, security
from ..errors import RelayError, error_parts, http_error_parts

logger = logging.getLogger(__name__)

Headers = List[Tuple[str, str]]
#: Where a lean handler's :class:`~cintel_relay.errors.Unavailable` says what it could not reach, for the metrics.
UNAVAILABLE_SOURCE = "cintel.unavailable_source"
#: Where the relay's gunicorn worker leaves a request's response (:class:`cintel_relay.server.worker.HeadWithBody`) for a
#: stream that writes its live frames itself once its head is out (see :mod:`cintel_relay.streams.session`).
RESPONSE = "cintel.response"
#: A lean handler: ``(environ, start_response, rest of the path) -> body``.
Handler = Callable[[dict, Callable, str], Iterable[bytes]]

_REASONS = {
    200: "OK",
    400: "BAD REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT FOUND",
    408: "REQUEST TIMEOUT",
    413: "REQUEST ENTITY TOO LARGE",
    415: "UNSUPPORTED MEDIA TYPE",
    422: "UNPROCESSABLE ENTITY",
    429: "TOO MANY REQUESTS",
    500: "INTERNAL SERVER ERROR",
    503: "SERVICE UNAVAILABLE",
}


def status_line(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'UNKNOWN')}"


def flask_json(body) -> bytes:
    """``body`` encoded as Flask's ``jsonify`` encodes the app's error answers (sorted keys, ASCII, a newline), so a
    client sees the same bytes from either path."""
    return (json.dumps(body, ensure_ascii=True, sort_keys=True, separators=(",", ":")) + "\n").encode()


def query(environ) -> Dict[str, str]:
    """The query string's parameters, the first value of each (as Flask's ``request.args.get``)."""
    args: Dict[str, str] = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        args.setdefault(name, value)
    return args


class Lean:
    """What the app's hooks do for every response, for the lean handlers; one per app."""

    def __init__(self, cors_origins, metrics):
        self._cors = frozenset(cors_origins)
        self.metrics = metrics
        # The security headers a response adds, by the names of its own headers (a handful of shapes, each worked
        # out once rather than on every answer).
        self._security: Dict[Tuple[str, ...], List[Tuple[str, str]]] = {}

    def start(self, environ, start_response, route: str, code: int, own: Iterable[Tuple[str, str]]):
        """Start the response: ``own`` headers plus the request id, the security headers and, under ``/api/``,
        CORS; counted in the route's metrics, and ``app_ms`` recorded for the access log."""
        headers = list(own)
        logs.end(environ, headers)
        names = tuple(name.lower() for name, _ in headers)
        extra = self._security.get(names)
        if extra is None:
            extra = self._security[names] = [
                (k, v) for k, v in security.SECURITY_HEADERS.items() if k.lower() not in set(names)
            ]
        headers += extra
        if environ.get("PATH_INFO", "").startswith(security.CORS_PREFIX):
            headers += security.cors_headers(environ.get("HTTP_ORIGIN"), self._cors, preflight=False)
        self.metrics.answered(route, code, environ.get(UNAVAILABLE_SOURCE))
        start_response(status_line(code), headers)

    def answer(self, environ, start_response, route: str, code: int, body, own=(), raw=None) -> List[bytes]:
        """A whole JSON response (``body`` is JSON-encoded here, unless given encoded as ``raw``)."""
        raw = orjson.dumps(body) if raw is None else raw
        self.start(
            environ,
            start_response,
            route,
            code,
            [("Content-Type", "application/json"), ("Content-Length", str(len(raw))), *own],
        )
        return [raw]

    def error(self, exc: RelayError, environ, start_response, route: str) -> List[bytes]:
        """The JSON answer to a :class:`RelayError`, as the app's error handler gives it."""
        code, headers, body, source = error_parts(exc)
        if source is not None:
            environ[UNAVAILABLE_SOURCE] = source
        return self.answer(environ, start_response, route, code, body, headers.items(), raw=flask_json(body))

    def http_error(self, exc: HTTPException, environ, start_response, route: str) -> List[bytes]:
        """The JSON answer to a werkzeug HTTP error, as the app's error handler gives it."""
        code, body = http_error_parts(exc)
        return self.answer(environ, start_response, route, code, body, raw=flask_json(body))

    def unexpected(self, exc: Exception, environ, start_response, route: str) -> List[bytes]:
        """A 500 with a JSON body, the error logged with the request's fields: never a traceback to the client."""
        logger.exception(
            "unhandled error", extra={"error_type": type(exc).__name__, **environ.get(logs.ENVIRON_KEY, {})}
        )
        body = {"error": "internal error; the relay logged it", "code": "internal_error"}
        return self.answer(environ, start_response, route, 500, body, raw=flask_json(body))


class Dispatcher:
    """WSGI: a request for a lean route goes to its handler, the rest to ``app``. A route is (method, path): an
    exact path, or one ending in ``/`` that takes one more non-empty segment, handed to the handler."""

    def __init__(self, app, routes: Dict[Tuple[str, str], Handler]):
        self._app = app
        self._exact = {key: h for key, h in routes.items() if not key[1].endswith("/")}
        self._prefixed = {key: h for key, h in routes.items() if key[1].endswith("/")}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler(environ, start_response, "")
        head, slash, rest = path.rpartition("/")
        if rest:
            handler = self._prefixed.get((method, head + slash))
            if handler is not None:
                return handler(environ, start_response, rest)
        return self._app(environ, start_response)
