"""After the call: results Twilio computes when the conversation ends (facts F7, F11) reach the ended call's stream,
snapshot and board, across two gunicorn replicas on one real Redis; a replay is still one event, and a call
whose data expired takes nothing."""

import urllib.parse

import orjson
import requests
from werkzeug.datastructures import MultiDict

from cintel_relay.bus.keys import board_key, log_key

from .support import CALL_SID, SSEClient, payload, rule_execution, sign
from .support.postcall import completed_call, deliver, post_call_adherence, summary


def types(redis_client, session=CALL_SID):
    return [orjson.loads(f[b"f"])["type"] for _, f in redis_client.xrange(log_key(session))]


def test_post_call_results_reach_the_ended_call_live_in_a_late_snapshot_and_on_its_board(relays, redis_client):
    completed_call(relays)
    live = SSEClient(relays[1].url, CALL_SID)
    assert live.events(2)[1][1]["callStatus"]["status"] == "completed"
    post_call = rule_execution(
        [summary("sum-final", "Moving Denver to Austin"), post_call_adherence("adh", greeting="Succeeded")]
    )
    assert deliver(relays[0], post_call)["logged"] == 4  # each result and what it implies
    frames = [event for _, event in live.events(4)]
    assert [f["type"] for f in frames] == ["operator-result", "summary", "operator-result", "adherence"]
    assert frames[1]["data"]["final"] is True and frames[1]["data"]["text"] == "Moving Denver to Austin"
    snapshot = SSEClient(relays[0].url, CALL_SID).events(2)[1][1]  # a viewer opening the call afterwards
    assert snapshot["summary"]["final"] is True and snapshot["adherence"]["score"] > 0
    board = orjson.loads(redis_client.get(board_key(CALL_SID)))
    assert board["ended"] is True and board["score"] == snapshot["adherence"]["score"]
    assert deliver(relays[1], post_call) == {"ok": True, "logged": 0, "held": 0, "duplicates": 4}  # a replay
    assert types(redis_client).count("summary") == 1


def test_a_running_summary_arriving_after_the_final_one_does_not_replace_it(relays, redis_client):
    completed_call(relays)
    deliver(relays[0], rule_execution([summary("sum-final", "The post-call summary")]))
    late = summary("sum-running", "A running summary, delivered late", post=False)
    late["executionDetails"]["communications"] = {"first": "c1", "last": "c2"}
    assert deliver(relays[1], rule_execution([late]))["logged"] == 2
    snapshot = SSEClient(relays[0].url, CALL_SID).events(2)[1][1]
    assert snapshot["summary"]["text"] == "The post-call summary" and types(redis_client).count("summary") == 2


def test_a_post_call_result_for_a_call_whose_data_expired_is_taken_by_no_one(relays, redis_client):
    completed_call(relays)
    redis_client.delete(*[k for k in redis_client.keys("cintel:*") if not k.endswith(b":ended")])  # expired
    again = summary("sum-late", "Too late")
    again["referenceIds"] = [CALL_SID]
    assert deliver(relays[0], rule_execution([again])) == {
        "ok": True,
        "logged": 0,
        "held": 0,
        "duplicates": 0,
        "stale": 2,
    }
    unnamed = deliver(relays[1], rule_execution([summary("sum-unnamed", "No call named")]))
    assert unnamed["logged"] == 0 and not redis_client.exists(log_key(CALL_SID))


# --- repeated form keys (the signature sorts repeated values, so their order is not signed) -----------------


def post_pairs(relay, pairs):
    url = relay.url + "/webhook/status"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, MultiDict(pairs))}
    return requests.post(url, data=urllib.parse.urlencode(pairs), headers=headers, timeout=10)


def test_a_repeated_key_the_relay_never_reads_is_accepted_and_one_it_reads_refused(relays, redis_client):
    form = list(urllib.parse.parse_qsl(payload("status-callback.form").strip()))
    tagged = post_pairs(relays[0], form + [("SipHeader_X-Tag", "b"), ("SipHeader_X-Tag", "a")])
    assert tagged.status_code == 200 and tagged.json()["logged"] == 1
    twice = post_pairs(relays[1], form + [("CallStatus", "ringing")])
    assert (twice.status_code, twice.json()["code"]) == (400, "repeated_parameter")
    assert "CallStatus" in twice.json()["error"] and types(redis_client) == ["call-status"]
