"""Marshmallow schemas for what Twilio sends. Unknown fields are ignored at every level."""

from typing import Any, Callable, Dict, Optional

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, validate

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


# --- the fast path -----------------------------------------------------------------------------------------


def _fast_loader(schema: Schema) -> Optional[Callable[[Any], Any]]:
    """``schema.load`` for the input a schema of flat fields (strings, objects, raw values) takes as it is: the same
    result without marshmallow's per-field machinery, which was most of a transcript line's validation. Whatever it
    does not take outright (a field missing or of the wrong type, a validator failing, a value it would convert) goes
    to ``schema.load``, so the result and every error message are marshmallow's. None when the schema has a field,
    validator or hook of another kind (tests/test_schemas.py holds the two paths equal)."""
    if schema.unknown != EXCLUDE or any(getattr(schema, "_hooks", {}).values()):
        return None
    plan = []
    for name, field in schema.load_fields.items():
        kind = _KINDS.get(type(field))
        if kind is None or field.data_key not in (None, name) or field.attribute not in (None, name):
            return None
        if isinstance(field, fields.Dict) and (field.key_field is not None or field.value_field is not None):
            return None
        lengths = []
        for validator in field.validators:
            if type(validator) is not validate.Length or validator.equal is not None:
                return None
            lengths.append((validator.min, validator.max))
        plan.append((name, kind, field.required, field.allow_none, field.load_default, tuple(lengths), field))

    def load(data):
        if type(data) is not dict:
            return schema.load(data)
        out = {}
        for name, kind, required, allow_none, default, lengths, field in plan:
            if name not in data:
                if required:
                    return schema.load(data)
                if default is not missing:
                    out[name] = default() if callable(default) else default
                continue
            value = data[name]
            if value is None:
                if not allow_none:
                    return schema.load(data)
            elif kind == "str":
                if type(value) is not str:
                    return schema.load(data)
                for low, high in lengths:
                    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
                        return schema.load(data)
            elif kind == "dict":
                if type(value) is not dict:
                    return schema.load(data)
                value = dict(value)
            elif kind == "strings":
                try:
                    value = field._deserialize(value, name, data)
                except ValidationError:
                    return schema.load(data)
            out[name] = value
        return out

    return load


_KINDS = {fields.String: "str", fields.Dict: "dict", fields.Raw: "raw", _Strings: "strings"}
_LOADERS: Dict[Schema, Callable[[Any], Any]] = {}  # keyed by the schema itself, which it keeps alive


def load(schema: Schema, data) -> Any:
    """``schema.load(data)``, through the fast path when the schema has one (:func:`_fast_loader`).

    :raises ValidationError: as ``schema.load`` raises it.
    """
    loader = _LOADERS.get(schema)
    if loader is None:
        loader = _LOADERS[schema] = _fast_loader(schema) or schema.load
    return loader(data)
