"""Rule executions through the webhook, against real Redis: Twilio's result shapes, operator names, suggestions."""

import orjson

from cintel_relay.bus.event_bus import log_key

from .support import (
    CALL_SID,
    SCRIPT_OPERATOR,
    SENTIMENT_OPERATOR,
    SUMMARY_OPERATOR,
    json_request,
    operator_result,
    payload,
    rule_execution,
)

BASE = "http://localhost"
NBR_OPERATOR = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"


def post(client, path, body):
    url, headers, raw = json_request(BASE, path, body)
    response = client.post(url[len(BASE) :], data=raw, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def logged(redis_client):
    return [orjson.loads(f[b"f"]) for _, f in redis_client.xrange(log_key(CALL_SID))]


def test_twilio_shapes_and_nameless_operators_reach_the_call(client, redis_client):
    post(client, "/webhook/cor-event", payload("cor-participant-added.json"))  # maps the conversation to the call
    nbr = operator_result("r-nbr", NBR_OPERATOR, {"text": "Offer full-value insurance for the piano."}, "TEXT")
    results = [
        operator_result(
            "r-script",
            SCRIPT_OPERATOR,
            {
                "categories": [
                    {
                        "category_key": "greeting",
                        "criteria": [
                            {"criteria_key": "a", "criteria_met": "Succeeded"},
                            {"criteria_key": "b", "criteria_met": "NotEvaluated"},
                        ],
                    }
                ]
            },
        ),
        operator_result("r-sentiment", SENTIMENT_OPERATOR, "Negative", "CLASSIFICATION"),
        operator_result("r-summary", SUMMARY_OPERATOR, "Customer asked about piano insurance.", "TEXT"),
        nbr,
    ]
    assert post(client, "/webhook/cintel-action", rule_execution(results))["logged"] == 8
    assert post(client, "/webhook/cintel-action", rule_execution([nbr]))["duplicates"] == 2
    events = logged(redis_client)
    names = [e["data"]["operator"]["friendlyName"] for e in events if e["type"] == "operator-result"]
    assert names == ["Script Adherence", "Sentiment", "Summary", "Next Best Response"]
    derived = {e["type"]: e["data"] for e in events if e["type"] != "operator-result"}
    assert derived["adherence"]["categories"][0]["status"] == "met" and derived["adherence"]["score"] == 10
    assert derived["sentiment"]["label"] == "negative"
    assert derived["summary"]["text"] == "Customer asked about piano insurance."
    assert derived["suggestion"] == {
        "id": "r-nbr",
        "text": "Offer full-value insurance for the piano.",
        "timestamp": "2026-11-24T15:02:11.418Z",
        "operatorResultId": "r-nbr",
    }


def test_a_name_twilio_sends_is_kept(client, redis_client):
    post(client, "/webhook/cor-event", payload("cor-participant-added.json"))
    named = operator_result("r1", NBR_OPERATOR, "Ask for the move date.", "TEXT")
    named["operator"]["name"] = "Next Best Response (Movers)"
    post(client, "/webhook/cintel-action", rule_execution([named]))
    assert [e["data"].get("operator", {}).get("friendlyName") for e in logged(redis_client)] == [
        "Next Best Response (Movers)",
        None,
    ]
