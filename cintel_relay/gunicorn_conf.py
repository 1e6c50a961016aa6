"""gunicorn settings, from the platform's environment (Heroku-style ``PORT``, ``WEB_CONCURRENCY``)."""

import os

import gunicorn.http.wsgi

# gunicorn has no setting for its Server header and names itself in it; say nothing about the software.
gunicorn.http.wsgi.SERVER = "relay"

bind = f"{os.environ.get('CINTEL_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "cintel_relay.worker.RelayWorker"
# Each open stream is a connection; the platform caps a process at 20,000 file descriptors.
worker_connections = int(os.environ.get("CINTEL_WORKER_CONNECTIONS", "19500"))
# Heroku sends SIGKILL 30 s after SIGTERM; streams end at once on SIGTERM, the rest gets 20 s.
graceful_timeout = 20
timeout = 30
keepalive = 75
preload_app = False  # each worker builds its own app after gevent has patched the sockets
# The access log never shows the query string: stream URLs carry tickets.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def post_worker_init(worker):
    """Refuse to serve streams from a worker whose sockets gevent has not patched."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise RuntimeError("sockets are not gevent-patched: run gunicorn with the cintel_relay RelayWorker.")
