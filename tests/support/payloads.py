"""Twilio payloads: the example files in tests/payloads, and builders for the shapes the tests vary."""

import json
import os

from cintel_relay import normalize
from cintel_relay.catalog import EMPTY

from .processes import ROOT

#: Example Twilio payloads (shapes from Twilio's published schemas), kept with the tests.
PAYLOADS = os.path.join(ROOT, "tests", "payloads")
CALL_SID = "CA5f0c2d7e9a8b4c3d2e1f0a9b8c7d6e5f"
CONVERSATION = "conv_conversation_01kg2v7x3m4n5p6q7r8s9t0v1w"
SCRIPT_OPERATOR = "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg"
SENTIMENT_OPERATOR = "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151"
SUMMARY_OPERATOR = "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn"


def payload(name: str):
    """One of the example payloads in tests/payloads, parsed."""
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as fh:
        return fh.read() if name.endswith(".form") else json.load(fh)


def communication(comm_id, text, speaker="agent", call_sid=CALL_SID, conversation=CONVERSATION, channel="VOICE"):
    """An Orchestrator COMMUNICATION_CREATED event: one transcribed utterance."""
    address = "+18005550199" if speaker == "agent" else "+15125550123"
    return {
        "eventType": "COMMUNICATION_CREATED",
        "timestamp": "2026-11-24T15:02:09.880Z",
        "data": {
            "id": comm_id,
            "conversationId": conversation,
            "author": {"address": address, "channel": channel, "participantId": f"p-{speaker}"},
            "content": {"type": "TRANSCRIPTION", "text": text},
            "channelId": call_sid,
            "createdAt": "2026-11-24T15:02:09.870Z",
            "occurredAt": "2026-11-24T15:02:07.310Z",
        },
    }


def rule_execution(results, conversation=CONVERSATION):
    """A Conversation Intelligence rule execution carrying ``results``."""
    return {
        "accountId": "AC" + "0" * 32,
        "conversationId": conversation,
        "intelligenceConfiguration": {"id": "cfg", "version": 1, "ruleId": "rule"},
        "operatorResults": results,
    }


def operator_result(result_id, operator_id, result, output_format="JSON"):
    """One operator result of a rule execution."""
    return {
        "id": result_id,
        "operator": {"id": operator_id, "version": 1, "parameters": None},
        "outputFormat": output_format,
        "result": result,
        "dateCreated": "2026-11-24T15:02:11.418Z",
        "referenceIds": [],
        "executionDetails": {"trigger": {"on": "COMMUNICATION"}, "channels": ["VOICE"]},
    }


def adherence_result(result_id, **verdicts):
    """A Script Adherence result; keyword names are category keys, values Succeeded/Failed/NotEvaluated."""
    categories = [
        {"category_key": key.replace("_", " ").title(), "criteria": [{"criteria_key": "Action", "criteria_met": v}]}
        for key, v in verdicts.items()
    ]
    return operator_result(result_id, SCRIPT_OPERATOR, {"categories": categories, "explanation": "because"})


def conversation_closed(conversation=CONVERSATION):
    """An Orchestrator CONVERSATION_UPDATED event: the conversation CLOSED (the blog closes it on hang-up)."""
    data = {"id": conversation, "accountId": "AC" + "0" * 32, "configurationId": "cfg", "status": "CLOSED"}
    return {"eventType": "CONVERSATION_UPDATED", "timestamp": "2026-11-24T15:08:52Z", "data": data}


def post_call(result):
    """``result`` as Twilio computes it when the conversation ends (trigger ``CONVERSATION_END``, facts F7, F11)."""
    result["executionDetails"] = {
        "trigger": {"on": "CONVERSATION_END", "timestamp": "2026-11-24T15:09:00Z"},
        "channels": ["VOICE"],
    }
    return result


def result_events(payload: dict, operators, script, catalog=EMPTY) -> list:
    """The events a loaded rule execution becomes, flattened in order: what the webhook logs, from the function it
    uses (:func:`cintel_relay.normalize.rule_execution_groups`)."""
    return [
        event
        for group in normalize.rule_execution_groups(payload, operators, script, catalog)
        for event in group.events
    ]
