from cintel_relay import normalize
from cintel_relay.operators import DEFAULT_OPERATORS
from cintel_relay.schemas import RuleExecutionSchema
from cintel_relay.script import load_script

from .support import CALL_SID, payload


def rule(name):
    return RuleExecutionSchema().load(payload(name))


def test_script_adherence_result_yields_operator_result_and_adherence():
    events = normalize.rule_execution_events(rule("cintel-script-adherence.json"), DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "adherence"]
    result = events[0].frame["data"]
    assert result["operator"]["friendlyName"] == "Unknown Operator"  # no name in the payload
    assert result["conversationId"] == "conv_conversation_01kg2v7x3m4n5p6q7r8s9t0v1w"
    adherence = events[1].frame["data"]
    assert [c["status"] for c in adherence["categories"]] == ["met", "missed", "pending", "pending"]
    assert adherence["operatorResultId"] == result["id"]
    assert events[0].dedupe != events[1].dedupe


def test_null_results_skipped_and_labels_lowercased():
    events = normalize.rule_execution_events(rule("cintel-sentiment-summary.json"), DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "sentiment", "operator-result", "summary"]
    assert events[1].frame["data"]["label"] == "positive"
    assert events[3].frame["data"]["text"].startswith("Customer is moving")
    assert events[0].frame["data"]["operator"]["friendlyName"] == "Sentiment"


def test_unknown_operator_and_unusable_results_pass_through_only():
    payload_ = {"conversationId": "c", "operatorResults": [
        {"id": "r1", "operator": {"id": "intelligence_operator_custom"}, "result": {"label": "positive"}},
        {"id": "r2", "operator": {"id": "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151"}, "result": {"label": "ecstatic"}},
        {"id": "r3", "operator": {"id": "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn"}, "result": "text"},
    ]}
    loaded = RuleExecutionSchema().load(payload_)
    events = normalize.rule_execution_events(loaded, DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result"] * 3


def test_call_sid_in_reference_ids_names_the_session():
    loaded = RuleExecutionSchema().load({"conversationId": "c", "operatorResults": [
        None, {"id": "r", "operator": {"id": "o"}, "referenceIds": ["conv_communication_x", CALL_SID]}]})
    assert normalize.rule_execution_session(loaded) == CALL_SID
    assert normalize.rule_execution_session(rule("cintel-sentiment-summary.json")) is None


def test_speaker_by_participant_type_then_agent_address():
    agents = ["+18005550199"]
    assert normalize.speaker("HUMAN_AGENT", "+1555", agents) == "agent"
    assert normalize.speaker("AI_AGENT", None, agents) == "agent"
    assert normalize.speaker("CUSTOMER", "+18005550199", agents) == "customer"
    assert normalize.speaker(None, "+18005550199", agents) == "agent"
    assert normalize.speaker("UNKNOWN", "+15125550123", agents) == "customer"


def test_sessions_for_communications_and_participants():
    comm = payload("cor-communication-transcription.json")["data"]
    assert normalize.session_for_communication(comm) == CALL_SID
    sms = dict(comm, author={"channel": "SMS", "address": "+1"}, channelId="SM123")
    assert normalize.session_for_communication(sms) == comm["conversationId"]
    assert normalize.session_for_communication(dict(comm, author=None)) is None
    participant = payload("cor-participant-added.json")["data"]
    assert normalize.session_for_participant(participant) == CALL_SID
    assert normalize.participant_type(participant, ["+15125550123"]) == "CUSTOMER"
    unknown = dict(participant, type=None)
    assert normalize.participant_type(unknown, ["+15125550123"]) == "AGENT"


def test_transcript_event_needs_text():
    comm = payload("cor-communication-transcription.json")["data"]
    event = normalize.transcript_event(comm, None, ["+18005550199"])
    assert event.frame == {"type": "transcript", "data": {
        "id": comm["id"], "timestamp": "2026-11-24T15:02:07.310Z", "speaker": "agent",
        "text": "Thanks for contacting Swift Movers. This is Dana, how can I help you today?"}}
    assert normalize.transcript_event(dict(comm, content={"type": "TEXT", "text": "  "}), None, []) is None


def test_call_status_events_end_the_session_when_terminal():
    ringing = normalize.call_status_event({"CallSid": CALL_SID, "CallStatus": "ringing"})
    done = normalize.call_status_event({"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "412"})
    assert not ringing.ends and done.ends
    assert done.frame["data"]["duration"] == "412" and ringing.dedupe != done.dedupe
