"""Adherence an agent and a QA lead can trust, across two real replicas: evidence, deadlines, disputes."""

import json
import signal
import time
from datetime import datetime, timezone

import orjson
import pytest
import requests

from cintel_relay.access import tickets
from cintel_relay.bus.keys import board_key, due_keys, latest_key, log_key
from cintel_relay.extension import relay

from .support import (
    TICKET_SECRET,
    SSEClient,
    adherence_result,
    communication,
    flex_env,
    json_request,
    rule_execution,
    sign,
    wait_for,
)

CALL = "CA" + "a1" * 16
#: The built-in script's categories and weights, with two deadlines and half credit for a late step.
SCRIPT = {
    "name": "Test script",
    "lateCredit": 0.5,
    "categories": [
        {"key": "greeting", "label": "Greeting", "weight": 10},
        {"key": "verification", "label": "Verification", "weight": 20, "withinSeconds": 50},
        {"key": "move-details", "label": "Move Details", "weight": 40},
        {"key": "confirmation", "label": "Confirmation", "weight": 30, "withinSeconds": 60},
    ],
}


def script_file(tmp_path_factory, script, name="script.json"):
    path = tmp_path_factory.mktemp("script") / name
    path.write_text(json.dumps(script))
    return str(path)


@pytest.fixture(scope="module")
def pair(start_module_relay, twilio_server, tmp_path_factory):
    env = flex_env(twilio_server.url, CINTEL_SCRIPT_FILE=script_file(tmp_path_factory, SCRIPT))
    return start_module_relay(**env), start_module_relay(**env)


#: The public URL the relays are told they serve at (flex_env's SERVER_URL): Twilio signs that URL.
PUBLIC = "http://localhost"


def post_json(relay, path, body):
    url, headers, raw = json_request(relay.url, path, body, public_base=PUBLIC)
    return requests.post(url, data=raw, headers=headers, timeout=10)


def post_form(relay, path, form):
    headers = {"X-Twilio-Signature": sign(PUBLIC + path, form)}
    return requests.post(relay.url + path, data=form, headers=headers, timeout=10)


def ticket(session=CALL, identity="agent-dana"):
    return tickets.mint(TICKET_SECRET, session, identity, 600)[0]


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def start_call(relay, redis_client, call=CALL):
    """The call's first event (a Voice status callback): the relay's clock then is the call's start."""
    assert post_form(relay, "/webhook/status", {"CallSid": call, "CallStatus": "in-progress"}).status_code == 200
    return int(redis_client.hget(latest_key(call), "started"))


def say(relay, comm_id, at_ms, text="words", speaker="agent", call=CALL):
    body = communication(comm_id, text, speaker=speaker, call_sid=call)
    body["data"]["occurredAt"] = iso(at_ms)
    assert post_json(relay, "/webhook/cor-event", body).status_code == 200


def judge(relay, result_id, first, last, **verdicts):
    result = adherence_result(result_id, **verdicts)
    result["executionDetails"]["communications"] = {"first": first, "last": last}
    assert post_json(relay, "/webhook/cintel-action", rule_execution([result])).status_code == 200


def until(client, predicate, timeout=10.0):
    """The first frame of ``client`` that ``predicate`` accepts."""
    deadline = time.monotonic() + timeout
    while True:
        _, frame = client.next_event(max(0.1, deadline - time.monotonic()))
        if predicate(frame):
            return frame


def snapshot(relay):
    """The ``initial`` frame a fresh stream of the call starts with."""
    client = SSEClient(relay.url, CALL, query=f"?ticket={ticket()}")
    frame = client.events(2)[1][1]
    client.close()
    return frame


def categories(frame):
    data = frame["data"] if "data" in frame else frame
    return {c["key"]: c for c in data["categories"]}


def adherence_frames(redis_client, call=CALL):
    frames = [orjson.loads(f[b"f"]) for _, f in redis_client.xrange(log_key(call))]
    return [f["data"] for f in frames if f["type"] == "adherence"]


