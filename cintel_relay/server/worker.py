"""The gunicorn worker: gevent, plus a graceful exit that sends streams to another replica, and connections
that cannot be held by sending nothing.

A connection waiting for a request head (a new one, or a keep-alive one between requests) costs a
stranger nothing to hold, and ``worker_connections`` of them would keep every request out of the
worker. So a new connection has :data:`HEAD_SECONDS` to send its first head (later ones wait up to
gunicorn's ``keepalive``), and once fewer than a quarter of the worker's connections are free, at most a
quarter may wait for a head: past that the longest-waiting one is closed, which HTTP allows for an idle
connection. With body readers capped at half (see bodies.py), a quarter is always left for streams and
``/healthz``. While connections are plentiful none is closed for waiting: in a reconnect storm thousands of
healthy clients are accepted at once, and their heads are on their way.
"""

import atexit
import gc
import socket
import time
from typing import Any, Optional, Set, Tuple

import gevent
from gunicorn import util
from gunicorn.http import message, parser, wsgi
from gunicorn.workers.ggevent import GeventWorker

from ..extension import KEY
from ..logs import REQUEST_ID_HEADER
from .lean import RESPONSE
from .timers import Deadline

#: Seconds a new connection has to send its first request head.
HEAD_SECONDS = 10
#: The cyclic garbage collector's thresholds in a worker, where Python's are (700, 10, 10): young objects are collected
#: as often as Python collects them, the whole heap a tenth as often. A worker's heap is mostly its streams, tens of
#: objects each that live for minutes, and at Python's rate a reconnect storm spent a sixth of the replica's CPU
#: traversing them again and again as they were being made (py-spy --native); 3.5% with these and the freeze.
GC_THRESHOLDS = (700, 10, 100)


_NO_HEADERS: tuple = ()
_format_http_date = util.http_date
_date = (0, "")


def _http_date(timestamp=None) -> str:
    """gunicorn's ``http_date``, the current one kept for its second (an HTTP date has no finer unit)."""
    global _date
    if timestamp is not None:
        return _format_http_date(timestamp)
    now = int(time.time())
    if _date[0] != now:
        _date = (now, _format_http_date(now))
    return _date[1]


