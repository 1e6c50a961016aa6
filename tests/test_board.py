"""The supervisor board: per-call summaries kept by the bus, served as one SSE stream by any replica."""

import signal

import pytest
import redis as redis_lib
import requests

from cintel_relay.bus.event_bus import EventBus
from cintel_relay.bus.keys import BOARD, board_key, latest_key
from cintel_relay.bus.store import Store
from cintel_relay.config import load_config
from cintel_relay.normalize import Event

from .support import (
    CALL_SID,
    CONVERSATION,
    SENTIMENT_OPERATOR,
    RedisServer,
    Relay,
    SSEClient,
    adherence_result,
    communication,
    json_request,
    operator_result,
    payload,
    post_form,
    post_json,
    rule_execution,
)
from .support.channels import sms
from .support.fakes.twilio import sid

BOARD_STREAM = "/api/board/stream"


def board_stream(relay):
    client = SSEClient(relay.url, None, path=BOARD_STREAM)
    _, snapshot = client.next_event()
    assert snapshot["type"] == "board"
    return client, snapshot


def agent_added(call_sid=CALL_SID, conversation=CONVERSATION, name="Dana Whitfield"):
    return {
        "eventType": "PARTICIPANT_ADDED",
        "data": {
            "id": f"p-agent-{call_sid}",
            "conversationId": conversation,
            "name": name,
            "type": "HUMAN_AGENT",
            "addresses": [{"channel": "VOICE", "address": "+18005550199", "channelId": call_sid}],
        },
    }


def agent_joins(relay, call_sid=CALL_SID, conversation=CONVERSATION, name="Dana Whitfield"):
    assert post_json(relay.url, "/webhook/cor-event", agent_added(call_sid, conversation, name)).status_code == 200


def test_the_board_says_a_conversation_with_no_call_is_one_and_names_its_channels(relays):
    """An SMS thread is a conversation on the board, not a call: the relay says so (``kind``), with the
    channels heard on it; a call's conversation texting during the call stays a call."""
    board, _ = board_stream(relays[1])
    conv = "conv_conversation_sms_only_board"
    assert post_json(relays[0].url, "/webhook/cor-event", sms("sms-1", "Can I move a piano?", conv)).ok
    texted = board.next_event()[1]["data"]
    assert (texted["session"], texted["kind"], texted["channels"]) == (conv, "conversation", ["SMS"])
    assert texted["lastUtterance"] == {"speaker": "customer", "text": "Can I move a piano?", "channel": "SMS"}
    assert post_json(relays[0].url, "/webhook/cor-event", communication("v-1", "Swift Movers, Dana speaking")).ok
    call = board.next_event()[1]["data"]
    assert (call["session"], call["kind"], call["channels"]) == (CALL_SID, "call", ["VOICE"])
    assert post_json(relays[0].url, "/webhook/cor-event", sms("sms-2", "Sent you the list")).ok
    # The conversation's own thread and its live call both show the text.
    texts = {e["data"]["session"]: e["data"] for _, e in board.events(2)}
    assert (texts[CALL_SID]["kind"], texts[CALL_SID]["channels"]) == ("call", ["VOICE", "SMS"])
    assert (texts[CONVERSATION]["kind"], texts[CONVERSATION]["channels"]) == ("conversation", ["SMS"])
    listed = {c["session"]: c["kind"] for c in requests.get(relays[0].url + "/api/board", timeout=5).json()["calls"]}
    assert listed == {conv: "conversation", CALL_SID: "call", CONVERSATION: "conversation"}


