"""``GET /api/calls/<CallSid>/report``: a call's report (docs/reports.md), authorized as the call's stream."""

from flask import Blueprint, jsonify, request

from ..errors import BadRequest, NotFound
from ..extension import relay
from ..ids import is_call_sid

bp = Blueprint("reports", __name__)


@bp.get("/api/calls/<call_sid>/report")
def call_report(call_sid):
    """The call's report: ``?ticket=`` as for its stream (open with ``CINTEL_STREAM_AUTH=none``); 404 when the
    relay has no record of the call (never heard of it, or its report expired)."""
    if not is_call_sid(call_sid):
        raise BadRequest("the call must be named by its Call SID: CA followed by 32 hexadecimal digits.")
    relay().access.authorize(call_sid, request.args.get("ticket"))
    report = relay().reports.report(call_sid)
    if report is None:
        raise NotFound(f"no report for {call_sid}: the relay has no record of this call (or its report expired).")
    response = jsonify(report)
    response.headers["Cache-Control"] = "no-store"
    return response
