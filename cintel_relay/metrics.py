"""Prometheus metrics at ``GET /metrics``, summed over all of a replica's gunicorn workers.

A replica runs ``WEB_CONCURRENCY`` worker processes and a scrape reaches one of them, so per-process
metrics would report a different fraction of the traffic on every scrape and drop to zero whenever a
worker restarts. prometheus-client's multiprocess mode fixes both: each worker writes its values to
files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn_conf.py creates it before any worker starts) and the
scraped worker sums every file. Counters of dead workers keep counting; their live-stream gauge is
dropped (gunicorn's ``child_exit`` hook). Prometheus scrapes each replica, and ``sum()`` adds them up.

Without gunicorn (tests, embedded mode) the app keeps its metrics in its own registry.
The endpoint is off unless ``CINTEL_METRICS_TOKEN`` is set, and then wants it as a bearer token.

prometheus_client picks per-process or multiprocess values once, when it is first imported, and
gunicorn imports this package before its config module sets the directory: so this module imports
prometheus_client only inside its functions, which run in the workers.
"""

import functools
import glob
import hmac
import logging
import os
import re
import time
from typing import List, Optional

from flask import Blueprint, Response, g, jsonify, request

from .errors import TWILIO_SERVICES
from .extension import relay

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: What a webhook's events can become when ingested (:meth:`Metrics.ingested`).
OUTCOMES = ("logged", "held", "duplicate")
#: What a delivery attempt to the customer's systems became; and the kinds of deliveries.
DELIVERY_OUTCOMES = ("delivered", "failed", "gave_up")
DELIVERY_KINDS = ("report", "alert")
#: Every status a webhook answers with (errors.py's types, and 200), so each series exists from start-up.
WEBHOOK_STATUSES = ("200", "400", "403", "413", "415", "422", "503")
# The id of a logged frame is its Redis stream id: the Redis clock, in ms, when the webhook stored it.
_FRAME_ID = re.compile(rb"(?:^|\n)id: (\d+)-\d+\n")

bp = Blueprint("metrics", __name__)


def _multiprocess_values(values):
    """prometheus_client's multiprocess value class, for this worker.

    Each value checks the process id on every change, to notice a fork (a syscall each time): the app is built in
    its worker, after the fork (gunicorn_conf's preload_app = False), so the id is this one. And the class's lock
    (prometheus_client takes ``threading.Lock`` when the class is made) is the OS's, not the one gevent patches in,
    which is Python code run twice on every change: a value holds it only while writing its file, with nothing in
    between that could switch greenlets, so it can never be held across a wait."""
    from gevent import monkey

    patched, values.Lock = values.Lock, monkey.get_original("_thread", "allocate_lock")
    try:
        return values.MultiProcessValue(process_identifier=functools.partial(int, os.getpid()))
    finally:
        values.Lock = patched


