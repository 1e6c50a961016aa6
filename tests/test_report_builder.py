"""The report builder: a pure function of a call's log and snapshot, one function per section."""

from cintel_relay.reports import builder
from cintel_relay.reports.builder import CallRecord, build_report, same_content

CALL = "CA" + "1" * 32


def record(*log, latest=None, ended=True):
    frames = [(f"{1_700_000_000_000 + 1000 * n}-0", {"type": t, "data": d}) for n, (t, d) in enumerate(log)]
    return CallRecord(CALL, frames, latest or {}, ended, "conv_conversation_x", "Moving quote")


def test_every_field_of_the_contract_from_the_log_and_snapshot():
    utterance = {"id": "c1", "timestamp": "t", "speaker": "agent", "channel": "VOICE", "text": "Hi"}
    report = build_report(
        record(
            ("transcript", utterance),
            ("suggestion", {"id": "s1", "text": "Offer insurance", "timestamp": "t", "operatorResultId": "s1"}),
            ("call-status", {"status": "completed", "timestamp": "t", "duration": "412"}),
            ("coaching", {"id": "n1", "text": "Confirm the date.", "by": "k1", "timestamp": "t"}),
            latest={
                "summary": {"text": "Moved", "final": True},
                "sentiment": {"label": "mixed"},
                "insights": {"op1": {"operatorName": "Churn Risk", "kind": "CLASSIFICATION", "fields": [], "raw": {}}},
            },
        )
    )
    assert report["callSid"] == CALL and report["conversationId"] == "conv_conversation_x"
    assert (report["status"], report["final"], report["revision"]) == ("completed", False, 0)
    assert report["startedAt"] == "2023-11-14T22:13:20.000Z" and report["endedAt"] == "2023-11-14T22:13:22.000Z"
    assert report["durationSeconds"] == 412  # Twilio's CallDuration, when it sent one
    assert report["script"] == {"name": "Moving quote"} and report["adherence"] is None
    assert report["summary"] == {"text": "Moved", "final": True} and report["sentiment"] == "mixed"
    assert report["suggestions"] == [{"id": "s1", "text": "Offer insurance", "timestamp": "t"}]
    assert report["transcript"] == [utterance] and report["operatorResults"] == []
    assert report["coaching"] == [{"id": "n1", "text": "Confirm the date.", "by": "k1", "timestamp": "t"}]
    assert report["insights"]["op1"]["operatorName"] == "Churn Risk"


def test_a_live_call_without_a_told_duration_and_a_new_section(monkeypatch):
    live = build_report(record(("transcript", {"text": "Hi"}), ended=False))
    assert (live["status"], live["endedAt"], live["durationSeconds"]) == ("live", None, None)
    assert same_content(live, {**live, "final": True, "revision": 3, "settledAt": "x"})
    monkeypatch.setattr(builder, "SECTIONS", builder.SECTIONS + (lambda r: {"alerts": []},))
    assert build_report(record())["alerts"] == []  # one function per section: adding one is one line
