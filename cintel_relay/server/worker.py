"""The gunicorn worker: gevent, plus a graceful exit that sends streams to another replica."""

import socket

import gevent
from gunicorn.workers.ggevent import GeventWorker


class RelayWorker(GeventWorker):
    """On SIGTERM, end every stream at once (clients reconnect elsewhere with Last-Event-ID) and close
    idle keep-alive connections, so the worker exits in seconds instead of waiting out the graceful
    timeout: a load balancer (nginx, Heroku's router) keeps idle connections to every replica open.
    """

    def init_process(self):
        self._idle = set()  # connections waiting for their next request
        super().init_process()

    def handle(self, listener, client, addr):
        self._idle.add(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._idle.discard(client)

    def handle_request(self, listener_name, req, sock, addr):
        self._idle.discard(sock)
        super().handle_request(listener_name, req, sock, addr)
        if not self.alive:
            raise StopIteration()  # answered; now close instead of waiting for another request
        self._idle.add(sock)

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
