"""Before a report settles, read the call's conversation back from Twilio and merge what the relay missed.

A webhook Twilio gave up on (the relay answered 503, or was unreachable) is missed for good: Twilio's retry
policy for these webhooks is undocumented. The results are in Twilio's APIs, though: Conversation
Intelligence v3 ``GET /v3/OperatorResults?conversationId=`` and Conversations v2 ``GET /v2/Conversations/
{ConversationSid}/Communications`` (both paged). Each item goes through the webhooks' own schema, normalizing
and routing, so what the relay already has is a duplicate and what it missed reaches the call's log, its live
stream and its report, as a webhook would have. Anything of another conversation is ignored. Without Twilio
credentials (``TWILIO_ACCOUNT_SID`` and the auth token, or an API key) nothing is read.
"""

import logging

from marshmallow import ValidationError

from ..schemas import EVENT_DATA_SCHEMAS, RuleExecutionSchema
from ..setup.control_plane import ControlPlane, ControlPlaneError, credentials
from ..webhooks.intelligence import result_items
from ..webhooks.orchestrator import communication_item

logger = logging.getLogger(__name__)

_communication = EVENT_DATA_SCHEMAS["COMMUNICATION_CREATED"]
_rule_execution = RuleExecutionSchema()
#: Seconds each read of Twilio's APIs may take (a settle holds its due item's lease meanwhile).
TIMEOUT = 5.0


class Reconciler:
    """Merges a conversation's communications and operator results from Twilio's APIs into the bus."""

    def __init__(self, bus, config, script):
        self.bus = bus
        self.config = config
        self.script = script
        self.enabled = credentials(config) is not None

    def merge(self, conversation: str) -> int:
        """Read the conversation back and route every communication and result through the webhooks' dedupe;
        how many events were new. Twilio unreachable or refusing: logged, and nothing merged."""
        try:
            api = ControlPlane(self.config, progress=lambda _: None, timeout=TIMEOUT)
            communications = [c for c in api.communications(conversation) if c.get("conversationId") == conversation]
            results = [r for r in api.operator_results(conversation) if r.get("conversationId") == conversation]
        except ControlPlaneError as exc:
            logger.warning("reconciling with Twilio failed: %s", exc, extra={"conversation": conversation})
            return 0
        items = []
        for raw in communications:
            try:
                items.append(communication_item(self.bus, self.config, _communication.load(raw)))
            except ValidationError:
                logger.warning("Twilio's API gave a communication the relay cannot read; skipped")
        logged = len(self.bus.route(conversation, items).ids) if items else 0
        if results:
            try:
                payload = _rule_execution.load({"conversationId": conversation, "operatorResults": results})
            except ValidationError:
                logger.warning("Twilio's API gave operator results the relay cannot read; skipped")
                return logged
            routed, _ = result_items(payload, self.config.operators, self.script, self.config.catalog)
            logged += len(self.bus.route(conversation, routed).ids)
        if logged:
            logger.info("reconciled with Twilio: %d missed events merged", logged, extra={"conversation": conversation})
        return logged
