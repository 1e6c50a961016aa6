"""The schemas' fast path (schemas.load) gives what marshmallow gives: the same loaded dict, in the same key order, or
the same error messages, for any input; and it is the path a well-formed webhook takes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from cintel_relay import schemas
from cintel_relay.schemas import EVENT_DATA_SCHEMAS, CommunicationSchema, OrchestratorEventSchema, _Strings

FAST = [OrchestratorEventSchema(), *{type(s): s for s in EVENT_DATA_SCHEMAS.values()}.values()]

_scalars = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(
        st.sampled_from(["address", "channel", "participantId", "type", "text", "x"]), _scalars, max_size=4
    ),
)


def _inputs(schema):
    """A well-formed object with some fields dropped or replaced by anything, and unknown ones added; or not an object.
    Starting from well-formed input is what makes the few refusals the fast path must leave to marshmallow likely."""
    well_formed = {
        name: st.fixed_dictionaries({}, optional={"text": st.text(max_size=3), "type": st.text(max_size=3)})
        if isinstance(field, (fields.Dict, _Strings))
        else st.text(min_size=1, max_size=5)
        for name, field in schema.load_fields.items()
    }
    change = st.sampled_from(["keep"] * 4 + ["drop", "replace", "replace"])
    # A replaced field is as often a string at the edge of a length limit as anything else.
    edges = st.sampled_from([0, 1, 99, 100, 101, 102, 199, 200, 201, 202]).map(lambda n: "é" * n)

    @st.composite
    def objects(draw):
        payload = dict(draw(st.fixed_dictionaries(well_formed)))
        for name in list(payload):
            action = draw(change)
            if action == "drop":
                del payload[name]
            elif action == "replace":
                payload[name] = draw(st.one_of(edges, _values))
        if draw(st.booleans()):
            payload["unknownField"] = draw(_values)
        return payload

    return st.one_of(objects(), _values)


def _outcome(loader, data):
    try:
        loaded = loader(data)
    except ValidationError as exc:
        return "error", exc.messages
    return "loaded", loaded, list(loaded)


@pytest.mark.parametrize("schema", FAST, ids=lambda s: type(s).__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_fast_path_loads_and_refuses_exactly_as_marshmallow(schema, data):
    payload = data.draw(_inputs(schema))
    assert _outcome(lambda d: schemas.load(schema, d), payload) == _outcome(schema.load, payload)


def test_a_well_formed_transcript_line_is_loaded_without_marshmallow(monkeypatch):
    schema = CommunicationSchema()
    line = {
        "id": "comm_1",
        "conversationId": "conv_1",
        "author": {"address": "+15125550123", "channel": "VOICE", "participantId": "p1", "extra": 1},
        "content": {"type": "TRANSCRIPTION", "text": "Hello"},
        "channelId": "CA" + "0" * 32,
        "createdAt": "2026-11-24T15:02:09.870Z",
        "ignored": True,
    }
    expected = schema.load(line)
    monkeypatch.setattr(schema, "load", lambda *a, **k: pytest.fail("the fast path fell back to marshmallow"))
    assert schemas.load(schema, line) == expected
