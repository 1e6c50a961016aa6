"""The call simulator: valid scenarios, Twilio-exact signatures, and the call state each scenario leaves."""

import io
import re
import threading
from datetime import datetime, timezone

import pytest
import requests

from cintel_relay import normalize
from cintel_relay.normalize import SENTIMENT_LABELS
from cintel_relay.operators import DEFAULT_OPERATORS
from cintel_relay.schemas import RuleExecutionSchema
from cintel_relay.script import load_script
from cintel_relay.simulator import player as simulator
from cintel_relay.simulator import posts

from .support import (
    AUTH_TOKEN,
    ROOT,
    SSEClient,
    result_events,
    run_command,
)

SCENARIOS = simulator.scenario_names()


def test_the_packaged_scenarios_are_valid_and_name_real_script_steps():
    assert {"moving-complete", "skipped-verification", "abandoned", "texted-first"} <= set(SCENARIOS)
    script = load_script()
    for name in SCENARIOS:
        scenario = simulator.load_scenario(name)
        lines = scenario["utterances"]
        assert {line["speaker"] for line in lines} == {"agent", "customer"}
        for line in lines:
            assert all(script.find(key) for key in line.get("adherence", {})), (name, line)
            assert line.get("sentiment", "neutral").lower() in SENTIMENT_LABELS
    complete = simulator.load_scenario("moving-complete")["utterances"]
    steps = [key for line in complete for key, verdict in line.get("adherence", {}).items() if verdict == "Succeeded"]
    assert steps == ["Greeting", "Verification", "Move Details", "Confirmation"]


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"speaker": "bot"}, "utterance 2 needs a speaker"),
        ({"channel": "FAX"}, "utterance 2 has channel 'FAX': use VOICE or one of SMS, WHATSAPP, CHAT"),
        ({"call": 3}, "utterance 2 is on call 3: number the calls 1, 2, ... in order"),
        ({"channel": "SMS", "call": 1}, "utterance 2 is texted: a text is on a call when it falls between"),
        ({"resultsAfter": "soon"}, "utterance 2 needs resultsAfter to be seconds"),
    ],
)
def test_a_broken_scenario_is_refused_with_the_problem_named(change, problem):
    scenario = simulator.load_scenario("abandoned")
    scenario["utterances"][1].update(change)
    with pytest.raises(posts.ScenarioError, match=re.escape(f"scenario mine.json: {problem}")):
        posts.check_scenario(scenario, "mine.json")


def test_a_scenario_needs_a_call_and_a_name_that_exists():
    scenario = simulator.load_scenario("abandoned")
    for line in scenario["utterances"]:
        line["channel"] = "SMS"
    with pytest.raises(posts.ScenarioError, match="needs at least one utterance on a call"):
        posts.check_scenario(scenario, "mine.json")
    with pytest.raises(posts.ScenarioError, match="no scenario named 'nope'"):
        simulator.load_scenario("nope")


def test_texts_between_two_lines_of_a_call_are_on_that_call():
    lines = [
        {"channel": "SMS"},
        {},
        {"channel": "SMS"},
        {"call": 1},
        {"channel": "WHATSAPP"},
        {"call": 2},
        {"channel": "SMS"},
    ]
    assert posts.parts(lines) == [(None, [0]), (1, [1, 2, 3]), (None, [4]), (2, [5]), (None, [6])]


def test_every_call_gets_fresh_ids():
    scenario = simulator.load_scenario("abandoned")
    calls = [simulator.build_call(scenario, datetime.now(timezone.utc)) for _ in range(2)]
    sids = [call[0].body["CallSid"] for call in calls]
    conversations = [
        d.body["data"]["id"]
        for call in calls
        for d in call
        if not d.form and d.body.get("eventType") == "CONVERSATION_CREATED"
    ]
    assert all(re.fullmatch(r"CA[0-9a-f]{32}", sid) for sid in sids) and sids[0] != sids[1]
    assert conversations[0] != conversations[1]
    assert all(d.body["CallSid"] == sids[0] for d in calls[0] if d.form)


def play_all(relay, played):
    """Play a run's deliveries as fast as possible; the report."""
    report = simulator.Report(io.StringIO())
    with requests.Session() as http:
        simulator.play(played, relay.url, AUTH_TOKEN, report, 1000, threading.Event(), http)
    return report


def play(relay, name):
    """Play one call of a scenario as fast as possible; its report, and its Call SID."""
    played = simulator.build_call(simulator.load_scenario(name), datetime.now(timezone.utc), speed=1000)
    return play_all(relay, played), simulator.first_call(played)


def final_state(relay, sid):
    client = SSEClient(relay.url, sid)
    client.next_event()
    snapshot = client.next_event()[1]
    client.close()
    return snapshot


