"""The app factory: the only place the relay is wired together."""

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs, metrics
from .access import views as access
from .access.views import Access
from .bus.alerting import KIND as RULES
from .bus.alerting import Alerting
from .bus.deadlines import KIND as DEADLINE
from .bus.deadlines import Deadlines
from .bus.due import DueRunner
from .bus.event_bus import EventBus
from .bus.hub import Hub
from .bus.store import open_store
from .config import Config, load_config
from .errors import register_error_handlers
from .extension import KEY
from .outbound.deliveries import Deliveries
from .reports.settle import Reports
from .script import Script, load_script
from .server.bodies import MAX_BODY, BodyGate, route_limits
from .server.lean import Dispatcher, Lean
from .webhooks.signature import SignatureVerifier

logger = logging.getLogger(__name__)


@dataclass
class Components:
    """What the app wires together; the app's one extension (read it with :func:`cintel_relay.extension.relay`)."""

    config: Config
    script: Script
    bus: EventBus
    hub: Hub
    verifier: SignatureVerifier
    #: Work that comes due later (deadlines, reports, deliveries): any replica runs it, once.
    due: DueRunner
    #: Call reports: built, settled, stored and delivered (``settle:`` and ``deliver:`` due items).
    reports: Reports
    #: Alert rules, evaluated after each delivery (see :mod:`cintel_relay.bus.alerting`).
    alerts: Alerting
    metrics: metrics.Metrics
    #: Who may open a stream (see :mod:`cintel_relay.access.views`).
    access: Access

    def shutdown(self):
        """Tell every stream to end (clients resume on another replica) and stop taking due work."""
        self.hub.shutdown()
        self.due.stop()


def create_app(config: Optional[Config] = None) -> Flask:
    """Build the relay app; the only place things are wired."""
    config = config or load_config()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    logs.init_app(app)
    relay_metrics = metrics.init_app(app, config.metrics_token)
    store = open_store(config)
    client = store.client
    bus = EventBus(store, config)
    script = load_script(config.script_file)
    secrets = {"report": config.report_secret or "", "alert": config.alert_secret or ""}
    deliveries = Deliveries(bus.due, secrets, config, relay_metrics)
    app.extensions[KEY] = relay = Components(
        config=config,
        script=script,
        bus=bus,
        hub=Hub(store, config.subscriber_queue, on_reconnect=relay_metrics.pubsub_reconnects.inc),
        verifier=SignatureVerifier(
            config.twilio_auth_token, config.server_url, config.verify_signatures, config.webhook_shared_keys
        ),
        # A claimed batch runs under one lease: as many deliveries as can time out one after another within it.
        due=DueRunner(
            bus.due,
            lease_ms=int(config.due_lease_seconds * 1000),
            batch=max(1, int(config.due_lease_seconds // config.report_timeout) - 1),
        ),
        reports=Reports(bus, config, script, deliveries),
        alerts=Alerting(bus, config.alert_rules, deliveries, config.alert_urls),
        metrics=relay_metrics,
        access=access.policy(config, client, bus.commit),
    )
    relay.due.handle("settle", relay.reports.settle)
    relay.due.handle("deliver", deliveries.handle)
    deadlines = Deadlines(bus, script, after=relay.alerts.after)

    def started(session: str, started_ms: int):
        """A new call's timers: the rules' re-evaluations, then its deadlines (which mark them all queued)."""
        relay.alerts.started(session, started_ms)
        deadlines.started(session, started_ms)

    bus.on_started = started
    relay.due.handle(DEADLINE, deadlines.fire)
    relay.due.handle(RULES, relay.alerts.fire)
    from . import api, security
    from .console import views as console
    from .reports import views as reports
    from .streams import board, coaching, disputes
    from .streams import session as stream
    from .webhooks import intelligence, orchestrator, status

    blueprints = (
        api.bp,
        stream.bp,
        disputes.bp,
        intelligence.bp,
        orchestrator.bp,
        status.bp,
        board.bp,
        coaching.bp,
        console.bp,
        reports.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    security.register_security_headers(app)
    security.register_cors(app, config.cors_origins)
    app.register_blueprint(access.bp)
    register_error_handlers(app)
    relay_metrics.prime(app)
    _middleware(app, config, relay_metrics)
    relay.due.start()
    if config.embedded:
        logger.warning("REDIS_URL is unset: using the embedded in-process bus (one process only, nothing persists)")
    if not config.verify_signatures:
        logger.warning("CINTEL_VERIFY_SIGNATURES=false: webhooks are NOT authenticated; never run this in production")
    return app


def _middleware(app, config, relay_metrics):
    """The hot routes served lean (:mod:`cintel_relay.server.lean`), inside the proxy fix and the body gate that
    every request goes through."""
    from .streams import session as stream
    from .webhooks import intelligence, lean_webhook, orchestrator, status

    lean = Lean(config.cors_origins, relay_metrics)
    routes = {stream.LEAN_ROUTE: stream.lean_stream(app, lean)}
    limits = {}
    for module, handle in (
        (intelligence, intelligence.cintel_action),
        (orchestrator, orchestrator.cor_event),
        (status, status.call_status),
    ):
        for method_path, rule in module.LEAN_ROUTES.items():
            routes[method_path] = lean_webhook(app, lean, rule, handle)
            limits[method_path] = MAX_BODY
    handler: Callable[..., Any] = Dispatcher(app.wsgi_app, routes)
    if config.proxy_count:
        n = config.proxy_count
        handler = ProxyFix(handler, x_for=n, x_proto=n, x_host=n, x_port=n)
    # Flask's documented way to add WSGI middleware.
    app.wsgi_app = BodyGate(
        handler,
        route_limits(app, config.max_body_bytes, limits),
        config.body_timeout,
        config.body_readers,
        config.max_body_bytes,
    )
