"""Marshmallow schemas for what Twilio sends. Unknown fields are ignored at every level."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .ids import CALL_SID_WHOLE

CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
_ID = validate.Length(min=1, max=200)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class _Strings(fields.Field):
    """An object of optional strings, other keys ignored: what a nested schema of ``Str`` fields with
    ``load_default=None`` loads, with the same error messages, without running a schema per object
    (the nested objects of a transcript webhook cost more to load than its envelope)."""

    def __init__(self, *names: str, **kwargs):
        super().__init__(**kwargs)
        self.names = names

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError({"_schema": ["Invalid input type."]})
        loaded = {name: value.get(name) for name in self.names}
        errors = {k: ["Not a valid string."] for k, v in loaded.items() if v is not None and not isinstance(v, str)}
        if errors:
            raise ValidationError(errors)
        return loaded


class OperatorSchema(_Lenient):
    id = fields.Str(required=True, validate=_ID)
    version = fields.Raw(allow_none=True, load_default=None)
    parameters = fields.Raw(allow_none=True, load_default=None)
    displayName = fields.Str(allow_none=True, load_default=None)
    friendlyName = fields.Str(allow_none=True, load_default=None)
    name = fields.Str(allow_none=True, load_default=None)


class ExecutionDetailsSchema(_Lenient):
    trigger = fields.Dict(allow_none=True, load_default=None)
    communications = fields.Dict(allow_none=True, load_default=None)
    channels = fields.List(fields.Str(), allow_none=True, load_default=list)
    participants = fields.List(fields.Dict(), allow_none=True, load_default=list)
    context = fields.Raw(allow_none=True, load_default=None)


class OperatorResultSchema(_Lenient):
    id = fields.Str(required=True, validate=_ID)
    operator = fields.Nested(OperatorSchema, required=True)
    outputFormat = fields.Str(allow_none=True, load_default=None)
    result = fields.Raw(allow_none=True, load_default=None)
    dateCreated = fields.Str(allow_none=True, load_default=None)
    referenceIds = fields.List(fields.Str(), allow_none=True, load_default=list)
    executionDetails = fields.Nested(ExecutionDetailsSchema, allow_none=True, load_default=None)


class RuleExecutionSchema(_Lenient):
    """A Conversation Intelligence v3 rule execution (``/webhook/cintel-action``)."""

    accountId = fields.Str(allow_none=True, load_default=None)
    conversationId = fields.Str(required=True, validate=_ID)
    intelligenceConfiguration = fields.Dict(allow_none=True, load_default=None)
    operatorResults = fields.List(fields.Nested(OperatorResultSchema, allow_none=True), required=True)


class OrchestratorEventSchema(_Lenient):
    """The envelope of a Conversation Orchestrator status callback (``/webhook/cor-event``)."""

    # Any type is accepted; types the relay has no use for are acknowledged and ignored, so a new
    # Twilio event type is not retried forever.
    eventType = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    timestamp = fields.Str(allow_none=True, load_default=None)
    data = fields.Dict(required=True)


class CommunicationSchema(_Lenient):
    id = fields.Str(required=True, validate=_ID)
    conversationId = fields.Str(required=True, validate=_ID)
    author = _Strings("address", "channel", "participantId", allow_none=True, load_default=None)
    content = _Strings("type", "text", allow_none=True, load_default=None)
    channelId = fields.Str(allow_none=True, load_default=None)
    createdAt = fields.Str(allow_none=True, load_default=None)
    occurredAt = fields.Str(allow_none=True, load_default=None)


class ParticipantSchema(_Lenient):
    id = fields.Str(required=True, validate=_ID)
    conversationId = fields.Str(required=True, validate=_ID)
    name = fields.Str(allow_none=True, load_default=None)
    type = fields.Str(allow_none=True, load_default=None)
    addresses = fields.List(_Strings("channel", "address", "channelId"), allow_none=True, load_default=list)


class ConversationSchema(_Lenient):
    id = fields.Str(required=True, validate=_ID)
    status = fields.Str(allow_none=True, load_default=None)


class StatusCallbackSchema(_Lenient):
    """A Voice status callback (``/webhook/status``, form-encoded)."""

    CallSid = fields.Str(
        required=True, validate=validate.Regexp(CALL_SID_WHOLE, error="must be a Call SID (CA + 32 hex)")
    )
    CallStatus = fields.Str(required=True, validate=validate.OneOf(CALL_STATUSES))
    From = fields.Str(load_default=None)
    To = fields.Str(load_default=None)
    Timestamp = fields.Str(load_default=None)
    CallDuration = fields.Str(load_default=None)


#: Schemas for the ``data`` of each Orchestrator event type that carries something we use.
EVENT_DATA_SCHEMAS = {
    "COMMUNICATION_CREATED": CommunicationSchema(),
    "PARTICIPANT_ADDED": ParticipantSchema(),
    "PARTICIPANT_UPDATED": ParticipantSchema(),
    "CONVERSATION_UPDATED": ConversationSchema(),
}
