"""``POST /webhook/cintel-action``: Conversation Intelligence v3 rule executions (operator results)."""

from flask import Blueprint

from .. import normalize
from ..bus.event_bus import Route
from ..logs import annotate
from ..schemas import RuleExecutionSchema
from ..server.bodies import takes_body
from . import accepted, load, relay, signed_json

bp = Blueprint("cintel", __name__)
_schema = RuleExecutionSchema()


@bp.post("/webhook/cintel-action")
@takes_body()
def cintel_action():
    """Log each operator result, plus the adherence, sentiment or summary it implies, on the session of
    the communications it was computed from (see route.lua)."""
    payload = load(_schema, signed_json(), "rule execution")
    ext = relay()
    conversation = payload["conversationId"]
    annotate(conversation=conversation)
    items = [
        (Route("result", call=routing["call"] or "", refs=tuple(routing["communications"])), events)
        for routing, events in normalize.rule_execution_groups(payload, ext.config.operators, ext.script)
    ]
    return accepted(ext.bus.route(conversation, items))
