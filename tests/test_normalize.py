import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cintel_relay import normalize
from cintel_relay.operators import DEFAULT_OPERATORS, OperatorKind
from cintel_relay.schemas import RuleExecutionSchema
from cintel_relay.script import load_script

from .support import (
    CALL_SID,
    SCRIPT_OPERATOR,
    SENTIMENT_OPERATOR,
    SUMMARY_OPERATOR,
    adherence_result,
    payload,
    result_events,
    rule_execution,
)

NBR_OPERATOR = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"


def rule(name):
    return RuleExecutionSchema().load(payload(name))


def test_script_adherence_result_yields_operator_result_and_adherence():
    events = result_events(rule("cintel-script-adherence.json"), DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "adherence"]
    result = events[0].frame["data"]
    assert result["operator"]["friendlyName"] == "Script Adherence"  # no name in the payload: the table's
    assert result["conversationId"] == "conv_conversation_01kg2v7x3m4n5p6q7r8s9t0v1w"
    # Twilio's sample keeps the operator result as sent under rawPayload; its plugin's log shows it.
    sent = payload("cintel-script-adherence.json")["operatorResults"][0]
    raw = result["rawPayload"]
    assert result["result"] == sent["result"] == raw["result"]
    assert (raw["id"], raw["operator"]["id"], raw["outputFormat"]) == (
        sent["id"],
        sent["operator"]["id"],
        sent["outputFormat"],
    )
    assert raw["executionDetails"]["communications"] == sent["executionDetails"]["communications"]
    adherence = events[1].frame["data"]
    assert [c["status"] for c in adherence["categories"]] == ["met", "missed", "pending", "pending"]
    assert adherence["operatorResultId"] == result["id"]
    assert events[0].dedupe != events[1].dedupe


def test_null_results_skipped_and_labels_lowercased():
    events = result_events(rule("cintel-sentiment-summary.json"), DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "sentiment", "operator-result", "summary"]
    assert events[1].frame["data"]["label"] == "positive"
    assert events[3].frame["data"]["text"].startswith("Customer is moving")
    assert events[0].frame["data"]["operator"]["friendlyName"] == "Sentiment"


def test_unusable_results_of_twilios_operators_pass_through_only_and_an_unknown_operator_is_an_insight():
    payload_ = {
        "conversationId": "c",
        "operatorResults": [
            {"id": "r1", "operator": {"id": "intelligence_operator_custom"}, "result": {"label": "positive"}},
            {
                "id": "r2",
                "operator": {"id": "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151"},
                "result": {"label": "ecstatic"},
            },
            {
                "id": "r3",
                "operator": {"id": "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn"},
                "result": {"text": 42},
            },
            {
                "id": "r4",
                "operator": {"id": "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"},
                "result": {"text": " "},
            },
            {"id": "r5", "operator": {"id": "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg"}, "result": "met"},
        ],
    }
    loaded = RuleExecutionSchema().load(payload_)
    events = result_events(loaded, DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "insight"] + ["operator-result"] * 4
    assert events[1].frame["data"]["operatorName"] == "intelligence_operator_custom"  # titled by its id, never dropped
    assert events[0].frame["data"]["operator"]["friendlyName"] == "Unknown Operator"


def test_speaker_by_participant_type_then_agent_address():
    agents = ["+18005550199"]
    assert normalize.speaker("HUMAN_AGENT", "+1555", agents) == "agent"
    assert normalize.speaker("AI_AGENT", None, agents) == "agent"
    assert normalize.speaker("CUSTOMER", "+18005550199", agents) == "customer"
    assert normalize.speaker(None, "+18005550199", agents) == "agent"
    assert normalize.speaker("UNKNOWN", "+15125550123", agents) == "customer"


def test_sessions_for_participants():
    participant = payload("cor-participant-added.json")["data"]
    assert normalize.session_for_participant(participant) == CALL_SID
    assert normalize.participant_type(participant, ["+15125550123"]) == "CUSTOMER"
    unknown = dict(participant, type=None)
    assert normalize.participant_type(unknown, ["+15125550123"]) == "AGENT"


