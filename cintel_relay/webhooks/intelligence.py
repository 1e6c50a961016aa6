"""``POST /webhook/cintel-action``: Conversation Intelligence v3 rule executions (operator results)."""

import logging
from typing import List, Tuple

from flask import Blueprint

from .. import normalize
from ..bus.routing import Route
from ..catalog import EMPTY
from ..errors import BadRequest
from ..logs import annotate
from ..normalize import Event
from ..schemas import RuleExecutionSchema
from ..security import has_lone_surrogate
from ..server.bodies import takes_body
from . import flask_view, load, signed_json

logger = logging.getLogger(__name__)

bp = Blueprint("cintel", __name__)
_schema = RuleExecutionSchema()
ROUTE = "/webhook/cintel-action"
LEAN_ROUTES = {("POST", ROUTE): ROUTE}


def _kind(routing: dict) -> str:
    """A post-call result follows the conversation's last call even once it ended (see route.lua)."""
    return "post" if routing["postCall"] else "result"


def result_items(payload: dict, operators, script, catalog=EMPTY) -> Tuple[List[Tuple[Route, List[Event]]], bool]:
    """A loaded rule execution's (route, events) per operator result, and whether any was computed post-call:
    for the webhook, and for a report's reconciliation with Twilio's API (the same dedupe keys either way)."""
    groups = normalize.rule_execution_groups(payload, operators, script, catalog)
    items = [
        (Route(_kind(routing), call=routing["call"] or "", refs=tuple(routing["communications"])), events)
        for routing, events in groups
    ]
    return items, any(routing["postCall"] for routing, _ in groups)


def cintel_action(ext, req):
    """Log each operator result, plus the adherence, sentiment, summary or insight it implies, on the session of
    the communications it was computed from (see route.lua)."""
    body = signed_json(ext, req, lone_surrogates=True)
    dropped = _drop_invalid_text(body)
    payload = load(_schema, body, "rule execution")
    conversation = payload["conversationId"]
    annotate(req.environ, conversation=conversation)
    items, post_call = result_items(payload, ext.config.operators, ext.script, ext.config.catalog)
    result = ext.bus.route(conversation, items)
    ext.reports.followed(result, post_call=post_call)
    return result, ({"dropped": dropped} if dropped else {})


bp.post(ROUTE)(takes_body()(flask_view(cintel_action)))


def _drop_invalid_text(body: dict) -> int:
    """Drop the operator results holding invalid Unicode (an escaped lone surrogate), so one bad result does not
    cost the delivery its good ones on every retry; how many were dropped. Elsewhere in the body it is a 400."""
    results = body.get("operatorResults")
    if isinstance(results, list):
        body["operatorResults"] = [r for r in results if not has_lone_surrogate(r)]
    if has_lone_surrogate(body):
        raise BadRequest("the body holds invalid Unicode (an escaped lone surrogate) outside its operator results.")
    if not isinstance(results, list):
        return 0
    dropped = len(results) - len(body["operatorResults"])
    if dropped:
        logger.warning("dropped operator results holding invalid Unicode", extra={"dropped": dropped})
    return dropped
