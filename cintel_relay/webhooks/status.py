"""``POST /webhook/status``: Voice status callbacks (form-encoded)."""

from flask import Blueprint

from .. import normalize
from ..logs import annotate
from ..schemas import StatusCallbackSchema
from . import accepted, load, relay, signed_form

bp = Blueprint("status", __name__)
_schema = StatusCallbackSchema()


@bp.post("/webhook/status")
def call_status():
    """Log the call's status; a completed call's data then expires sooner."""
    form = load(_schema, signed_form(), "status callback")
    annotate(session=form["CallSid"])
    ext = relay()
    return accepted(ext.bus.ingest([normalize.call_status_event(form)], session=form["CallSid"]))
