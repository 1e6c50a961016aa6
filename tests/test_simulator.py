"""The call simulator: valid scenarios, Twilio-exact signatures, and the call state each scenario leaves."""

import io
import re
import subprocess
import sys
import threading
from datetime import datetime, timezone

import pytest
import requests

from cintel_relay import simulator
from cintel_relay.normalize import SENTIMENT_LABELS
from cintel_relay.script import load_script

from .support import AUTH_TOKEN, ROOT, SSEClient

SCENARIOS = simulator.scenario_names()


def test_the_packaged_scenarios_are_valid_and_name_real_script_steps():
    assert {"moving-complete", "skipped-verification", "abandoned"} <= set(SCENARIOS)
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


def test_a_broken_scenario_is_refused_with_the_problem_named():
    scenario = simulator.load_scenario("abandoned")
    scenario["utterances"][1]["speaker"] = "bot"
    with pytest.raises(simulator.ScenarioError, match=r"scenario mine.json: utterance 2 needs a speaker"):
        simulator.check_scenario(scenario, "mine.json")
    with pytest.raises(simulator.ScenarioError, match="no scenario named 'nope'"):
        simulator.load_scenario("nope")


def test_every_call_gets_fresh_ids():
    scenario = simulator.load_scenario("abandoned")
    calls = [simulator.build_call(scenario, datetime.now(timezone.utc)) for _ in range(2)]
    sids = [call[0].body["CallSid"] for call in calls]
    conversations = [d.body["data"]["id"] for call in calls for d in call
                     if not d.form and d.body.get("eventType") == "CONVERSATION_CREATED"]
    assert all(re.fullmatch(r"CA[0-9a-f]{32}", sid) for sid in sids) and sids[0] != sids[1]
    assert conversations[0] != conversations[1]
    assert all(d.body["CallSid"] == sids[0] for d in calls[0] if d.form)


def play(relay, name):
    """Play one call of a scenario as fast as possible; its report, and its Call SID."""
    deliveries = simulator.build_call(simulator.load_scenario(name), datetime.now(timezone.utc), speed=1000)
    report = simulator.Report(io.StringIO())
    with requests.Session() as http:
        simulator.play(deliveries, relay.url, AUTH_TOKEN, report, 1000, threading.Event(), http)
    return report, deliveries[0].body["CallSid"]


def final_state(relay, sid):
    client = SSEClient(relay.url, sid)
    client.next_event()
    snapshot = client.next_event()[1]
    client.close()
    return snapshot


EXPECTED = {
    "moving-complete": ({"greeting": "met", "verification": "met", "move-details": "met", "confirmation": "met"},
                        100.0, "positive", 20),
    "skipped-verification": ({"greeting": "met", "verification": "missed", "move-details": "met",
                              "confirmation": "met"}, 80.0, "negative", 14),
    "abandoned": ({"greeting": "met", "verification": "pending", "move-details": "pending",
                   "confirmation": "pending"}, 10.0, None, 2),
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
        (u["speaker"], u["text"]) for u in scenario["utterances"]]
    assert len(snapshot["transcript"]) == lines
    assert snapshot["callStatus"]["status"] == "completed"


def simulate_cli(relay, *args):
    return subprocess.run([sys.executable, "-m", "cintel_relay.cli", "simulate", "--url", relay.url, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


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
    result = subprocess.run([sys.executable, "-m", "cintel_relay.cli", "simulate", "--url", relays[0].url],
                            cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ROOT})
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
        u["text"] for u in simulator.load_scenario("moving-complete")["utterances"][:3]]
    assert snapshot["callStatus"]["status"] == "completed"
    assert requests.get(relays[0].url + "/api/board", timeout=5).json()["calls"] == []
