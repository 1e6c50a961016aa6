"""Webhooks against a real redis-server: signed deliveries become events; bad ones change nothing."""

import urllib.parse

import orjson
import pytest

from cintel_relay.bus.keys import log_key

from .support import (
    CALL_SID,
    CONVERSATION,
    SENTIMENT_OPERATOR,
    adherence_result,
    communication,
    form_request,
    json_request,
    operator_result,
    payload,
    rule_execution,
    sign,
)

BASE = "http://localhost"


def post_json(client, path, body, **kw):
    url, headers, raw = json_request(BASE, path, body, **kw)
    return client.post(url[len(BASE) :], data=raw, headers=headers)


def post_form(client, path, form):
    url, headers, raw = form_request(BASE, path, form)
    return client.post(path, data=raw, headers=headers)


def log(redis_client, session=CALL_SID):
    return [orjson.loads(f[b"f"]) for _, f in redis_client.xrange(log_key(session))]


def dump(redis_client):
    """Every key and its serialized value: to show a rejected request changed nothing."""
    return {key: redis_client.dump(key) for key in sorted(redis_client.keys("*"))}


def map_call(client):
    assert post_json(client, "/webhook/cor-event", payload("cor-participant-added.json")).status_code == 200


def test_example_payloads_become_events(client, redis_client):
    map_call(client)
    assert post_json(client, "/webhook/cor-event", payload("cor-communication-transcription.json")).json == {
        "ok": True,
        "logged": 1,
        "held": 0,
        "duplicates": 0,
    }
    assert post_json(client, "/webhook/cintel-action", payload("cintel-script-adherence.json")).status_code == 200
    assert post_json(client, "/webhook/cintel-action", payload("cintel-sentiment-summary.json")).status_code == 200
    form = dict(urllib.parse.parse_qsl(payload("status-callback.form").strip()))
    assert post_form(client, "/webhook/status", form).status_code == 200
    events = log(redis_client)
    assert [e["type"] for e in events] == [
        "transcript",
        "operator-result",
        "adherence",
        "operator-result",
        "sentiment",
        "operator-result",
        "summary",
        "call-status",
    ]
    assert events[0]["data"]["speaker"] == "agent"
    assert events[2]["data"]["score"] == 10
    assert events[4]["data"] == {
        "label": "positive",
        "timestamp": "2026-11-24T15:03:40.120551Z",
        "operatorResultId": "intelligence_operatorresult_01kg2vc0c1d2e3f4g5h6j7k8m9",
    }
    assert events[7]["data"]["status"] == "completed"


def test_results_before_the_mapping_are_held_then_delivered_in_order(client, redis_client):
    held = post_json(client, "/webhook/cintel-action", payload("cintel-script-adherence.json"))
    assert held.json["held"] == 2 and log(redis_client) == []
    post_json(client, "/webhook/cor-event", payload("cor-communication-transcription.json"))
    assert [e["type"] for e in log(redis_client)] == ["operator-result", "adherence", "transcript"]


def test_duplicate_deliveries_produce_one_event(client, redis_client):
    map_call(client)
    for _ in range(2):
        post_json(client, "/webhook/cor-event", payload("cor-communication-transcription.json"))
        post_json(client, "/webhook/cintel-action", payload("cintel-sentiment-summary.json"))
    assert [e["type"] for e in log(redis_client)] == [
        "transcript",
        "operator-result",
        "sentiment",
        "operator-result",
        "summary",
    ]


def test_maestro_alias_and_participant_types_decide_the_speaker(client, redis_client):
    customer = payload("cor-participant-added.json")
    assert post_json(client, "/webhook/maestro-event", customer).status_code == 200
    line = communication("comm-1", "I'm moving to Austin.", speaker="customer")
    line["data"]["author"]["participantId"] = customer["data"]["id"]
    line["data"]["author"]["address"] = "+18005550199"  # the participant type wins over the address
    post_json(client, "/webhook/maestro-event", line)
    assert log(redis_client)[0]["data"]["speaker"] == "customer"


def test_unknown_fields_uppercase_labels_and_missing_names(client, redis_client):
    map_call(client)
    body = rule_execution([None, operator_result("r1", SENTIMENT_OPERATOR, {"label": "NEGATIVE", "x": 1})])
    body["operatorResults"][1]["operator"]["brandNew"] = {"nested": True}
    body["futureField"] = [1, 2]
    assert post_json(client, "/webhook/cintel-action", body).status_code == 200
    events = log(redis_client)
    assert events[0]["data"]["operator"]["friendlyName"] == "Sentiment"  # no name sent: the operator table names it
    assert events[1]["data"]["label"] == "negative"


def test_adherence_ticks_and_stays_ticked(client, redis_client):
    map_call(client)
    post_json(client, "/webhook/cintel-action", rule_execution([adherence_result("a1", greeting="Succeeded")]))
    post_json(
        client,
        "/webhook/cintel-action",
        rule_execution([adherence_result("a2", greeting="Failed", verification="Succeeded", move_details="Succeeded")]),
    )
    states = [e["data"] for e in log(redis_client) if e["type"] == "adherence"]
    assert [c["status"] for c in states[-1]["categories"]] == ["met", "met", "met", "pending"]
    assert [s["score"] for s in states] == [10, 70]


def test_closed_conversation_and_ignored_event_types(client, redis_client):
    map_call(client)
    closed = {"eventType": "CONVERSATION_UPDATED", "data": {"id": CONVERSATION, "status": "CLOSED"}}
    assert post_json(client, "/webhook/cor-event", closed).json["logged"] == 1
    assert (
        post_json(client, "/webhook/cor-event", {"eventType": "PARTICIPANT_REMOVED", "data": {}}).json["ignored"]
        == "PARTICIPANT_REMOVED"
    )
    assert log(redis_client)[-1]["data"]["status"] == "completed"
    assert redis_client.ttl(log_key(CALL_SID)) <= 15 * 60