def test_evidence_names_the_judged_entries_and_when_the_last_was_said(pair, redis_client):
    a, b = pair
    started = start_call(a, redis_client)
    viewer = SSEClient(b.url, CALL, query=f"?ticket={ticket()}")
    for n, (comm, second) in enumerate([("c1", 5), ("c2", 20), ("c3", 31), ("c4", 42)]):
        say(pair[n % 2], comm, started + second * 1000)
    judge(a, "r1", "c2", "c4", greeting="Succeeded", verification="Succeeded")

    live = categories(until(viewer, lambda f: f["type"] == "adherence"))
    verification = live["verification"]
    assert verification["status"] == "met" and verification["evidence"] == ["c2", "c3", "c4"]
    assert verification["metAt"] == iso(started + 42_000) and verification["metAfterSeconds"] == 42.0
    assert verification["withinSeconds"] == 50 and verification["due"] == "on_time"
    assert verification["dispute"] is None
    assert live["greeting"]["due"] == "on_time" and live["greeting"]["withinSeconds"] is None
    assert live["move-details"]["due"] == "open" and live["move-details"]["evidence"] is None

    # Sticky: a later verdict that flips the step keeps the first met verdict's evidence and time.
    say(b, "c5", started + 55_000)
    judge(b, "r2", "c5", "c5", verification="Failed")
    again = categories(until(viewer, lambda f: f["type"] == "adherence"))["verification"]
    assert again == verification

    initial = snapshot(a)
    assert categories(initial["adherence"])["verification"] == verification
    board = orjson.loads(redis_client.get(board_key(CALL)))
    on_board = {c["key"]: c for c in board["checklist"]}["verification"]
    assert on_board == {k: v for k, v in verification.items() if k != "weight"}
    assert board["startedAt"] == started


def test_a_step_met_after_its_deadline_is_late_and_earns_the_late_credit(pair, redis_client):
    a, b = pair
    started = start_call(b, redis_client)
    say(a, "c1", started + 3_000)
    say(b, "c2", started + 75_000)
    judge(a, "r1", "c2", "c2", greeting="Succeeded", confirmation="Succeeded")
    state = adherence_frames(redis_client)[-1]
    confirmation = categories(state)["confirmation"]
    assert confirmation["due"] == "late" and confirmation["metAfterSeconds"] == 75.0
    assert confirmation["evidence"] == ["c2"] and confirmation["withinSeconds"] == 60
    assert state["lateCredit"] == 0.5
    assert state["score"] == 25.0  # greeting 10 + confirmation 30 at half credit, of 100


def test_a_result_before_its_utterances_falls_back_to_the_results_time(pair, redis_client):
    a, _ = pair
    started = start_call(a, redis_client)
    say(a, "c0", started + 1_000)  # the conversation's live call is known; c-unseen is not logged yet
    judge(a, "r1", "c-unseen", "c-unseen", greeting="Succeeded")
    greeting = categories(adherence_frames(redis_client)[-1])["greeting"]
    assert greeting["evidence"] == ["c-unseen"] and greeting["metAt"] == "2026-11-24T15:02:11.418Z"
    assert greeting["metAfterSeconds"] == 0  # the result's time is before this test's call started


def test_a_dispute_is_stored_streamed_to_another_replicas_viewers_and_on_the_board(pair, redis_client):
    a, b = pair
    started = start_call(a, redis_client)
    say(a, "c1", started + 4_000)
    judge(a, "r1", "c1", "c1", greeting="Succeeded", move_details="Failed")
    viewer = SSEClient(b.url, CALL, query=f"?ticket={ticket()}")
    viewer.events(2)

    note = "I asked about the piano at 0:30"
    url = f"{a.url}/api/calls/{CALL}/disputes?ticket={ticket()}"
    response = requests.post(url, json={"category": "Move Details", "note": note}, timeout=10)
    assert response.status_code == 201, response.text
    dispute = response.json()
    assert dispute["category"] == "move-details" and dispute["note"] == note and dispute["status"] == "open"
    assert dispute["by"] == "agent-dana" and dispute["at"]

    assert until(viewer, lambda f: f["type"] == "dispute")["data"]["note"] == note
    streamed = categories(until(viewer, lambda f: f["type"] == "adherence"))["move-details"]
    assert streamed["status"] == "missed" and streamed["dispute"]["status"] == "open"  # next to, not instead of

    initial = snapshot(b)
    assert initial["disputes"]["move-details"]["note"] == note
    assert categories(initial["adherence"])["move-details"]["dispute"]["note"] == note
    board = {c["key"]: c for c in orjson.loads(redis_client.get(board_key(CALL)))["checklist"]}
    assert board["move-details"]["dispute"]["status"] == "open" and board["move-details"]["status"] == "missed"

    again = requests.post(url, json={"category": "move-details"}, timeout=10)
    assert again.status_code == 409 and "already has an open dispute" in again.json()["error"]
    met = requests.post(url, json={"category": "greeting"}, timeout=10)
    assert met.status_code == 409 and "met" in met.json()["error"]

    # A later met verdict resolves it; the note never reaches a log.
    say(b, "c2", started + 30_000)
    judge(b, "r2", "c2", "c2", move_details="Succeeded")
    resolved = categories(until(viewer, lambda f: f["type"] == "adherence"))["move-details"]
    assert resolved["status"] == "met" and resolved["dispute"]["status"] == "resolved"
    final = snapshot(a)
    assert final["disputes"]["move-details"]["status"] == "resolved"
    assert all(note not in relay.output() for relay in pair)


