"""Request bodies against slow or oversized senders: the whole body within a deadline, a bound on bodies read at once.

A client may send its headers and then drip the body one byte at a time; without a deadline it holds
its connection for good, and enough of them take every connection of a worker (``/healthz``
included). :class:`BodyGate` wraps the WSGI app: it reads every request body itself, whole, within
``CINTEL_BODY_TIMEOUT`` (a drip does not extend it), at most ``Config.body_readers`` at once (half the
worker's connections, so body readers alone never take every connection), and hands the app the body
from memory.

Each route declares what it takes (:func:`takes_body`); a route that declares nothing takes no body.
Before reading a byte the gate asks the route's limit: a declared ``Content-Length`` past it is 413 at
once, and a body sent to a route that takes none is not read at all (the app sees an empty body).
Chunked bodies are read up to the limit and refused with 413 once past it, and in at most
:data:`MAX_CHUNKS` chunks, so de-chunking costs a bounded amount of work however small the chunks.
A refused body is left unread, so its connection is closed after the answer.
"""

import io
import logging

import gevent.lock
import orjson
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..errors import BadRequest, BodyTimeout, BodyTooLarge, RelayError, Unavailable
from .timers import Deadline, Expired

logger = logging.getLogger(__name__)

#: How much of a body is read per call: a webhook body arrives in a few of these.
READ_SIZE = 64 * 1024
#: Chunks a chunked body may come in: parsing one costs microseconds of Python, so 500k one-byte chunks
#: would cost a second of a worker's CPU before anyone is authenticated. Real clients send few, large ones.
MAX_CHUNKS = 1024
#: The attribute :func:`takes_body` sets on a view.
_LIMIT_ATTRIBUTE = "body_limit"
#: A view's declared limit that means ``CINTEL_MAX_BODY_BYTES``.
MAX_BODY = -1


def takes_body(limit: int = MAX_BODY):
    """Declare that a view takes a request body of at most ``limit`` bytes (default ``CINTEL_MAX_BODY_BYTES``).

    Views that do not declare one take none: the gate never reads a body for them.
    """

    def mark(view):
        setattr(view, _LIMIT_ATTRIBUTE, limit)
        return view

    return mark


def route_limits(app, max_body: int, known=None):
    """``environ -> body limit`` for a Flask app: the matched view's :func:`takes_body` limit, else 0. ``known``
    maps (method, path) to a limit, looked up first: the lean routes' (no URL matching per webhook)."""
    known = known or {}

    def limit_of(environ) -> int:
        limit = known.get((environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))
        if limit is not None:
            return max_body if limit == MAX_BODY else limit
        try:
            endpoint, _ = app.url_map.bind_to_environ(environ).match(method=environ.get("REQUEST_METHOD"))
        except (HTTPException, ValueError):  # no such route or method, or a redirect: nothing to read for any of them
            return 0
        limit = getattr(app.view_functions.get(endpoint), _LIMIT_ATTRIBUTE, 0)
        return max_body if limit == MAX_BODY else limit

    return limit_of


def _pieces(stream):
    """The pieces of a chunked body as gunicorn parses them, at most :data:`MAX_CHUNKS` of them.

    gunicorn's reader loops over chunks until it has ``size`` bytes, so a read of 64 KiB of one-byte
    chunks parses 64k chunks: the pieces are taken from its parser one at a time instead, so they can
    be counted. Any other server's input is read in :data:`READ_SIZE` blocks.
    """
    parser = getattr(getattr(stream, "reader", None), "parser", None)
    if parser is None:
        yield from iter(lambda: stream.read(READ_SIZE), b"")
        return
    for count, piece in enumerate(parser, 1):
        if count > MAX_CHUNKS:
            raise BodyTooLarge(
                f"the chunked body comes in more than {MAX_CHUNKS} chunks: send it with a Content-Length, or in "
                "fewer, larger chunks.",
                code="too_many_chunks",
            )
        yield piece


