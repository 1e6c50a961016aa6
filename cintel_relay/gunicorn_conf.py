"""gunicorn settings, from the platform's environment (Heroku-style ``PORT``, ``WEB_CONCURRENCY``)."""

import os
import tempfile

from cintel_relay.config import Config
from cintel_relay.logs import setup_logging

import gunicorn.http.wsgi

# gunicorn has no setting for its Server header and names itself in it; say nothing about the software.
gunicorn.http.wsgi.SERVER = "relay"

bind = f"{os.environ.get('CINTEL_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "cintel_relay.worker.RelayWorker"
# Each open stream is a connection; the platform caps a process at 20,000 file descriptors.
# The app reads at most half of them as request bodies at once (Config.body_readers).
worker_connections = int(os.environ.get("CINTEL_WORKER_CONNECTIONS", "") or Config.worker_connections)
# Heroku sends SIGKILL 30 s after SIGTERM; streams and idle connections end at once on SIGTERM
# (cintel_relay.worker), in-flight requests get 20 s.
graceful_timeout = 20
timeout = 30
keepalive = 75
preload_app = False  # each worker builds its own app after gevent has patched the sockets
# gunicorn's control socket would sit at one path in $HOME for every replica on the host; nothing uses it.
control_socket_disable = True
# gunicorn believes no forwarded header (X-Forwarded-Proto, X-Forwarded-Ssl...) from anyone: the app
# applies exactly CINTEL_PROXY_COUNT hops of them (werkzeug's ProxyFix), so the URL a webhook signature
# is checked against cannot be steered past what the operator trusts.
forwarded_allow_ips = ""
# Access and error logs as JSON lines (cintel_relay.logs); the access log never shows the query string,
# because stream URLs carry tickets.
logger_class = "cintel_relay.logs.GunicornLogger"
loglevel = os.environ.get("CINTEL_LOG_LEVEL", "info").strip().lower()
if loglevel not in ("debug", "info", "warning", "error"):
    loglevel = "info"  # the app itself refuses the value at start-up, naming the fix
accesslog = "-"
# The master's records and warnings (gevent's, as a worker patches) as JSON lines too; workers inherit it.
setup_logging(loglevel)

# Metrics of all workers are summed at scrape time (cintel_relay.metrics): the directory must exist
# before any worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cintel-metrics-")


def on_starting(server):
    """Start the metrics of this run from zero, even in a reused directory (a restarted container)."""
    from cintel_relay.metrics import reset_multiprocess_dir

    reset_multiprocess_dir()


def child_exit(server, worker):
    """A dead worker's streams are no longer live."""
    from cintel_relay.metrics import worker_exited

    worker_exited(worker.pid)


def post_worker_init(worker):
    """Refuse to serve streams from a worker whose sockets gevent has not patched."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise RuntimeError("sockets are not gevent-patched: run gunicorn with the cintel_relay RelayWorker.")
