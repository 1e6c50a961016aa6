"""``POST /webhook/status`` (form-encoded) and ``GET /webhook/status`` (query): Voice status callbacks."""

from flask import Blueprint

from .. import normalize
from ..logs import annotate
from ..schemas import StatusCallbackSchema
from ..server.bodies import takes_body
from . import flask_view, load, signed_form

bp = Blueprint("status", __name__)
_schema = StatusCallbackSchema()
ROUTE = "/webhook/status"
LEAN_ROUTES = {("POST", ROUTE): ROUTE, ("GET", ROUTE): ROUTE}


def call_status(ext, req):
    """Log the call's status; a completed call's data then expires sooner."""
    form = load(_schema, signed_form(ext, req, _schema.fields), "status callback")
    annotate(req.environ, session=form["CallSid"])
    event = normalize.call_status_event(form)
    result = ext.bus.ingest([event], session=form["CallSid"])
    if event.ends:  # a redelivery schedules it too: the first answer may have failed after the event was stored
        ext.reports.schedule(form["CallSid"], ext.config.report_settle_seconds)
    else:
        ext.reports.followed(result)
    return result, {}


bp.route(ROUTE, methods=["GET", "POST"])(takes_body()(flask_view(call_status)))