def test_every_change_to_a_call_reaches_a_board_on_the_other_replica(relays):
    board, snapshot = board_stream(relays[1])
    assert snapshot["calls"] == [] and isinstance(snapshot["now"], int)
    agent_joins(relays[0])
    call = board.next_event()[1]
    assert call["type"] == "call"
    assert {k: call["data"][k] for k in ("session", "agent", "ended", "utterances")} == {
        "session": CALL_SID,
        "agent": "Dana Whitfield",
        "ended": False,
        "utterances": 0,
    }
    post_json(relays[0].url, "/webhook/cor-event", payload("cor-participant-added.json"))
    assert board.next_event()[1]["data"]["customer"] == "+15125550123"
    post_json(relays[0].url, "/webhook/cor-event", communication("c1", "Thanks for contacting Swift Movers."))
    line = board.next_event()[1]["data"]
    assert line["lastUtterance"] == {
        "speaker": "agent",
        "text": "Thanks for contacting Swift Movers.",
        "channel": "VOICE",
    }
    assert line["utterances"] == 1 and line["version"] > call["data"]["version"]
    post_json(
        relays[0].url,
        "/webhook/cintel-action",
        rule_execution(
            [
                adherence_result("r1", greeting="Succeeded", verification="Failed"),
                operator_result("r2", SENTIMENT_OPERATOR, {"label": "NEGATIVE"}, "CLASSIFICATION"),
            ]
        ),
    )
    latest = board.next_event()[1]["data"]  # one summary for the delivery's adherence and sentiment
    assert latest["score"] == 10.0 and latest["sentiment"] == "negative"
    assert [(c["key"], c["status"]) for c in latest["checklist"]] == [
        ("greeting", "met"),
        ("verification", "missed"),
        ("move-details", "pending"),
        ("confirmation", "pending"),
    ]
    flagged = board.next_event()[1]["data"]  # the negative sentiment fires its built-in alert rule, a flag
    assert flagged["alerts"]["negative-sentiment"]["title"] == "Negative sentiment"
    post_form(relays[0].url, "/webhook/status", {"CallSid": CALL_SID, "CallStatus": "completed"})
    ended = board.next_event()[1]["data"]
    assert ended["ended"] is True and ended["callStatus"] == "completed" and ended["endedAt"] >= ended["startedAt"]
    board.close()
    assert board_stream(relays[0])[1]["calls"] == []


def test_a_fresh_board_gets_every_live_call_in_its_snapshot(relays):
    calls = ["CA" + "a" * 32, "CA" + "b" * 32]
    for n, call_sid in enumerate(calls):
        agent_joins(relays[n], call_sid, f"conv_{n}", name=f"Agent {n}")
        post_json(
            relays[n].url,
            "/webhook/cor-event",
            communication(f"c{n}", f"hello {n}", call_sid=call_sid, conversation=f"conv_{n}"),
        )
    board, snapshot = board_stream(relays[0])
    assert [(c["session"], c["agent"], c["lastUtterance"]["text"]) for c in snapshot["calls"]] == [
        (calls[0], "Agent 0", "hello 0"),
        (calls[1], "Agent 1", "hello 1"),
    ]
    assert requests.get(relays[1].url + "/api/board", timeout=5).json()["calls"] == snapshot["calls"]
    board.close()


def test_results_held_until_the_call_is_known_reach_the_board_with_it(relays):
    early = rule_execution([adherence_result("r1", greeting="Succeeded")])
    held = post_json(relays[0].url, "/webhook/cintel-action", early)
    assert held.json()["held"] == 2
    assert requests.get(relays[0].url + "/api/board", timeout=5).json()["calls"] == []
    agent_joins(relays[1])
    (call,) = requests.get(relays[0].url + "/api/board", timeout=5).json()["calls"]
    assert call["agent"] == "Dana Whitfield" and call["score"] == 10.0


def test_after_a_pubsub_gap_the_board_gets_a_fresh_snapshot():
    redis_server = RedisServer().start()
    relay = Relay(redis_server.url).start()
    try:
        board, _ = board_stream(relay)
        agent_joins(relay)
        assert board.next_event()[1]["data"]["agent"] == "Dana Whitfield"
        redis_lib.Redis.from_url(redis_server.url).client_kill_filter(_type="pubsub")  # Redis keeps the data
        post_json(relay.url, "/webhook/cor-event", communication("c1", "said during the gap"))
        # Whatever the hub missed while reconnecting, the snapshot it sends after the gap has it.
        resynced, last = False, None
        while not (resynced and last == "said during the gap"):
            frame = board.next_event()[1]
            calls = frame["calls"] if frame["type"] == "board" else [frame["data"]]
            resynced = resynced or frame["type"] == "board"
            last = calls[0].get("lastUtterance", {}).get("text")
        board.close()
    finally:
        relay.stop(signal.SIGKILL)
        redis_server.stop()


