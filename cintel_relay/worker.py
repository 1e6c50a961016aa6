"""The gunicorn worker: gevent, plus a graceful exit that sends streams to another replica."""

import gevent
from gunicorn.workers.ggevent import GeventWorker


class RelayWorker(GeventWorker):
    """On SIGTERM, end every stream at once (clients reconnect elsewhere with Last-Event-ID), so the
    worker exits in seconds instead of waiting out the graceful timeout on open streams."""

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        relay = getattr(self.wsgi, "extensions", {}).get("cintel")
        if relay is not None:
            gevent.spawn(relay.hub.shutdown)

    def handle_request(self, listener_name, req, sock, addr):
        result = super().handle_request(listener_name, req, sock, addr)
        if not self.alive:
            raise StopIteration()  # close a kept-alive connection rather than wait on it while exiting
        return result
