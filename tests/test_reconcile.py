"""Before a report settles, the relay reads the call's conversation back from Twilio (Intelligence v3 operator
results, Conversations v2 communications, paged) and merges what no webhook brought: into the call's log, its live
stream and its report, through the webhooks' dedupe. Two gunicorn replicas, real Redis, the fake Twilio APIs."""

import requests

from .support import CALL_SID, CONVERSATION, SSEClient, communication, wait_for
from .support.fakes.twilio import ACCOUNT_SID
from .support.postcall import completed_call, deliver, post_call_adherence, summary


def from_twilio(result):
    """An operator result as the Intelligence v3 API lists it."""
    return {**result, "accountId": ACCOUNT_SID, "conversationId": CONVERSATION}


def final_report(relay):
    body = requests.get(f"{relay.url}/api/calls/{CALL_SID}/report", timeout=10).json()
    return body if body["final"] else None


def test_results_only_twilio_has_are_in_the_final_report_and_on_the_stream(start_private_relay, fake):
    env = dict(
        CINTEL_STREAM_AUTH="none",
        CINTEL_REPORT_SETTLE_SECONDS="0.3",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CINTEL_INTELLIGENCE_URL=fake.intelligence_url,
        CINTEL_CONVERSATIONS_URL=fake.conversations_url,
    )
    relays = [start_private_relay(**env) for _ in range(2)]
    missed = communication("c3", "And the piano, is it insured?", speaker="customer")["data"]
    fake.communications[CONVERSATION] = [
        {**communication(f"c{n}", text)["data"], "accountId": ACCOUNT_SID, "recipients": []}
        for n, text in ((1, "Thanks for calling Swift Movers"), (2, "I need a quote"))
    ] + [{**missed, "accountId": ACCOUNT_SID, "recipients": []}]
    fake.operator_results = [
        from_twilio(summary("sum-api", "Moving Denver to Austin; piano insured")),
        from_twilio(post_call_adherence("adh-api", greeting="Succeeded")),
    ]
    fake.page_size = 1  # every list takes several pages
    live = SSEClient(relays[1].url, CALL_SID)
    live.events(2)
    completed_call(relays)  # c1 and c2 by webhook; c3 and both results only in Twilio's APIs
    report = wait_for(lambda: final_report(relays[0]), timeout=20, what="the report to settle")
    assert [t["text"] for t in report["transcript"]] == [
        "Thanks for calling Swift Movers",
        "I need a quote",
        "And the piano, is it insured?",
    ]
    assert report["summary"] == {"text": "Moving Denver to Austin; piano insured", "final": True}
    assert next(c for c in report["adherence"]["categories"] if c["key"] == "greeting")["status"] == "met"
    assert {r["id"] for r in report["operatorResults"]} == {"sum-api", "adh-api"}
    streamed = [event["type"] for _, event in live.events(8)]  # two utterances and the status, then the merge
    assert streamed[3:] == ["transcript", "operator-result", "summary", "operator-result", "adherence"]
    pages = [r for r in fake.requests if r["path"].endswith(("/OperatorResults", "/Communications"))]
    assert len(pages) >= 5 and all(r["user"] == ACCOUNT_SID for r in pages)
    assert all(r["query"].get("conversationId") == CONVERSATION for r in pages if r["api"] == "intelligence")
    # the same dedupe as webhooks: c1 and c2 (brought by webhook) were not logged again, and the missed
    # utterance arriving late by webhook is a duplicate
    assert (
        deliver(relays[1], {"eventType": "COMMUNICATION_CREATED", "timestamp": "t", "data": missed})["duplicates"] == 1
    )
    snapshot = SSEClient(relays[0].url, CALL_SID).events(2)[1][1]
    assert [t["id"] for t in snapshot["transcript"]] == ["c1", "c2", "c3"]
