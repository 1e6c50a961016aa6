"""``GET /api/calls/<CallSid>/report`` (docs/reports.md): the call's record, live then settled, authorized as its
stream, kept CINTEL_REPORT_TTL; two gunicorn replicas on one real Redis."""

import pytest
import requests

from cintel_relay.access import tickets
from cintel_relay.bus.keys import log_key, report_key

from .support import CALL_SID, TICKET_SECRET, communication, post_call, rule_execution, wait_for
from .support.payloads import SENTIMENT_OPERATOR, operator_result
from .support.postcall import completed_call, deliver, post_call_adherence, summary

OTHER_CALL = "CA" + "7" * 32


@pytest.fixture
def pair(start_relay, redis_client):
    """Two replicas that settle a call's report half a second after it completes."""
    return [start_relay(CINTEL_REPORT_SETTLE_SECONDS="0.5") for _ in range(2)]


def report(relay, call_sid=CALL_SID, **params):
    return requests.get(f"{relay.url}/api/calls/{call_sid}/report", params=params, timeout=10)


def settled_with_results(relay):
    body = report(relay).json()
    return body if body["final"] and len(body["operatorResults"]) == 3 else None


def test_a_call_report_is_live_then_settled_with_its_post_call_results_then_revised(pair, redis_client):
    deliver(pair[0], communication("c1", "Thanks for calling Swift Movers"))
    live = report(pair[1]).json()
    assert (live["status"], live["final"], live["revision"], live["endedAt"]) == ("live", False, 0, None)
    completed_call(pair)
    results = [
        summary("sum-final", "Moving Denver to Austin"),
        post_call_adherence("adh", greeting="Succeeded"),
        post_call(operator_result("sent", SENTIMENT_OPERATOR, {"label": "POSITIVE"}, "CLASSIFICATION")),
    ]
    deliver(pair[1], rule_execution(results))
    settled = wait_for(lambda: settled_with_results(pair[0]), what="the report to settle with the post-call results")
    assert settled["callSid"] == CALL_SID and settled["status"] == "completed" and settled["revision"] >= 1
    assert settled["summary"] == {"text": "Moving Denver to Austin", "final": True}
    assert settled["sentiment"] == "positive" and settled["script"]["name"]
    greeting = next(c for c in settled["adherence"]["categories"] if c["key"] == "greeting")
    assert greeting["status"] == "met" and settled["adherence"]["score"] > 0
    assert [(t["speaker"], t["channel"], t["text"]) for t in settled["transcript"]] == [
        ("agent", "VOICE", "Thanks for calling Swift Movers"),
        ("customer", "VOICE", "I need a quote"),
    ]
    assert [r["id"] for r in settled["operatorResults"]] == ["sum-final", "adh", "sent"]
    assert settled["startedAt"] <= settled["endedAt"] and settled["durationSeconds"] >= 0
    assert 0 < redis_client.ttl(log_key(CALL_SID)) < redis_client.ttl(report_key(CALL_SID))  # outlives the call
    deliver(pair[0], rule_execution([summary("sum-late", "Moving Denver to Austin, piano insured")]))
    revision = settled["revision"] + 1
    revised = wait_for(
        lambda: report(pair[1]).json()["revision"] == revision and report(pair[1]).json(), what="revision"
    )
    assert revised["summary"]["text"] == "Moving Denver to Austin, piano insured"
    redis_client.delete(*[k for k in redis_client.keys(f"cintel:{{{CALL_SID}}}:*")])  # the live data expired
    assert report(pair[0]).json() == revised


def test_an_unknown_call_is_404_and_a_bad_sid_400(relays, redis_client):
    unknown = report(relays[0], OTHER_CALL)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    bad = report(relays[1], "CA123")
    assert bad.status_code == 400 and "Call SID" in bad.json()["error"]


def test_with_flex_auth_the_report_needs_a_ticket_for_that_call(flex_app, redis_client):
    client = flex_app().test_client()
    assert client.get(f"/api/calls/{CALL_SID}/report").json["code"] == "ticket_missing"
    other, _ = tickets.mint(TICKET_SECRET, OTHER_CALL, "identity", 60)
    refused = client.get(f"/api/calls/{CALL_SID}/report?ticket={other}")
    assert refused.status_code == 403
    mine, _ = tickets.mint(TICKET_SECRET, CALL_SID, "identity", 60)
    assert client.get(f"/api/calls/{CALL_SID}/report?ticket={mine}").status_code == 404  # authorized; no record yet