def test_transcript_event_needs_text():
    comm = payload("cor-communication-transcription.json")["data"]
    event = normalize.transcript_event(comm, None, ["+18005550199"])
    assert event.frame == {
        "type": "transcript",
        "data": {
            "id": comm["id"],
            "timestamp": "2026-11-24T15:02:07.310Z",
            "speaker": "agent",
            "channel": "VOICE",
            "text": "Thanks for contacting Swift Movers. This is Dana, how can I help you today?",
        },
    }
    assert normalize.transcript_event(dict(comm, content={"type": "TEXT", "text": "  "}), None, []) is None


def test_call_status_events_end_the_session_when_terminal():
    ringing = normalize.call_status_event({"CallSid": CALL_SID, "CallStatus": "ringing"})
    done = normalize.call_status_event({"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "412"})
    assert not ringing.ends and done.ends
    assert done.frame["data"]["duration"] == "412" and ringing.dedupe != done.dedupe


def test_transcript_entries_name_their_channel_uppercased_or_unknown():
    comm = payload("cor-communication-transcription.json")["data"]
    sms = dict(comm, author=dict(comm["author"], channel="sms"), channelId="SM" + "0" * 32)
    whatsapp = dict(comm, author=dict(comm["author"], channel=" WhatsApp "))
    nameless = dict(comm, author={"address": "+15125550123"})
    channels = [
        normalize.transcript_event(c, "CUSTOMER", []).frame["data"]["channel"] for c in (comm, sms, whatsapp, nameless)
    ]
    assert channels == ["VOICE", "SMS", "WHATSAPP", "UNKNOWN"]


def test_communication_routing_names_the_call_only_for_voice():
    comm = payload("cor-communication-transcription.json")["data"]
    assert normalize.communication_routing(comm) == {"id": comm["id"], "channel": "VOICE", "call": CALL_SID}
    sms = dict(comm, author={"channel": "SMS", "address": "+15125550123"}, channelId="SM" + "1" * 32)
    assert normalize.communication_routing(sms) == {"id": comm["id"], "channel": "SMS", "call": None}
    # A text message whose channelId happens to look like a Call SID still belongs to no call.
    assert normalize.communication_routing(dict(sms, channelId=CALL_SID))["call"] is None
    assert normalize.communication_routing(dict(comm, channelId=None))["call"] is None
    assert normalize.communication_routing(dict(comm, author=None)) == {
        "id": comm["id"],
        "channel": "UNKNOWN",
        "call": None,
    }


def operator_results(*results):
    return RuleExecutionSchema().load({"conversationId": "c", "operatorResults": list(results)})


SHAPES = {  # operator, outputFormat, result as Twilio sends it -> the derived event's type and fields
    # OpenAPI shapes (facts F3)
    "classification {label}": (
        SENTIMENT_OPERATOR,
        "CLASSIFICATION",
        {"label": "Negative"},
        "sentiment",
        {"label": "negative"},
    ),
    "text {text}": (
        SUMMARY_OPERATOR,
        "TEXT",
        {"text": " Moving on March 3. "},
        "summary",
        {"text": "Moving on March 3."},
    ),
    # What Twilio's SDK also reads (operator_result_processor._generate_content; facts F4, F6)
    "classification bare string": (
        SENTIMENT_OPERATOR,
        "CLASSIFICATION",
        "POSITIVE",
        "sentiment",
        {"label": "positive"},
    ),
    "text bare string": (SUMMARY_OPERATOR, "TEXT", "Moving on March 3.", "summary", {"text": "Moving on March 3."}),
    "text {result}": (
        SUMMARY_OPERATOR,
        "GENERATION",
        {"result": "Moving on March 3.", "format": "text"},
        "summary",
        {"text": "Moving on March 3."},
    ),
    "json {payload: json string}": (
        SCRIPT_OPERATOR,
        "JSON",
        {
            "payload": json.dumps(
                {
                    "categories": [
                        {"category_key": "greeting", "criteria": [{"criteria_key": "a", "criteria_met": "Succeeded"}]}
                    ]
                }
            )
        },
        "adherence",
        {"met": ["greeting"]},
    ),
    "json in the SDK's union wrapper": (
        SCRIPT_OPERATOR,
        "JSON",
        {
            "com.twilio.cai.intelligence.JSONResult": {
                "payload": json.dumps(
                    {
                        "categories": [
                            {
                                "category_key": "verification",
                                "criteria": [{"criteria_key": "a", "criteria_met": "Succeeded"}],
                            }
                        ]
                    }
                )
            }
        },
        "adherence",
        {"met": ["verification"]},
    ),
    "json {payload: object}": (
        SCRIPT_OPERATOR,
        "JSON",
        {
            "payload": {
                "categories": [
                    {"category_key": "Move Details", "criteria": [{"criteria_key": "a", "criteria_met": "Succeeded"}]}
                ]
            }
        },
        "adherence",
        {"met": ["move-details"]},
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_result_shape_twilio_sends_or_its_sdk_reads_is_understood(shape):
    operator, output_format, result, type_, fields = SHAPES[shape]
    loaded = operator_results(
        {
            "id": "r",
            "operator": {"id": operator},
            "outputFormat": output_format,
            "result": result,
            "dateCreated": "2026-11-24T15:02:11.418Z",
        }
    )
    events = result_events(loaded, DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", type_]
    assert events[0].frame["data"]["result"] == result  # passed through untouched
    derived = dict(events[1].frame["data"])
    if type_ == "adherence":  # the categories it met (the weighted score is the bus's, see test_bus)
        derived["met"] = [c["key"] for c in derived["categories"] if c["status"] == "met"]
    assert {key: derived[key] for key in fields} == fields
    assert (derived["operatorResultId"], derived["timestamp"]) == ("r", "2026-11-24T15:02:11.418Z")


@pytest.mark.parametrize(
    "result",
    [
        {"payload": "{not json"},
        {"payload": "[1, 2]"},
        {"payload": "[" * 100_000 + "]" * 100_000},
        {"payload": 7},
        "categories",
        None,
    ],
)
def test_unusable_json_results_pass_through_only(result):
    loaded = operator_results(
        {"id": "r", "operator": {"id": SCRIPT_OPERATOR}, "outputFormat": "JSON", "result": result}
    )
    assert [e.type for e in result_events(loaded, DEFAULT_OPERATORS, load_script())] == ["operator-result"]


def test_next_best_response_yields_a_suggestion_frame():
    loaded = operator_results(
        {
            "id": "r-nbr",
            "operator": {"id": NBR_OPERATOR},
            "outputFormat": "TEXT",
            "result": {"text": "Offer full-value insurance for the piano."},
            "dateCreated": "2026-11-24T15:04:00.000Z",
        }
    )
    events = result_events(loaded, DEFAULT_OPERATORS, load_script())
    assert [e.type for e in events] == ["operator-result", "suggestion"]
    assert events[0].frame["data"]["operator"]["friendlyName"] == "Next Best Response"
    assert events[1] == normalize.Event(
        "opres:r-nbr:suggestion",
        {
            "type": "suggestion",
            "data": {
                "id": "r-nbr",
                "text": "Offer full-value insurance for the piano.",
                "timestamp": "2026-11-24T15:04:00.000Z",
                "operatorResultId": "r-nbr",
            },
        },
    )


def test_a_configured_operator_id_of_the_suggestion_kind_yields_suggestions():
    operators = dict(DEFAULT_OPERATORS, intelligence_operator_custom=OperatorKind.SUGGESTION)
    loaded = operator_results(
        {
            "id": "r",
            "operator": {"id": "intelligence_operator_custom", "name": "Upsell"},
            "outputFormat": "TEXT",
            "result": "Mention packing service.",
        }
    )
    events = result_events(loaded, operators, load_script())
    assert [e.type for e in events] == ["operator-result", "suggestion"]
    assert events[0].frame["data"]["operator"]["friendlyName"] == "Upsell"
    assert events[1].frame["data"]["text"] == "Mention packing service."


def test_result_routing_names_the_last_then_first_communication_and_a_call_sid():
    window = {"first": "conv_communication_a", "last": "conv_communication_b"}
    result = {"executionDetails": {"communications": window}, "referenceIds": ["conv_participant_x", CALL_SID]}
    assert normalize.result_routing(result) == {
        "communications": ["conv_communication_b", "conv_communication_a"],
        "call": CALL_SID,
        "postCall": False,
    }
    same = {"executionDetails": {"communications": {"first": "conv_communication_a", "last": "conv_communication_a"}}}
    assert normalize.result_routing(same) == {
        "communications": ["conv_communication_a"],
        "call": None,
        "postCall": False,
    }
    only_first = {"executionDetails": {"communications": {"first": "conv_communication_a", "last": ""}}}
    assert normalize.result_routing(only_first)["communications"] == ["conv_communication_a"]
    for bare in (
        {},
        {"executionDetails": None},
        {"executionDetails": {"communications": None}},
        {"executionDetails": {"communications": {"last": 5}}, "referenceIds": None},
    ):
        assert normalize.result_routing(bare) == {"communications": [], "call": None, "postCall": False}
    ended = {"executionDetails": {"trigger": {"on": "CONVERSATION_END"}}}
    assert normalize.result_routing(ended)["postCall"] is True  # facts F7, F11: post-call Summary and adherence


def test_rule_execution_groups_keep_each_results_events_with_its_routing():
    body = payload("cintel-sentiment-summary.json")
    body["operatorResults"][-1]["referenceIds"] = [CALL_SID]
    loaded = RuleExecutionSchema().load(body)
    groups = normalize.rule_execution_groups(loaded, DEFAULT_OPERATORS, load_script())
    assert [[e.type for e in group.events] for group in groups] == [
        ["operator-result", "sentiment"],
        ["operator-result", "summary"],
    ]
    results = [r for r in loaded["operatorResults"] if r]
    assert [routing for routing, _ in groups] == [normalize.result_routing(r) for r in results]
    assert groups[1].routing["call"] == CALL_SID and groups[0].routing["call"] is None
    window = results[0]["executionDetails"]["communications"]
    assert groups[0].routing["communications"] == [window["last"], window["first"]]
    assert result_events(loaded, DEFAULT_OPERATORS, load_script()) == [
        event for group in groups for event in group.events
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["label", "text", "result", "payload", "categories", "criteria", "category_key", "criteria_met", "x"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    operator=st.sampled_from(sorted(DEFAULT_OPERATORS)),
    result=JSON_VALUES | JSON_VALUES.map(json.dumps).map(lambda text: {"payload": text}),
)
def test_any_result_of_a_known_operator_passes_through_and_never_raises(operator, result):
    loaded = operator_results({"id": "r", "operator": {"id": operator}, "result": result})
    events = result_events(loaded, DEFAULT_OPERATORS, load_script())
    assert events[0].type == "operator-result" and events[0].frame["data"]["result"] == result
    assert len(events) <= 2 and {e.type for e in events[1:]} <= {"adherence", "sentiment", "summary", "suggestion"}


def test_an_adherence_frame_names_the_communications_its_result_judged():
    result = adherence_result("r-judged", greeting="Succeeded")
    result["executionDetails"]["communications"] = {"first": "c1", "last": "c4"}
    events = result_events(rule_execution([result]), DEFAULT_OPERATORS, load_script())
    adherence = events[1].frame["data"]
    assert adherence["judged"] == {"first": "c1", "last": "c4"}
    verification = {c["key"]: c for c in adherence["categories"]}["verification"]
    assert verification["withinSeconds"] == 50 and adherence["lateCredit"] == 1.0
    result["executionDetails"]["communications"] = None
    events = result_events(rule_execution([result]), DEFAULT_OPERATORS, load_script())
    assert events[1].frame["data"]["judged"] == {"first": None, "last": None}