def _declared_length(environ):
    """``Content-Length`` as a number; None when absent, :class:`BadRequest` when not a number."""
    raw = environ.get("CONTENT_LENGTH")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest("Content-Length is not a number.", code="bad_content_length")
    return int(raw)


def _read(stream, length, limit: int, configurable: bool) -> bytes:
    """The body: ``length`` bytes, or (chunked, ``length`` None) everything up to ``limit`` (``configurable``:
    it is ``CINTEL_MAX_BODY_BYTES``, which a 413 then names)."""
    parts, total = [], 0
    pieces = _pieces(stream) if length is None else iter(lambda: stream.read(min(READ_SIZE, length - total)), b"")
    for chunk in pieces:
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge.past(limit, configurable)
        parts.append(chunk)
        if length is not None and total >= length:
            break
    if length is not None and total < length:
        raise BadRequest("the body ended before its Content-Length.", code="incomplete_body")
    return b"".join(parts)


def _without_body(environ):
    """``environ`` with an empty body: for a route that takes none, whatever was sent."""
    environ["wsgi.input"] = io.BytesIO()
    environ["CONTENT_LENGTH"] = "0"
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return environ


def _close_connection(start_response):
    """A ``start_response`` that also closes the connection after the answer: the rest of the body is unread.

    gunicorn ignores a ``Connection`` header from the app; its ``start_response`` is a method of its
    response, which can be told to close.
    """

    def closing(status, headers, exc_info=None):
        force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
        if force_close is not None:
            force_close()
        return start_response(status, headers, exc_info)

    return closing


#: The body a request came with, read whole by :class:`BodyGate` (also readable from ``wsgi.input``).
BODY = "cintel.body"


class BodyGate:
    """WSGI middleware reading each request body whole, within a deadline, with a bound on concurrent reads."""

    def __init__(self, app, limit_of, timeout: float, readers: int, max_body: int = 0):
        """:param limit_of: ``environ -> int``, the body limit of the route a request is for (0: it takes none).
        :param max_body: ``CINTEL_MAX_BODY_BYTES``: a 413 past it names the setting that raises it."""
        self._app = app
        self._limit_of = limit_of
        self._max_body = max_body
        self._timeout = timeout
        # Never waited on (a read past the bound is refused): gevent's semaphore, in C, not threading's, which is
        # Python built on a condition even where gevent has patched its lock.
        self._readers = gevent.lock.BoundedSemaphore(readers)

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = _declared_length(environ)
            if not chunked and not length:
                return self._app(environ, start_response)
            limit = self._limit_of(environ)
            if not limit:
                # The route takes no body: answer without reading it (the connection closes after).
                return self._app(_without_body(environ), _close_connection(start_response))
            if not chunked and length > limit:
                raise BodyTooLarge.past(limit, limit == self._max_body)
            body = self._receive(environ["wsgi.input"], None if chunked else length, limit)
        except RelayError as exc:
            return self._refuse(exc, environ, _close_connection(start_response))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ[BODY] = body
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self._app(environ, start_response)

    def _receive(self, stream, length, limit: int) -> bytes:
        if not self._readers.acquire(blocking=False):
            logger.warning("too many request bodies arriving at once; refused one")
            raise Unavailable(
                "the relay is receiving too many request bodies at once: retry shortly.",
                code="busy",
                headers={"Retry-After": "1"},
            )
        deadline = Deadline(self._timeout)
        try:
            with deadline:
                return _read(stream, length, limit, limit == self._max_body)
        except Expired as exc:
            if not deadline.expired:
                raise
            logger.warning("request body too slow; refused", extra={"timeout": self._timeout})
            raise BodyTimeout(f"the request body did not arrive within {self._timeout:g}s: send it at once.") from exc
        finally:
            self._readers.release()

    @staticmethod
    def _refuse(exc: RelayError, environ, start_response):
        headers = {"X-Content-Type-Options": "nosniff", **exc.headers}
        if exc.status == 503:
            headers.setdefault("Retry-After", "5")
        response = Response(orjson.dumps(exc.body()), status=exc.status, mimetype="application/json", headers=headers)
        return response(environ, start_response)
