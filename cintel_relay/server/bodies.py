"""Request bodies against slow or oversized senders: the whole body within a deadline, a bound on bodies read at once.

A client may send its headers and then drip the body one byte at a time; without a deadline it holds
its connection for good, and enough of them take every connection of a worker (``/healthz``
included). :class:`BodyGate` wraps the WSGI app: it reads every request body itself, whole, within
``CINTEL_BODY_TIMEOUT`` (a drip does not extend it), at most ``Config.body_readers`` at once (half the
worker's connections, so streams and health checks always find one), and hands the app the body
from memory. Chunked bodies are read up to the body limit and refused with 413 once past it.
A refused body is left unread, so its connection is closed after the answer.
"""

import io
import logging
import threading

import gevent
import orjson
from werkzeug.wrappers import Response

from ..errors import BadRequest, BodyTimeout, BodyTooLarge, RelayError, Unavailable

logger = logging.getLogger(__name__)

#: How much of a body is read per call: a webhook body arrives in a few of these.
READ_SIZE = 64 * 1024


def _declared_length(environ):
    """``Content-Length`` as a number; None when absent, :class:`BadRequest` when not a number."""
    raw = environ.get("CONTENT_LENGTH")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest("Content-Length is not a number.", code="bad_content_length")
    return int(raw)


def _read(stream, length, limit: int) -> bytes:
    """The body: ``length`` bytes, or (chunked, ``length`` None) everything up to ``limit``."""
    parts, total = [], 0
    while length is None or total < length:
        chunk = stream.read(READ_SIZE if length is None else min(READ_SIZE, length - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes: send at most that much.")
        parts.append(chunk)
    if length is not None and total < length:
        raise BadRequest("the body ended before its Content-Length.", code="incomplete_body")
    return b"".join(parts)


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


class BodyGate:
    """WSGI middleware reading each request body whole, within a deadline, with a bound on concurrent reads."""

    def __init__(self, app, limit: int, timeout: float, readers: int):
        self._app = app
        self._limit = limit
        self._timeout = timeout
        # Under gunicorn's gevent worker threading is patched: this is a gevent semaphore, one per app.
        self._readers = threading.BoundedSemaphore(readers)

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = _declared_length(environ)
            if not chunked and (not length or length > self._limit):
                # No body, or one the app refuses with 413 without reading it.
                return self._app(environ, start_response if not length else _close_connection(start_response))
            body = self._receive(environ["wsgi.input"], None if chunked else length)
        except RelayError as exc:
            return self._refuse(exc, environ, _close_connection(start_response))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self._app(environ, start_response)

    def _receive(self, stream, length) -> bytes:
        if not self._readers.acquire(blocking=False):
            logger.warning("too many request bodies arriving at once; refused one")
            raise Unavailable(
                "the relay is receiving too many request bodies at once: retry shortly.",
                code="busy",
                headers={"Retry-After": "1"},
            )
        timer = gevent.Timeout(self._timeout)
        timer.start()
        try:
            return _read(stream, length, self._limit)
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            logger.warning("request body too slow; refused", extra={"timeout": self._timeout})
            raise BodyTimeout(f"the request body did not arrive within {self._timeout:g}s: send it at once.") from exc
        finally:
            timer.close()
            self._readers.release()

    @staticmethod
    def _refuse(exc: RelayError, environ, start_response):
        headers = {"X-Content-Type-Options": "nosniff", **exc.headers}
        if exc.status == 503:
            headers.setdefault("Retry-After", "5")
        response = Response(orjson.dumps(exc.body()), status=exc.status, mimetype="application/json", headers=headers)
        return response(environ, start_response)