def _signed(path, body):
    return json_request(BASE, path, body)


BAD_REQUESTS = {
    "no signature": (lambda url, h, raw: (url, {"Content-Type": "application/json"}, raw), 403),
    "wrong signature": (lambda url, h, raw: (url, {**h, "X-Twilio-Signature": sign(url, token="other")}, raw), 403),
    "signed for another url": (lambda url, h, raw: (url.replace("cintel-action", "status"), h, raw), 403),
    "body changed after signing": (lambda url, h, raw: (url, h, raw.replace(b"greeted", b"ignored")), 403),
    "no bodySHA256": (
        lambda url, h, raw: (
            url.split("?")[0],
            {**h, "X-Twilio-Signature": sign(BASE + "/webhook/cintel-action")},
            raw,
        ),
        403,
    ),
    "wrong content type": (lambda url, h, raw: (url, {**h, "Content-Type": "text/plain"}, raw), 415),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_requests_are_refused_and_change_nothing(client, redis_client, name):
    map_call(client)
    post_json(client, "/webhook/cintel-action", payload("cintel-sentiment-summary.json"))
    before = dump(redis_client)
    tamper, status = BAD_REQUESTS[name]
    url, headers, raw = tamper(*_signed("/webhook/cintel-action", payload("cintel-script-adherence.json")))
    response = client.post(url[len(BASE) :] if url.startswith(BASE) else url, data=raw, headers=headers)
    assert response.status_code == status
    assert response.json["error"] and response.json["code"]
    assert dump(redis_client) == before


@pytest.mark.parametrize(
    "raw, status, field",
    [
        (b"{not json", 400, None),
        (b"\xff\xfe{}", 400, None),
        (b"[1, 2]", 422, "_schema"),
        (orjson.dumps({"operatorResults": []}), 422, "conversationId"),
        (orjson.dumps({"conversationId": "c", "operatorResults": [{"id": "r"}]}), 422, "operatorResults"),
        (orjson.dumps({"conversationId": "c", "operatorResults": "many"}), 422, "operatorResults"),
        (b"[" * 5000 + b"]" * 5000, 400, None),
    ],
)
def test_malformed_bodies_get_a_clear_error(client, redis_client, raw, status, field):
    before = dump(redis_client)
    response = post_json(client, "/webhook/cintel-action", raw)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["fields"]
    assert dump(redis_client) == before


def test_oversized_body_is_413(make_app, redis_client):
    client = make_app(CINTEL_MAX_BODY_BYTES=2048).test_client()
    body = rule_execution([operator_result("r", SENTIMENT_OPERATOR, {"label": "x" * 4000})])
    response = post_json(client, "/webhook/cintel-action", body)
    assert response.status_code == 413 and response.json["code"]
    assert redis_client.dbsize() == 0


def test_status_callback_validation(client, redis_client):
    assert post_form(client, "/webhook/status", {"CallSid": "CA123", "CallStatus": "completed"}).json["fields"] == {
        "CallSid": ["must be a Call SID (CA + 32 hex)"]
    }
    assert post_form(client, "/webhook/status", {"CallSid": CALL_SID, "CallStatus": "exploded"}).status_code == 422
    url, headers, raw = form_request(BASE, "/webhook/status", {"CallSid": CALL_SID, "CallStatus": "ringing"})
    assert client.post("/webhook/status", data=raw + b"&CallStatus=completed", headers=headers).status_code == 403
    assert redis_client.dbsize() == 0


def test_public_url_from_server_url(make_app, redis_client):
    client = make_app(SERVER_URL="https://relay.example.com").test_client()
    url, headers, raw = json_request(
        BASE, "/webhook/cor-event", payload("cor-participant-added.json"), public_base="https://relay.example.com"
    )
    assert client.post(url[len(BASE) :], data=raw, headers=headers).status_code == 200
    url, headers, raw = json_request(BASE, "/webhook/cor-event", payload("cor-participant-added.json"))
    assert client.post(url[len(BASE) :], data=raw, headers=headers).status_code == 403


def test_public_url_from_trusted_forwarded_headers(make_app, redis_client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "relay.example.com", "X-Forwarded-For": "1.2.3.4"}
    url, headers, raw = json_request(
        BASE, "/webhook/cor-event", payload("cor-participant-added.json"), public_base="https://relay.example.com"
    )
    trusting = make_app(CINTEL_PROXY_COUNT=1).test_client()
    assert trusting.post(url[len(BASE) :], data=raw, headers={**headers, **forwarded}).status_code == 200
    untrusting = make_app().test_client()
    assert untrusting.post(url[len(BASE) :], data=raw, headers={**headers, **forwarded}).status_code == 403


def test_signature_checks_off_only_by_explicit_setting(make_app, redis_client):
    client = make_app(CINTEL_VERIFY_SIGNATURES="false", TWILIO_AUTH_TOKEN="").test_client()
    response = client.post("/webhook/cor-event", json=payload("cor-participant-added.json"))
    assert response.status_code == 200
    assert client.get("/readyz").json["signatures"] is False


def test_redis_down_gives_503_so_twilio_retries(make_app):
    client = make_app(redis_url="redis://127.0.0.1:1/0").test_client()
    response = post_json(client, "/webhook/cor-event", payload("cor-communication-transcription.json"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_script_endpoint(client):
    body = client.get("/api/script").json
    assert [(c["key"], c["weight"]) for c in body["categories"]] == [
        ("greeting", 10),
        ("verification", 20),
        ("move-details", 40),
        ("confirmation", 30),
    ]
