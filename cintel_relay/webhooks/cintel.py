"""``POST /webhook/cintel-action``: Conversation Intelligence v3 rule executions (operator results)."""

from flask import Blueprint

from .. import normalize
from ..logs import annotate
from ..schemas import RuleExecutionSchema
from . import accepted, load, relay, signed_json

bp = Blueprint("cintel", __name__)
_schema = RuleExecutionSchema()


@bp.post("/webhook/cintel-action")
def cintel_action():
    """Log each operator result, plus the adherence, sentiment or summary it implies."""
    payload = load(_schema, signed_json(), "rule execution")
    ext = relay()
    events = normalize.rule_execution_events(payload, ext.config.operators, ext.script)
    session = normalize.rule_execution_session(payload)
    annotate(session=session, conversation=payload["conversationId"])
    result = ext.bus.ingest(events, session=session, conversation=payload["conversationId"])
    return accepted(result)
