"""``POST /webhook/status`` (form-encoded) and ``GET /webhook/status`` (query): Voice status callbacks."""

from flask import Blueprint

from .. import normalize
from ..logs import annotate
from ..schemas import StatusCallbackSchema
from ..server.bodies import takes_body
from . import accepted, load, relay, signed_form

bp = Blueprint("status", __name__)
_schema = StatusCallbackSchema()


@bp.route("/webhook/status", methods=["GET", "POST"])
@takes_body()
def call_status():
    """Log the call's status; a completed call's data then expires sooner."""
    form = load(_schema, signed_form(_schema.fields), "status callback")
    annotate(session=form["CallSid"])
    ext = relay()
    event = normalize.call_status_event(form)
    result = ext.bus.ingest([event], session=form["CallSid"])
    if event.ends:  # a redelivery schedules it too: the first answer may have failed after the event was stored
        ext.reports.schedule(form["CallSid"], ext.config.report_settle_seconds)
    else:
        ext.reports.followed(result)
    return accepted(result)