class Metrics:
    """The relay's metrics; one per app, in ``relay().metrics`` (see :mod:`cintel_relay.extension`)."""

    def __init__(self, token=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.token = token
        self.multiprocess = values.ValueClass is not values.MutexValue
        if bool(os.environ.get(MULTIPROC_ENV)) != self.multiprocess:
            raise RuntimeError(
                f"prometheus_client was imported before {MULTIPROC_ENV} was set: set it before the "
                "app is loaded (cintel_relay.server.gunicorn_conf does) and import prometheus_client no earlier."
            )
        if self.multiprocess:
            values.ValueClass = _multiprocess_values(values)
        self.registry = CollectorRegistry()
        r = self.registry
        self.webhooks = Counter(
            "cintel_webhooks", "Webhook requests by route and HTTP status.", ["route", "status"], registry=r
        )
        self.signature_failures = Counter(
            "cintel_signature_failures", "Webhooks refused for their signature.", ["route"], registry=r
        )
        self.events = Counter(
            "cintel_events",
            "Events from webhooks, by outcome: logged (published), held "
            "(conversation not yet mapped to a call) or duplicate.",
            ["outcome"],
            registry=r,
        )
        self.streams = Gauge("cintel_streams_live", "Open SSE streams.", registry=r, multiprocess_mode="livesum")
        self.delivered = Counter("cintel_stream_events_delivered", "Logged events written to SSE streams.", registry=r)
        self.lag = Histogram(
            "cintel_delivery_lag_seconds",
            "From the webhook storing an event (its Redis stream id) to its write on a live stream.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.redis_errors = Counter(
            "cintel_redis_errors", "Requests answered 503 because Redis failed.", ["route"], registry=r
        )
        self.twilio_unavailable = Counter(
            "cintel_twilio_unavailable",
            "Requests answered 503 because a Twilio service (token validation, TaskRouter) could not be asked.",
            ["service"],
            registry=r,
        )
        self.pubsub_reconnects = Counter(
            "cintel_pubsub_reconnects", "Times a worker's pub/sub connection to Redis was lost and re-made.", registry=r
        )
        self.deliveries = Counter(
            "cintel_deliveries",
            "Deliveries to the customer's systems (CINTEL_REPORT_URL) by kind and outcome: delivered (a 2xx), "
            "failed (an attempt that failed; it is retried) and gave_up (retried for CINTEL_REPORT_GIVE_UP_SECONDS).",
            ["kind", "outcome"],
            registry=r,
        )
        self.due_depth = Gauge(
            "cintel_due_queue_depth",
            "Items in the due queue (settling reports, deliveries, deadlines), due or not; read at each scrape.",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.coaching_notes = Counter(
            "cintel_coaching_notes", "Coaching notes supervisors sent to agents of live calls.", registry=r
        )
        self.suggestion_uses = Counter(
            "cintel_suggestion_uses",
            "Suggested responses agents used, per operator version and how (input: the message box, copy).",
            ["operator", "version", "via"],
            registry=r,
        )
        # A series' child, looked up once: prometheus_client's labels() validates and locks on every call,
        # which cost a webhook more than the count itself.
        self._outcomes = [self.events.labels(outcome) for outcome in OUTCOMES]
        self._webhook_series: dict = {}

    def prime(self, app):
        """Export every labelled series at zero from start-up, with the app's routes as known label values.

        An alert on a rate needs a series before the first event; call once the blueprints are registered.
        """
        routes = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
        for route in routes:
            self.redis_errors.labels(route)
            if route.startswith("/webhook/"):
                self.signature_failures.labels(route)
                for status in WEBHOOK_STATUSES:
                    self.webhooks.labels(route, status)
        for outcome in OUTCOMES:
            self.events.labels(outcome)
        for service in TWILIO_SERVICES:
            self.twilio_unavailable.labels(service)
        for kind in DELIVERY_KINDS:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(kind, outcome)

    def exposition(self) -> bytes:
        """The text format, summed over every worker process when gunicorn runs several."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)

    def ingested(self, result):
        """Count what a webhook's delivery became (an :class:`~cintel_relay.bus.event_bus.IngestResult`)."""
        for series, count in zip(self._outcomes, (len(result.ids), result.held, result.duplicates), strict=True):
            if count:
                series.inc(count)

    def stream_opened(self) -> float:
        """Count a stream as live; returns when it opened, in ms, for :meth:`sent`."""
        self.streams.inc()
        return time.time() * 1000

    def stream_closed(self):
        self.streams.dec()

    def sent(self, chunk: bytes, opened_ms: float):
        """Count the logged frames of a chunk written to a stream, and their lag (see :meth:`delivered_at`)."""
        stamps = _FRAME_ID.findall(chunk)
        if stamps:
            self.delivered_at(list(map(int, stamps)), opened_ms)

    def delivered_at(self, stamps: List[int], opened_ms: float):
        """Count logged frames written to a stream, given the ms of each one's id (when Redis logged it), and
        their lag.

        Lag is observed only for events logged after the stream opened: a replay after a reconnect is
        history, not delivery lag.
        """
        now_ms = time.time() * 1000
        self.delivered.inc(len(stamps))
        for stamp in stamps:
            if stamp >= opened_ms:
                self.lag.observe(max(0.0, now_ms - stamp) / 1000)

    def after_request(self, response):
        """Count the response of a Flask route (see :meth:`answered`)."""
        if request.url_rule is not None:
            self.answered(request.url_rule.rule, response.status_code, g.get("unavailable_source"))
        return response

    def answered(self, route: str, status: int, unavailable_source: Optional[str] = None):
        """Count webhooks by route and status; 403 on a webhook is a signature failure; a 503 is Twilio's
        when its source names a Twilio service (``taskrouter_timeout``), else Redis's."""
        if route.startswith("/webhook/"):
            key = (route, status)
            series = self._webhook_series.get(key)
            if series is None:
                series = self._webhook_series[key] = self.webhooks.labels(route, str(status))
            series.inc()
            if status == 403:
                self.signature_failures.labels(route).inc()
        if status == 503:
            # An Unavailable says what it could not reach (errors.py); any other 503 is the relay's Redis.
            source = unavailable_source or "redis"
            if source in TWILIO_SERVICES:
                self.twilio_unavailable.labels(source).inc()
            else:
                self.redis_errors.labels(route).inc()


def init_app(app, token=None) -> Metrics:
    """Create the app's metrics (the app factory keeps them in ``relay().metrics``), count its requests and serve
    ``/metrics``."""
    metrics = Metrics(token)
    app.after_request(metrics.after_request)
    app.register_blueprint(bp)
    return metrics


@bp.get("/metrics")
def scrape():
    """Prometheus text format, for a bearer of ``CINTEL_METRICS_TOKEN``; 404 while it is unset."""
    from prometheus_client import CONTENT_TYPE_LATEST

    metrics = relay().metrics
    if not metrics.token:
        return jsonify(
            {"error": "metrics are disabled: set CINTEL_METRICS_TOKEN to enable /metrics.", "code": "metrics_disabled"}
        ), 404
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), metrics.token.encode()):
        return (
            jsonify(
                {
                    "error": "send the metrics token as Authorization: Bearer <CINTEL_METRICS_TOKEN>.",
                    "code": "unauthorized",
                }
            ),
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    from .bus.store import REDIS_ERRORS

    try:
        metrics.due_depth.set(relay().bus.due.depth())
    except REDIS_ERRORS as exc:  # the other series are still worth a scrape; the gauge keeps its last value
        logger.warning("due queue depth unread: Redis failed (%s)", type(exc).__name__)
    return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def reset_multiprocess_dir():
    """Empty the metrics directory before gunicorn forks workers: files of a previous run must not count."""
    for path in glob.glob(os.path.join(os.environ[MULTIPROC_ENV], "*.db")):
        os.remove(path)


def worker_exited(pid: int):
    """Drop a dead worker's live gauges (its counters keep counting)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
