"""The gunicorn worker: gevent, plus a graceful exit that sends streams to another replica, and connections
that cannot be held by sending nothing.

A connection waiting for a request head (a new one, or a keep-alive one between requests) costs a
stranger nothing to hold, and ``worker_connections`` of them would keep every request out of the
worker. So a new connection has :data:`HEAD_SECONDS` to send its first head (later ones wait up to
gunicorn's ``keepalive``), and at most a quarter of the worker's connections may wait for a head at
once: past that the longest-waiting one is closed, which HTTP allows for an idle connection. With
body readers capped at half (see bodies.py), a quarter is always left for streams and ``/healthz``.
"""

import socket

import gevent
from gunicorn.workers.ggevent import GeventWorker

#: Seconds a new connection has to send its first request head.
HEAD_SECONDS = 10


class RelayWorker(GeventWorker):
    """On SIGTERM, end every stream at once (clients reconnect elsewhere with Last-Event-ID) and close
    idle keep-alive connections, so the worker exits in seconds instead of waiting out the graceful
    timeout: a load balancer (nginx, Heroku's router) keeps idle connections to every replica open.
    """

    def init_process(self):
        self._idle = {}  # connections waiting for a request head, longest-waiting first
        super().init_process()

    def handle(self, listener, client, addr):
        gevent.getcurrent().relay_served = False  # read by timeout_ctx, in this connection's greenlet
        self._wait_for_head(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._idle.pop(client, None)

    def handle_request(self, listener_name, req, sock, addr):
        self._idle.pop(sock, None)
        gevent.getcurrent().relay_served = True
        super().handle_request(listener_name, req, sock, addr)
        if not self.alive:
            raise StopIteration()  # answered; now close instead of waiting for another request
        self._wait_for_head(sock)

    def _wait_for_head(self, sock):
        """Count ``sock`` as waiting for a head; close the longest-waiting ones past a quarter of the connections."""
        self._idle[sock] = None
        while len(self._idle) > max(1, self.worker_connections // 4):
            oldest = next(iter(self._idle))
            del self._idle[oldest]
            try:
                oldest.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it already

    def timeout_ctx(self):
        """How long gunicorn waits for a request head: :data:`HEAD_SECONDS` for a connection's first."""
        served = getattr(gevent.getcurrent(), "relay_served", True)
        return gevent.Timeout(self.cfg.keepalive if served else HEAD_SECONDS, False)

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        gevent.spawn(self._drain)

    def _drain(self):
        relay = getattr(self.wsgi, "extensions", {}).get("cintel")
        if relay is not None:
            relay.shutdown()
        for sock in list(self._idle):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it already
