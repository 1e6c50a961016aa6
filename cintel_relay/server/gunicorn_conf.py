"""gunicorn settings, from the platform's environment (Heroku-style ``PORT``, ``WEB_CONCURRENCY``)."""

import os
import shutil
import sys
import tempfile

import gunicorn.http.wsgi

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError
from cintel_relay.logs import setup_logging

# gunicorn has no setting for its Server header and names itself in it; say nothing about the software.
gunicorn.http.wsgi.SERVER = "relay"

# The settings are validated here, once, in the master: a bad value ends start-up with one message
# naming the variable and the fix, before any worker boots (and without a traceback).
try:
    _config = load_config()
except ConfigError as exc:
    sys.exit(f"cintel-relay: {exc}")

# gevent records, for every greenlet (a connection's, a stream's), who spawned it and that spawner's stack: a
# debugging aid that costs each idle stream memory and each connection time (gevent's docs on the setting).
# The workers inherit it; set the variable to turn it back on.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")

bind = f"{_config.bind_host}:{_config.port}"
workers = _config.web_concurrency
worker_class = "cintel_relay.server.worker.RelayWorker"
# Each open stream is a connection; the platform caps a process at 20,000 file descriptors.
worker_connections = _config.worker_connections
# Heroku sends SIGKILL 30 s after SIGTERM; streams and idle connections end at once on SIGTERM
# (cintel_relay.server.worker), in-flight requests get 20 s.
graceful_timeout = 20
timeout = 30
keepalive = 75
# Request heads parsed by gunicorn's own C parser (gunicorn_h1c, locked beside gunicorn): the pure-Python one
# took a sixth of a replica's CPU under load. "fast" fails start-up if it is missing rather than falling back.
http_parser = "fast"
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
loglevel = _config.log_level.lower()
accesslog = "-"
# The master's records and warnings (gevent's, as a worker patches) as JSON lines too; workers inherit it.
setup_logging(loglevel)

# Metrics of all workers are summed at scrape time (cintel_relay.metrics): the directory must exist
# before any worker imports prometheus_client. A directory made here is this run's own: on_exit removes it.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cintel-metrics-")


def on_starting(server):
    """Start the metrics of this run from zero, even in a reused directory (a restarted container)."""
    from cintel_relay.metrics import reset_multiprocess_dir

    reset_multiprocess_dir()


def on_exit(server):
    """Remove the metrics directory this run made (one given in PROMETHEUS_MULTIPROC_DIR stays)."""
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


def child_exit(server, worker):
    """A dead worker's streams are no longer live."""
    from cintel_relay.metrics import worker_exited

    worker_exited(worker.pid)


def post_worker_init(worker):
    """Refuse to serve streams from a worker whose sockets gevent has not patched."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        raise RuntimeError("sockets are not gevent-patched: run gunicorn with the cintel_relay RelayWorker.")