def send_all(sock, data: bytes):
    """``sock.sendall(data)``, in one ``send`` when the kernel takes it all (as it does a webhook's answer or a stream's
    frames): gevent's ``sendall`` first asks the kernel for the socket's buffer size, a syscall on every write. What
    one ``send`` leaves (a slow reader's full buffer) goes through ``sendall``, which waits as it always did."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


#: Response header pairs gunicorn's checks have passed that it keeps as they are (no length, not hop-by-hop): the same
#: few constant pairs head every answer (content types, the security headers), and each check is two regular
#: expressions and a handful of string operations. Headers whose values differ answer to answer are not kept here.
_CHECKED: Set[Tuple[str, str]] = set()
_CHECKED_MAX = 256
_VARYING = frozenset(
    {
        "content-length",
        "date",
        "etag",
        "last-modified",
        "location",
        "retry-after",
        "set-cookie",
        REQUEST_ID_HEADER.lower(),
    }
)


class HeadWithBody(wsgi.Response):
    """gunicorn's response, sending its head with the first body bytes: one ``send`` for a webhook's answer
    instead of two, and a stream's head leaves with its first frame. Lengths and bodiless answers are gunicorn's
    (its ``write``), and so is the framing (its ``util.write``, with :func:`send_all`); only the moment the head
    goes out changes."""

    headers_sent: bool
    _head: Optional[bytes] = None

    def write(self, arg):
        if not self.headers_sent and arg and isinstance(arg, bytes) and not self._omits_body:
            tosend = self.default_headers()
            tosend.extend("%s: %s\r\n" % (k, v) for k, v in self.headers)
            self._head = ("%s\r\n" % "".join(tosend)).encode("latin-1")
            self.headers_sent = True
        super().write(arg)

    def process_headers(self, headers):
        check = super().process_headers
        for pair in headers:
            if pair in _CHECKED:
                self.headers.append(pair)
                continue
            kept = len(self.headers)
            check((pair,))
            if (
                len(self.headers) > kept
                and self.headers[-1] == pair
                and len(_CHECKED) < _CHECKED_MAX
                and pair[0].lower() not in _VARYING
            ):
                _CHECKED.add(pair)

    def _emit_body(self, data):
        if isinstance(data, str):  # as gunicorn's own writers take it
            data = data.encode("utf-8")
        framed = self._framed(data)
        head, self._head = self._head, None
        if head is None:
            send_all(self.sock, framed)
        else:
            send_all(self.sock, head + framed)
            # Sent: a stream does not keep its headers, nor the request's, for its life. gunicorn reads only the
            # request's Connection header after this (should_close); the access line reads none.
            self.headers = []
            self.req.headers = [pair for pair in self.req.headers if pair[0] == "CONNECTION"] or _NO_HEADERS

    def _framed(self, data: bytes) -> bytes:
        """Body bytes as they go on the wire: one chunk each when the response is chunked, as gunicorn frames them."""
        return b"".join((b"%X\r\n" % len(data), data, b"\r\n")) if self.chunked else data

    def close(self):
        head, self._head = self._head, None
        if head is not None:  # not reached by gunicorn's write; kept so a head is never lost
            self.sock.sendall(head)
        super().close()

    def open_to_writers(self) -> bool:
        """True when body bytes may be written by :meth:`send_now` (the head is out, on a plain socket)."""
        return self.headers_sent and self._head is None and not self._omits_body and not self.cfg.is_ssl

    def send_now(self, data: bytes) -> bytes:
        """Body bytes sent by whichever greenlet has them, not through the app's iterable: framed as :meth:`write`
        frames them and offered to the kernel once, without waiting (a stream's frames, written by the hub's listener
        while the stream waits). Returns what the kernel did not take, framed, for :meth:`send_rest`; raises the
        socket's error when the client is gone. Only once :meth:`open_to_writers`, and never while :meth:`write`
        is sending."""
        self.sent += len(data)
        framed = self._framed(data)
        try:
            taken = self.sock._sock.send(framed)
        except BlockingIOError:
            taken = 0
        return framed[taken:]

    def send_rest(self, rest: bytes):
        """What :meth:`send_now` left, sent as any write is: waiting, within the socket's timeout."""
        self.sock.sendall(rest)


def _keeping_response(create):
    """gunicorn's ``wsgi.create``, leaving our HTTP/1 response in the environ (:data:`~cintel_relay.server.lean.
    RESPONSE`) for a stream that writes its frames itself. HTTP/2's response frames its own way: not left."""

    def create_keeping_response(*args, **kwargs):
        resp, environ = create(*args, **kwargs)
        if type(resp) is HeadWithBody:
            environ[RESPONSE] = resp
        return resp, environ

    return create_keeping_response


class TrustNoForwarder(message.Request):
    """gunicorn's request, which works out for every request whether its peer may set forwarded headers by parsing
    the peer's address against ``forwarded_allow_ips``. gunicorn_conf trusts nobody (the app applies
    ``CINTEL_PROXY_COUNT`` hops itself), and with that list empty the answer is always none: given at once."""

    def _peer_trusted_for_forwarded(self):
        if not self.cfg.forwarded_allow_ips:
            return {}, []
        return super()._peer_trusted_for_forwarded()


class SharedErrors(wsgi.WSGIErrorsWrapper):
    """gunicorn's ``wsgi.errors`` stream, which it builds for every request by looking the error log's handlers up
    again; made once per worker instead (it holds nothing of a request's). A request closing it closes nothing."""

    def close(self):
        pass


