"""A call that completes, its conversation closing, and the results Twilio computes after it (facts F7, F11)."""

from . import (
    CALL_SID,
    SUMMARY_OPERATOR,
    adherence_result,
    communication,
    conversation_closed,
    operator_result,
    post_call,
    post_form,
    post_json,
)


def deliver(relay, body):
    path = "/webhook/cintel-action" if "operatorResults" in body else "/webhook/cor-event"
    response = post_json(relay.url, path, body)
    assert response.status_code == 200, response.text
    return response.json()


def summary(result_id, text, post=True):
    body = operator_result(result_id, SUMMARY_OPERATOR, {"text": text}, "TEXT")
    return post_call(body) if post else body


def post_call_adherence(result_id, **verdicts):
    return post_call(adherence_result(result_id, **verdicts))


def completed_call(relays):
    """A call with two utterances, completed (status callback) and its conversation closed."""
    deliver(relays[0], communication("c1", "Thanks for calling Swift Movers"))
    deliver(relays[1], communication("c2", "I need a quote", speaker="customer"))
    assert post_form(relays[0].url, "/webhook/status", {"CallSid": CALL_SID, "CallStatus": "completed"}).ok
    deliver(relays[1], conversation_closed())