@pytest.mark.parametrize(
    "body, auth, status, says",
    [
        ({"category": "callback"}, "ok", 422, "one of the script's categories"),
        ({"note": "no category"}, "ok", 422, "one of the script's categories"),
        ({"category": "greeting", "note": "x" * 501}, "ok", 422, "keep it to 500"),
        ({"category": "greeting", "note": 5}, "ok", 422, "note must be a string"),
        (b"{not json", "ok", 400, "not valid JSON"),
        ({"category": "greeting", "note": "x" * 10_000}, "ok", 413, ""),
        ({"category": "greeting"}, "other call", 403, ""),
        ({"category": "greeting"}, "none", 401, ""),
    ],
)
def test_a_bad_dispute_is_refused_and_harms_nothing(pair, redis_client, body, auth, status, says):
    a, _ = pair
    start_call(a, redis_client)
    before = redis_client.xlen(log_key(CALL))
    query = {"ok": f"?ticket={ticket()}", "other call": f"?ticket={ticket('CA' + 'b2' * 16)}", "none": ""}[auth]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = requests.post(
        f"{a.url}/api/calls/{CALL}/disputes{query}", data=raw, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == status and says in response.json()["error"]
    assert redis_client.xlen(log_key(CALL)) == before


def test_a_dispute_on_a_call_the_relay_does_not_know_is_404(pair, redis_client):
    other = "CA" + "c3" * 16
    response = requests.post(
        f"{pair[0].url}/api/calls/{other}/disputes?ticket={ticket(other)}", json={"category": "greeting"}, timeout=10
    )
    assert response.status_code == 404 and not redis_client.exists(log_key(other))


def test_overdue_is_announced_once_with_no_webhook_after_by_the_replica_that_survives(
    start_relay, twilio_server, tmp_path_factory, redis_client
):
    quick = {**SCRIPT, "categories": [{**SCRIPT["categories"][1], "withinSeconds": 2}, SCRIPT["categories"][0]]}
    env = flex_env(twilio_server.url, CINTEL_SCRIPT_FILE=script_file(tmp_path_factory, quick, "quick.json"))
    timer_setter, survivor = start_relay(**env), start_relay(**env)
    viewer = SSEClient(survivor.url, CALL, query=f"?ticket={ticket()}")
    viewer.events(2)
    started = start_call(timer_setter, redis_client)
    queue, _ = due_keys("relay")
    item = f"deadline:{CALL}:verification"
    assert int(redis_client.zscore(queue, item)) == started + 2_000
    timer_setter.stop(signal.SIGKILL)

    overdue = until(viewer, lambda f: f["type"] == "adherence", timeout=15)
    assert categories(overdue)["verification"]["due"] == "overdue"
    assert categories(overdue)["verification"]["status"] == "pending"
    assert categories(overdue)["greeting"]["due"] == "open"
    wait_for(lambda: redis_client.zscore(queue, item) is None, what="the deadline to leave the due queue")
    assert [categories(f)["verification"]["due"] for f in adherence_frames(redis_client)] == ["overdue"]

    # Met after the deadline: late, by the evidence's time.
    say(survivor, "c1", started + 4_000)
    judge(survivor, "r1", "c1", "c1", verification="Succeeded")
    assert categories(adherence_frames(redis_client)[-1])["verification"]["due"] == "late"


def test_a_call_that_ended_before_a_deadline_is_not_announced_overdue(pair, redis_client, make_app):
    a, _ = pair
    start_call(a, redis_client)
    assert post_form(a, "/webhook/status", {"CallSid": CALL, "CallStatus": "completed"}).status_code == 200
    ext = relay(make_app())  # the deadline's handler, as any replica's runner calls it
    ext.due.handlers["deadline"](f"deadline:{CALL}:verification", {"session": CALL, "category": "verification"}, 0)
    assert adherence_frames(redis_client) == []