class FrozenSettings:
    """gunicorn's settings for this worker as plain attributes.

    gunicorn's ``Config`` answers every ``cfg.name`` through its ``__getattr__`` and the setting's ``get()``, two Python
    calls, and a request's parse, environ and response read some twenty-five of them (``sendfile``, a property, looks
    in ``os.environ`` every time). A worker's settings do not change while it lives (a reload starts new workers), so
    they are read once, as it starts. The ``Config``'s properties but the two a request reads (``is_ssl``,
    ``sendfile``), and anything else (its methods, ``settings``), are asked of the ``Config`` itself."""

    def __init__(self, cfg):
        computed = {name for name, value in vars(type(cfg)).items() if isinstance(value, property)}
        self.__dict__.update((name, s.get()) for name, s in cfg.settings.items() if name not in computed)
        self.__dict__.update(is_ssl=cfg.is_ssl, sendfile=cfg.sendfile, _config=cfg)

    def __getattr__(self, name):
        return getattr(self._config, name)


class RelayWorker(GeventWorker):
    """On SIGTERM, end every stream at once (clients reconnect elsewhere with Last-Event-ID) and close
    idle keep-alive connections, so the worker exits in seconds instead of waiting out the graceful
    timeout: a load balancer (nginx, Heroku's router) keeps idle connections to every replica open.
    """

    #: gunicorn's Config, then (from init_process on) its :class:`FrozenSettings`.
    cfg: Any

    def init_process(self):
        self._idle = {}  # connections waiting for a request head, longest-waiting first
        self._connections = 0  # connections being served (gunicorn's pool holds at most worker_connections)
        self.cfg = FrozenSettings(self.cfg)
        # gunicorn's HTTP/1 path builds its responses, its requests and each request's wsgi.errors from these names
        # (HTTP/2 passes classes of its own); why each is replaced is on its class.
        wsgi.Response = HeadWithBody
        wsgi.create = _keeping_response(wsgi.create)
        parser.RequestParser.mesg_class = TrustNoForwarder
        errors = SharedErrors(self.cfg)
        wsgi.WSGIErrorsWrapper = lambda cfg: errors
        # Every answer's Date header, formatted once a second instead of once a response.
        util.http_date = _http_date
        super().init_process()

    def load_wsgi(self):
        """The app, then the collector set for a server's heap: what start-up made (modules, the app, its
        settings and scripts) lives as long as the worker, so it is frozen out of every later collection. It is
        thawed as the worker exits, before Python takes its modules apart: frozen, it would be finalized after them
        (logging's handler references would call into a torn-down gevent, and print that to stderr)."""
        super().load_wsgi()
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)
        gc.set_threshold(*GC_THRESHOLDS)

    def handle(self, listener, client, addr):
        gevent.getcurrent().relay_served = False  # read by timeout_ctx, in this connection's greenlet
        self._connections += 1
        try:
            self._wait_for_head(client)
            super().handle(listener, client, addr)
        finally:
            self._connections -= 1
            self._idle.pop(client, None)

    def handle_request(self, listener_name, req, sock, addr):
        self._idle.pop(sock, None)
        gevent.getcurrent().relay_served = True
        super().handle_request(listener_name, req, sock, addr)
        if not self.alive:
            raise StopIteration()  # answered; now close instead of waiting for another request
        self._wait_for_head(sock)

    def _wait_for_head(self, sock):
        """Count ``sock`` as waiting for a head; while fewer than a quarter of the connections are free, close the
        longest-waiting ones past a quarter."""
        self._idle[sock] = None
        quarter = max(1, self.worker_connections // 4)
        if self.worker_connections - self._connections >= quarter:
            return
        while len(self._idle) > quarter:
            oldest = next(iter(self._idle))
            del self._idle[oldest]
            try:
                oldest.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it already

    def timeout_ctx(self):
        """How long gunicorn waits for a request head: :data:`HEAD_SECONDS` for a connection's first. Past it the wait
        ends quietly and gunicorn closes the connection (as with its own ``gevent.Timeout(seconds, False)``)."""
        served = getattr(gevent.getcurrent(), "relay_served", True)
        return Deadline(self.cfg.keepalive if served else HEAD_SECONDS, quiet=True)

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        gevent.spawn(self._drain)

    def _drain(self):
        relay = getattr(self.wsgi, "extensions", {}).get(KEY)
        if relay is not None:
            relay.shutdown()
        for sock in list(self._idle):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it already
