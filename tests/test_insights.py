"""Insights through real replicas: a custom operator's result reaches another replica's stream display-ready,
and the snapshot keeps the latest insight per operator."""

import json

import pytest

from .support import CALL_SID, SSEClient, communication, operator_result, post_json, rule_execution
from .test_catalog import CHURN_ID, UNKNOWN_ID, example

UPSELL_ID = "intelligence_operator_01kg2vy0c1d2e3f4g5h6j7k8m9"


@pytest.fixture(scope="module")
def pair(start_module_relay, tmp_path_factory):
    data = example()
    data["operators"][0]["operatorId"] = UPSELL_ID
    data["operators"][1]["operatorId"] = CHURN_ID
    path = tmp_path_factory.mktemp("catalog") / "operators.json"
    path.write_text(json.dumps(data))
    return [start_module_relay(CINTEL_OPERATORS_FILE=str(path)) for _ in range(2)]


def test_a_custom_json_result_reaches_another_replicas_stream_as_an_insight_titled_by_its_schema(pair, redis_client):
    redis_client.flushall()
    first, second = pair
    assert post_json(first.url, "/webhook/cor-event", communication("c1", "Do you insure pianos?", "customer")).ok
    stream = SSEClient(second.url, CALL_SID)
    stream.events(2)  # connected, initial
    upsell = {"opportunity": True, "likelihood": "HIGH", "product": "Full-value protection"}
    results = [
        operator_result("r1", UPSELL_ID, upsell),
        operator_result("r2", CHURN_ID, {"label": "MEDIUM"}, output_format="CLASSIFICATION"),
        operator_result("r3", UNKNOWN_ID, {"text": "Mentioned a competitor."}, output_format="TEXT"),
    ]
    answer = post_json(first.url, "/webhook/cintel-action", rule_execution(results))
    assert answer.status_code == 200, answer.text
    insights = [frame["data"] for _, frame in stream.events(6) if frame["type"] == "insight"]
    assert [(i["operatorName"], i["kind"]) for i in insights] == [
        ("Upsell Opportunity", "JSON"),
        ("Churn Risk", "CLASSIFICATION"),
        (UNKNOWN_ID, "TEXT"),
    ]
    assert [(f["label"], f["value"], f["style"]) for f in insights[0]["fields"]] == [
        ("Opportunity", "Yes", "value"),
        ("Offer", "Full-value protection", "value"),
        ("Likelihood", "HIGH", "label"),
    ]
    assert insights[0]["raw"] == upsell
    assert (insights[1]["fields"][0]["value"], insights[1]["fields"][0]["tone"]) == ("MEDIUM", "warning")

    later = operator_result("r4", CHURN_ID, {"label": "HIGH"}, output_format="CLASSIFICATION")
    assert post_json(second.url, "/webhook/cintel-action", rule_execution([later])).ok
    _, initial = SSEClient(first.url, CALL_SID).events(2)[1]
    assert set(initial["insights"]) == {UPSELL_ID, CHURN_ID, UNKNOWN_ID}
    assert initial["insights"][CHURN_ID]["fields"][0]["tone"] == "critical"  # the latest per operator


def test_a_redelivered_result_is_one_insight(pair, redis_client):
    redis_client.flushall()
    first, second = pair
    assert post_json(first.url, "/webhook/cor-event", communication("c1", "Hello", "customer")).ok
    body = rule_execution([operator_result("r1", CHURN_ID, {"label": "LOW"}, output_format="CLASSIFICATION")])
    assert post_json(first.url, "/webhook/cintel-action", body).json()["logged"] == 2
    assert post_json(second.url, "/webhook/cintel-action", body).json()["duplicates"] == 2