EXPECTED = {
    "moving-complete": (
        {"greeting": "met", "verification": "met", "move-details": "met", "confirmation": "met"},
        100.0,
        "positive",
        20,
    ),
    "skipped-verification": (
        {"greeting": "met", "verification": "missed", "move-details": "met", "confirmation": "met"},
        80.0,
        "negative",
        14,
    ),
    "abandoned": (
        {"greeting": "met", "verification": "pending", "move-details": "pending", "confirmation": "pending"},
        10.0,
        None,
        2,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scenario_is_accepted_whole_and_leaves_its_checklist(relays, name):
    report, sid = play(relays[0], name)
    assert (report.failed, report.sent > 0) == (0, True)
    assert (report.held, report.duplicates) == (2, 2)  # the early first result; the delivery sent twice
    snapshot = final_state(relays[1], sid)
    checklist, score, sentiment, lines = EXPECTED[name]
    assert {c["key"]: c["status"] for c in snapshot["adherence"]["categories"]} == checklist
    assert snapshot["adherence"]["score"] == score
    assert (snapshot["sentiment"] or {}).get("label") == sentiment
    scenario = simulator.load_scenario(name)
    assert [(t["speaker"], t["text"]) for t in snapshot["transcript"]] == [
        (u["speaker"], u["text"]) for u in scenario["utterances"]
    ]
    assert len(snapshot["transcript"]) == lines
    assert snapshot["callStatus"]["status"] == "completed"


def simulate_cli(relay, *args):
    return run_command("simulate", "--url", relay.url, *args)


def test_the_command_plays_concurrent_calls_and_reports_zero_failures(relays):
    result = simulate_cli(relays[0], "--token", AUTH_TOKEN, "--speed", "200", "--calls", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(r"4 calls, (\d+) deliveries, \1 accepted, 0 failed", summary), summary
    assert "script adherence after utterance 1 -> 200" in result.stdout


def test_the_command_reports_refused_deliveries_and_fails(relays):
    result = simulate_cli(relays[0], "--token", "not-the-token", "--scenario", "abandoned", "--speed", "500")
    assert result.returncode == 1
    assert "FAILED status ringing (/webhook/status): 403 X-Twilio-Signature does not match" in result.stdout
    assert re.search(r"1 call, (\d+) deliveries, 0 accepted, \1 failed", result.stdout)


def test_the_command_needs_a_token(relays):
    result = run_command(
        "simulate", "--url", relays[0].url, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ROOT}, timeout=30
    )
    assert result.returncode != 0 and "pass --token, or set TWILIO_AUTH_TOKEN" in result.stderr


class StopAfter(threading.Event):
    """A stop signal that comes after ``waits`` waits: a Ctrl-C at a known point of the call."""

    def __init__(self, waits):
        super().__init__()
        self.waits = waits

    def wait(self, timeout=None):
        self.waits -= 1
        return self.waits < 0


def test_a_call_cut_short_is_hung_up_so_it_does_not_stay_live(relays):
    deliveries = simulator.build_call(simulator.load_scenario("moving-complete"), datetime.now(timezone.utc), 1000)
    report = simulator.Report(io.StringIO())
    upto = next(n for n, d in enumerate(deliveries) if d.label == "utterance 3 (agent)") + 1
    with requests.Session() as http:
        finished = simulator.play(deliveries, relays[0].url, AUTH_TOKEN, report, 1000, StopAfter(upto), http)
    assert finished is False and report.failed == 0
    sid = deliveries[0].body["CallSid"]
    snapshot = final_state(relays[0], sid)
    assert [t["text"] for t in snapshot["transcript"]] == [
        u["text"] for u in simulator.load_scenario("moving-complete")["utterances"][:3]
    ]
    assert snapshot["callStatus"]["status"] == "completed"
    assert requests.get(relays[0].url + "/api/board", timeout=5).json()["calls"] == []


# --- a conversation with an SMS thread and two calls (GROUP_BY_PROFILE; facts F17) -----------------


def texted_first():
    """One run of the texted-first scenario: its deliveries, and each communication's (call, channel, text)."""
    played = simulator.build_call(simulator.load_scenario("texted-first"), datetime.now(timezone.utc))
    comms = {
        d.body["data"]["id"]: d.body["data"]
        for d in played
        if not d.form and d.body.get("eventType") == "COMMUNICATION_CREATED"
    }
    return played, comms


def results_of(played):
    """Each operator result delivered, with the position of its delivery."""
    return [
        (n, r)
        for n, d in enumerate(played)
        if d.path == "/webhook/cintel-action"
        for r in d.body["operatorResults"]
        if r
    ]


def test_the_texted_first_scenario_has_an_sms_thread_then_two_calls_in_one_conversation():
    played, comms = texted_first()
    calls = list(dict.fromkeys(d.body["CallSid"] for d in played if d.form))
    assert len(calls) == 2
    assert [(d.body["CallSid"], d.body["CallStatus"]) for d in played if d.form] == [
        (calls[0], "ringing"),
        (calls[0], "in-progress"),
        (calls[0], "completed"),
        (calls[1], "ringing"),
        (calls[1], "in-progress"),
        (calls[1], "completed"),
    ]
    conversations = {c["conversationId"] for c in comms.values()}
    assert len(conversations) == 1
    routes = [normalize.communication_routing(c) for c in comms.values()]
    assert [(r["channel"], calls.index(r["call"]) + 1 if r["call"] else None) for r in routes] == [
        ("SMS", None),
        ("SMS", None),
        ("VOICE", 1),
        ("VOICE", 1),
        ("VOICE", 1),
        ("SMS", None),
        ("VOICE", 1),
        ("VOICE", 1),
        ("VOICE", 1),
    ] + [("VOICE", 2)] * 6
    sms = [c for c in comms.values() if c["author"]["channel"] == "SMS"]
    assert all(c["content"]["type"] == "TEXT" and not normalize.call_sid_in([c.get("channelId")]) for c in sms)
    first_sms = next(n for n, d in enumerate(played) if d.body.get("data", {}).get("id") == sms[0]["id"])
    assert first_sms < next(n for n, d in enumerate(played) if d.form)  # the customer texted before calling
    during = sms[2]["id"]
    sent = {d.body["data"]["id"]: n for n, d in enumerate(played) if d.body.get("eventType") == "COMMUNICATION_CREATED"}
    call_1 = [n for n, d in enumerate(played) if d.form and d.body["CallSid"] == calls[0]]
    assert call_1[1] < sent[during] < call_1[2]  # the SMS came during the first call
    closed = [n for n, d in enumerate(played) if d.body.get("eventType") == "CONVERSATION_UPDATED"]
    assert len(closed) == 1 and closed[0] > call_1[2]  # the conversation stayed open for the second call


def test_the_texted_first_results_name_their_calls_communications():
    played, comms = texted_first()
    calls = list(dict.fromkeys(d.body["CallSid"] for d in played if d.form))
    sent = {d.body["data"]["id"]: n for n, d in enumerate(played) if d.body.get("eventType") == "COMMUNICATION_CREATED"}
    call_of = {}  # each communication's call (None: the text thread), by the order the scenario says it
    current = None
    for d in played:
        if d.form:
            current = d.body["CallSid"] if d.body["CallStatus"] != "completed" else None
        elif d.body.get("eventType") == "COMMUNICATION_CREATED":
            call_of[d.body["data"]["id"]] = current
    late = 0
    for position, result in results_of(played):
        routing = normalize.result_routing(result)
        assert len(routing["communications"]) in (1, 2) and routing["call"] is None
        assert {call_of[c] for c in routing["communications"]} in ({None}, {calls[0]}, {calls[1]})
        assert all(sent[c] < position for c in routing["communications"])
        second_rang = next(n for n, d in enumerate(played) if d.form and d.body["CallSid"] == calls[1])
        late += call_of[routing["communications"][0]] == calls[0] and position > second_rang
    assert late == 3  # the first call's last Script Adherence, Sentiment and Summary come during the second


def test_the_texted_first_results_are_shapes_twilio_sends():
    played, _ = texted_first()
    results = [r for _, r in results_of(played)]
    assert any(r["outputFormat"] == "CLASSIFICATION" and isinstance(r["result"], str) for r in results)
    assert any(r["outputFormat"] == "CLASSIFICATION" and isinstance(r["result"], dict) for r in results)
    events = [
        e
        for d in played
        if d.path == "/webhook/cintel-action"
        for e in result_events(RuleExecutionSchema().load(d.body), DEFAULT_OPERATORS, load_script())
    ]
    suggestions = [e.frame["data"]["text"] for e in events if e.type == "suggestion"]
    assert suggestions == [
        line["suggestion"] for line in simulator.load_scenario("texted-first")["utterances"] if "suggestion" in line
    ]
    names = {e.frame["data"]["operator"]["friendlyName"] for e in events if e.type == "operator-result"}
    assert names == {"Script Adherence", "Sentiment", "Summary", "Next Best Response"}


def test_the_texted_first_scenario_is_accepted_whole_signed_and_each_call_has_its_own_lines(relays):
    played, comms = texted_first()
    report = play_all(relays[0], played)
    assert (report.failed, report.sent) == (0, len(played))
    lines = simulator.load_scenario("texted-first")["utterances"]
    calls = list(dict.fromkeys(d.body["CallSid"] for d in played if d.form))
    for number, session in enumerate(calls, 1):
        snapshot = final_state(relays[1], session)
        assert [(t["speaker"], t["text"]) for t in snapshot["transcript"] if t["channel"] == "VOICE"] == [
            (line["speaker"], line["text"])
            for line in lines
            if line.get("channel", "VOICE") == "VOICE" and line.get("call", 1) == number
        ]
        assert snapshot["callStatus"]["status"] == "completed"
    conversation = next(iter(comms.values()))["conversationId"]
    texts = [
        (t["speaker"], t["channel"], t["text"])
        for t in final_state(relays[1], conversation)["transcript"]
        if t["channel"] != "VOICE"
    ]
    assert texts == [(line["speaker"], "SMS", line["text"]) for line in lines if line.get("channel") == "SMS"]