@pytest.fixture
def bus(redis_client):
    return EventBus(
        Store(redis_client, redis_client.pubsub),
        load_config({"TWILIO_AUTH_TOKEN": "t", "CINTEL_SESSION_TTL": "3600", "CINTEL_COMPLETED_TTL": "60"}),
    )


def test_a_summary_expires_with_its_call_and_an_ended_call_leaves_the_board(bus, redis_client):
    bus.ingest([Event("e1", {"type": "transcript", "data": {"speaker": "agent", "text": "hi"}})], session=CALL_SID)
    assert 3590 < redis_client.ttl(board_key(CALL_SID)) <= 3600
    assert redis_client.zrange(BOARD, 0, -1) == [CALL_SID.encode()]
    bus.ingest([Event("end", {"type": "call-status", "data": {"status": "completed"}}, ends=True)], session=CALL_SID)
    bus.ingest([Event("late", {"type": "sentiment", "data": {"label": "neutral"}})], session=CALL_SID)
    assert redis_client.zrange(BOARD, 0, -1) == []
    assert 0 < redis_client.ttl(board_key(CALL_SID)) <= 60
    assert bus.board()["calls"] == []


def line(n):
    return Event(f"line-{n}", {"type": "transcript", "data": {"speaker": "agent", "text": f"line {n}"}})


def test_a_busy_call_keeps_its_place_on_the_list_and_is_listed_anew_after_ten_seconds(bus, redis_client):
    other = "CA" + "7" * 32
    bus.ingest([line(0)], session=other)
    bus.ingest([line(1)], session=CALL_SID)
    listed = redis_client.zscore(BOARD, CALL_SID)
    bus.ingest([line(2)], session=CALL_SID)
    assert bus.board_call(CALL_SID)["utterances"] == 2  # the summary moves on every line
    assert redis_client.zscore(BOARD, CALL_SID) == listed  # its listing only every ten seconds
    # Ten seconds on (the session's note of its listing, moved back), the next line lists it anew; and the other
    # call, as if not heard of for a whole TTL, leaves the list then.
    # Its place is moved back with it: a fast machine can log all these lines within one millisecond.
    redis_client.hset(latest_key(CALL_SID), "listed", int(listed) - 10_000)
    redis_client.zadd(BOARD, {CALL_SID: listed - 10_000, other: listed - 3_600_000})
    bus.ingest([line(3)], session=CALL_SID)
    assert redis_client.zscore(BOARD, CALL_SID) >= listed  # listed anew, at the line's time
    assert redis_client.zrange(BOARD, 0, -1) == [CALL_SID.encode()]


def test_with_stream_auth_the_board_needs_a_supervisor_ticket(flex_app, fake_twilio):
    client = flex_app().test_client()
    url, headers, raw = json_request("http://localhost", "/webhook/cor-event", agent_added())
    assert client.post(url, data=raw, headers=headers).status_code == 200
    for path in ("/api/board", "/api/board/stream"):
        refused = client.get(path)
        assert (refused.status_code, refused.json["code"]) == (401, "ticket_missing")
    agent = fake_twilio.add_user("agent_dana", worker_sid=sid("WK"))
    denied = client.post(
        "/api/stream-ticket", json={"sessionId": "board"}, headers={"Authorization": f"Bearer {agent}"}
    )
    assert (denied.status_code, denied.json["code"]) == (403, "not_your_call")
    supervisor = fake_twilio.add_user("sup_sam", roles=["supervisor"])
    ticket = client.post(
        "/api/stream-ticket", json={"sessionId": "board"}, headers={"Authorization": f"Bearer {supervisor}"}
    ).json["ticket"]
    (call,) = client.get("/api/board", query_string={"ticket": ticket}).json["calls"]
    assert call["agent"] == "Dana Whitfield"
    call_ticket = client.post(
        "/api/stream-ticket", json={"sessionId": CALL_SID}, headers={"Authorization": f"Bearer {supervisor}"}
    ).json["ticket"]
    wrong = client.get("/api/board", query_string={"ticket": call_ticket})
    assert (wrong.status_code, wrong.json["code"]) == (403, "ticket_wrong_session")
    page = client.get(f"/console/calls/{CALL_SID}")
    assert page.status_code == 200 and b"Dana Whitfield" not in page.data  # names travel only on ticketed streams
