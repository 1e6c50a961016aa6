"""Property-based fuzzing of every webhook, signed and unsigned, against a real Redis.

Whatever arrives, the relay never answers 500, an unsigned request is always 403, and a refused
request leaves Redis exactly as it was. Payloads are random JSON, random bytes, and the example
Twilio payloads with one field deleted or replaced, so the fuzzer reaches past the schema checks.
"""

import copy
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import form_request, json_request, payload
from .test_webhooks import BASE, dump, map_call, post_json

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_HOOKS = ("/webhook/cintel-action", "/webhook/cor-event", "/webhook/maestro-event")
#: Each example payload and the webhooks it is sent to.
EXAMPLES = {
    "cintel-script-adherence.json": ("/webhook/cintel-action",),
    "cintel-sentiment-summary.json": ("/webhook/cintel-action",),
    "cor-participant-added.json": ("/webhook/cor-event", "/webhook/maestro-event"),
    "cor-communication-transcription.json": ("/webhook/cor-event", "/webhook/maestro-event"),
}
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)


def _nested(depth: int):
    value = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


#: Nesting deep enough to trip recursion limits in the parser (1024) or the serializer (254).
deep_values = st.integers(min_value=1, max_value=1100).map(_nested)


def _paths(value, prefix=()):
    """Every path (tuple of keys and indexes) inside a JSON document."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated_examples(draw):
    """(webhook, an example Twilio payload for it with one field, anywhere, deleted or replaced by random JSON)."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    document = copy.deepcopy(payload(name))
    path = draw(st.sampled_from([p for p in _paths(document) if p]))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values | deep_values)
    return draw(st.sampled_from(EXAMPLES[name])), document


deliveries = mutated_examples() | st.tuples(st.sampled_from(JSON_HOOKS), json_values | st.binary(max_size=300))
#: Mostly signed, and mostly with the right content type, so most examples get past the first checks.
signatures = st.sampled_from([True, True, True, False])
content_types = st.none() | st.sampled_from(CONTENT_TYPES)


def _seeded(client, redis_client):
    """A session with a mapped call and some events, so 'changed nothing' has something to protect."""
    redis_client.flushall()
    map_call(client)
    assert post_json(client, "/webhook/cintel-action", payload("cintel-sentiment-summary.json")).status_code == 200
    return dump(redis_client)


def _check(response, before, redis_client, unsigned):
    assert response.status_code != 500, response.json
    assert response.status_code in (200, 400, 403, 413, 415, 422), response.json
    if unsigned:
        assert response.status_code == 403
    if response.status_code != 200:
        assert response.json["error"] and response.json["code"]
        assert dump(redis_client) == before


@FUZZ
@given(delivery=deliveries, signed=signatures, content_type=content_types)
def test_json_webhooks_never_fail_and_refusals_change_nothing(client, redis_client, delivery, signed, content_type):
    before = _seeded(client, redis_client)
    path, body = delivery
    url, headers, data = json_request(BASE, path, body)
    if not signed:
        del headers["X-Twilio-Signature"]
    if content_type is not None:
        headers["Content-Type"] = content_type
    _check(client.post(url[len(BASE) :], data=data, headers=headers), before, redis_client, unsigned=not signed)


form_fields = st.dictionaries(
    st.sampled_from(["CallSid", "CallStatus", "From", "To", "Timestamp", "CallDuration"]) | st.text(max_size=10),
    st.text(max_size=40),
    max_size=8,
)


@st.composite
def status_forms(draw):
    """A valid status callback with fields replaced or added, or a random form."""
    form = dict(urllib.parse.parse_qsl(payload("status-callback.form").strip()))
    if draw(st.booleans()):
        return {**form, **draw(form_fields)}
    return draw(form_fields)


@FUZZ
@given(form=status_forms(), signed=signatures, raw=st.none() | st.binary(max_size=200))
def test_status_webhook_never_fails_and_refusals_change_nothing(client, redis_client, form, signed, raw):
    before = _seeded(client, redis_client)
    _, headers, data = form_request(BASE, "/webhook/status", form)
    if raw is not None:
        data = raw  # signed for ``form``, but carrying other bytes: a replayed signature on a changed body
    if not signed:
        del headers["X-Twilio-Signature"]
    _check(client.post("/webhook/status", data=data, headers=headers), before, redis_client, unsigned=not signed)
