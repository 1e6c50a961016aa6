"""Replays realistic calls against a relay exactly as Twilio would deliver them, signed with the auth token.

A scenario (``cintel_relay/scenarios/*.json``) is a list of utterances; :func:`build_call` turns one into
the deliveries of one call, as pure data: Voice status callbacks (ringing, in-progress, completed),
Orchestrator events (conversation created, participants, one transcription per utterance, conversation
closed) and Conversation Intelligence rule executions (Script Adherence after every utterance, Sentiment
and Summary every five). Twilio's untidiness is part of every call: the first result arrives before the
conversation can be mapped to the call, one delivery comes twice, some operators have no name, and
sentiment labels come in any case. :func:`run` plays calls concurrently with realistic pacing.
"""

import argparse
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Dict, List, Optional

import requests
from twilio.request_validator import RequestValidator

from .operators import DEFAULT_OPERATORS, OperatorKind

OPERATOR_IDS = {kind: operator_id for operator_id, kind in DEFAULT_OPERATORS.items()}
SPEAKERS = ("agent", "customer")
VERDICTS = ("Succeeded", "Failed", "NotEvaluated")
#: Sentiment and Summary run every this many utterances (the cadence of Twilio's sample).
SUMMARY_EVERY = 5
#: A call ends with this many deliveries: the conversation closed, then the call completed.
CLOSING = 2
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class ScenarioError(ValueError):
    """A scenario file is not valid; the message names the file and the problem."""


@dataclass(frozen=True)
class Delivery:
    """One webhook request of a call: when (seconds into the call), where, and what."""

    at: float
    path: str
    body: dict
    label: str
    form: bool = False
    headers: Dict[str, str] = field(default_factory=dict)


def call_sid() -> str:
    """A fresh Call SID: CA and 32 hex digits."""
    return "CA" + secrets.token_hex(16)


def twilio_id(prefix: str) -> str:
    """An id in the shape of Twilio's newer resources: prefix, then 26 lowercase ULID characters."""
    return prefix + "_01" + "".join(secrets.choice(_ULID_ALPHABET) for _ in range(24))


def scenario_names() -> List[str]:
    """The packaged scenarios, by name."""
    folder = resources.files("cintel_relay").joinpath("scenarios")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def load_scenario(name: str) -> dict:
    """A packaged scenario by name, checked."""
    if name not in scenario_names():
        raise ScenarioError(f"no scenario named {name!r}: choose one of {', '.join(scenario_names())}.")
    text = resources.files("cintel_relay").joinpath(f"scenarios/{name}.json").read_text(encoding="utf-8")
    return check_scenario(json.loads(text), f"{name}.json")


def check_scenario(data: dict, source: str) -> dict:
    """Return ``data`` when it is a playable scenario, else :class:`ScenarioError` naming the problem."""
    def fail(problem):
        raise ScenarioError(f"scenario {source}: {problem}")

    for key in ("name", "title", "agent", "customer", "utterances"):
        if key not in data:
            fail(f"missing {key!r}")
    for who in ("agent", "customer"):
        if not data[who].get("name") or not data[who].get("address"):
            fail(f"{who} needs a name and an address")
    if not data["utterances"]:
        fail("needs at least one utterance")
    for n, line in enumerate(data["utterances"], 1):
        if line.get("speaker") not in SPEAKERS or not str(line.get("text", "")).strip():
            fail(f"utterance {n} needs a speaker (agent or customer) and text")
        if not isinstance(line.get("pause"), (int, float)) or line["pause"] < 0:
            fail(f"utterance {n} needs a pause: seconds of silence before it")
        if any(v not in VERDICTS for v in line.get("adherence", {}).values()):
            fail(f"utterance {n} has an adherence verdict outside {', '.join(VERDICTS)}")
    return data


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _result(kind: OperatorKind, result_id: str, output_format: str, result: dict, when: str, refs, comms,
            name: Optional[str] = None) -> dict:
    operator = {"id": OPERATOR_IDS[kind], "version": 1, "parameters": None}
    if name:  # Twilio often leaves the name out; the relay classifies by id
        operator["displayName"] = name
    return {
        "id": result_id, "operator": operator, "outputFormat": output_format, "result": result,
        "dateCreated": when, "referenceIds": refs,
        "executionDetails": {"trigger": {"on": "COMMUNICATION", "timestamp": when},
                             "communications": comms, "channels": ["VOICE"], "participants": []},
    }


def build_call(scenario: dict, start: datetime, speed: float = 1.0, account: Optional[str] = None) -> List[Delivery]:
    """Every delivery of one call of ``scenario``, in the order Twilio would send them, with fresh ids.

    ``at`` is in scenario seconds; payload timestamps are ``start`` plus scenario time divided by ``speed``.
    """
    sid, conversation = call_sid(), twilio_id("conv_conversation")
    account = account or "AC" + secrets.token_hex(16)
    people = {who: dict(scenario[who], id=twilio_id("conv_participant")) for who in SPEAKERS}
    config = {"id": twilio_id("intelligence_configuration"), "displayName": "flex_cintel_plugin_demo", "version": 3}
    caller = {"From": people["customer"]["address"], "To": people["agent"]["address"]}
    out: List[Delivery] = []
    clock = [0.0]

    def when(at=None) -> str:
        return _iso(start + timedelta(seconds=(clock[0] if at is None else at) / speed))

    def orchestrator(event_type: str, data: dict, label: str):
        body = {"eventType": event_type, "timestamp": when(), "data": dict(data, accountId=account)}
        headers = {"I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        out.append(Delivery(clock[0], "/webhook/cor-event", body, label, headers=headers))

    def status(call_status: str, **extra):
        form = {"AccountSid": account, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": call_status,
                "Direction": "inbound", "CallbackSource": "call-progress-events", "SequenceNumber": str(len(out)),
                "Timestamp": (start + timedelta(seconds=clock[0] / speed)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
                **caller, **extra}
        out.append(Delivery(clock[0], "/webhook/status", form, f"status {call_status}", form=True))

    def rule(rule_id: str, results: list, label: str) -> Delivery:
        body = {"accountId": account, "conversationId": conversation,
                "intelligenceConfiguration": dict(config, ruleId=rule_id), "operatorResults": results}
        return Delivery(clock[0], "/webhook/cintel-action", body, label)

    def participant(who: str) -> dict:
        person = people[who]
        return {"id": person["id"], "conversationId": conversation, "name": person["name"],
                "type": "HUMAN_AGENT" if who == "agent" else "CUSTOMER",
                "addresses": [{"channel": "VOICE", "address": person["address"], "channelId": sid}],
                "createdAt": when(), "updatedAt": when()}

    status("ringing")
    clock[0] += scenario.get("ringSeconds", 3)
    status("in-progress")
    orchestrator("CONVERSATION_CREATED", {"id": conversation, "status": "ACTIVE", "createdAt": when()},
                 "conversation created")
    script_rule, summary_rule = twilio_id("intelligence_configurationrule"), twilio_id("intelligence_configurationrule")
    verdicts = {}
    explanation = sentiment = summary = first_comm = None
    for n, line in enumerate(scenario["utterances"], 1):
        clock[0] += line["pause"]
        comm = twilio_id("conv_communication")
        first_comm = first_comm or comm
        person = people[line["speaker"]]
        communication = {
            "id": comm, "conversationId": conversation,
            "author": {"address": person["address"], "channel": "VOICE", "participantId": person["id"]},
            "content": {"type": "TRANSCRIPTION", "text": line["text"],
                        "transcription": {"channel": 1 if line["speaker"] == "agent" else 2, "confidence": 0.93}},
            "channelId": sid, "resourceId": twilio_id("conv_resource"), "recipients": [],
            "createdAt": when(), "updatedAt": when(), "occurredAt": when(clock[0] - 1.0),
        }
        spoken = f"utterance {n} ({line['speaker']})"
        if n > 1:
            orchestrator("COMMUNICATION_CREATED", communication, spoken)
        verdicts.update(line.get("adherence", {}))
        explanation = line.get("explanation", explanation)
        sentiment = line.get("sentiment", sentiment)
        summary = line.get("summary", summary)
        clock[0] += 1.2  # the operators take a moment
        comms = {"first": first_comm, "last": comm}
        adherence = {"categories": [{"category_key": key, "criteria": [{"criteria_key": "Action", "criteria_met": v}]}
                                    for key, v in verdicts.items()]}
        if explanation:
            adherence["explanation"] = explanation
        script_result = rule(script_rule, [_result(OperatorKind.SCRIPT, twilio_id("intelligence_operatorresult"),
                                                   "JSON", adherence, when(), [comm], comms)],
                             f"script adherence after utterance {n}")
        out.append(script_result)
        if n == 1:  # the first result overtook the participant events: the relay holds it until mapped
            orchestrator("PARTICIPANT_ADDED", participant("agent"), "agent joined")
            orchestrator("PARTICIPANT_ADDED", participant("customer"), "customer joined")
            orchestrator("COMMUNICATION_CREATED", communication, spoken)
        if n == (len(scenario["utterances"]) + 1) // 2:
            out.append(Delivery(clock[0], script_result.path, script_result.body, script_result.label + " (again)"))
        if n % SUMMARY_EVERY == 0 and (sentiment or summary):
            results = [None]  # Twilio may send null entries
            if sentiment:
                results.insert(0, _result(OperatorKind.SENTIMENT, twilio_id("intelligence_operatorresult"),
                                          "CLASSIFICATION", {"label": sentiment}, when(), [], comms, "Sentiment"))
            if summary:
                results.append(_result(OperatorKind.SUMMARY, twilio_id("intelligence_operatorresult"),
                                       "TEXT", {"text": summary}, when(), [], comms))
            out.append(rule(summary_rule, results, f"sentiment and summary after utterance {n}"))
    clock[0] += 2.0
    orchestrator("CONVERSATION_UPDATED", {"id": conversation, "status": "CLOSED", "updatedAt": when()},
                 "conversation closed")
    status("completed", CallDuration=str(round(clock[0] - scenario.get("ringSeconds", 3))))
    return out


def signed_request(base_url: str, delivery: Delivery, token: str):
    """(url, headers, body bytes) for a delivery, signed as Twilio signs it.

    JSON: ``bodySHA256`` of the raw body goes into the URL and the whole URL is signed, with no params.
    Forms: the URL followed by the sorted parameters is signed.
    """
    validator = RequestValidator(token)
    url = base_url.rstrip("/") + delivery.path
    headers = dict(delivery.headers)
    if delivery.form:
        raw = urllib.parse.urlencode(delivery.body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-Twilio-Signature"] = validator.compute_signature(url, delivery.body)
        return url, headers, raw
    raw = json.dumps(delivery.body, ensure_ascii=False).encode("utf-8")
    url += "?" + urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    headers["Content-Type"] = "application/json"
    headers["X-Twilio-Signature"] = validator.compute_signature(url, {})
    return url, headers, raw


class Report:
    """What a run sent and how the relay answered; prints progress as it goes. Safe across threads."""

    def __init__(self, out=sys.stdout, quiet: bool = False):
        self._out = out
        self._quiet = quiet
        self._lock = threading.Lock()
        self.calls = self.sent = self.failed = self.held = self.duplicates = 0

    def _print(self, line: str):
        self._out.write(line + "\n")
        self._out.flush()

    def call(self, sid: str, scenario: str, finished: bool):
        """A call started, or played to its end."""
        with self._lock:
            self.calls += finished
            self._print(f"{sid}  {scenario}: {'call ended' if finished else 'call started'}")

    def delivery(self, sid: str, delivery: Delivery, status: Optional[int], answer: str, body: Optional[dict]):
        """Count one delivery; a failure (no answer, or not 2xx) is always printed."""
        ok = status is not None and 200 <= status < 300
        with self._lock:
            self.sent += 1
            self.failed += not ok
            if ok and isinstance(body, dict):
                self.held += body.get("held", 0)
                self.duplicates += body.get("duplicates", 0)
            if not ok:
                self._print(f"{sid}  FAILED {delivery.label} ({delivery.path}): {answer}")
            elif not self._quiet:
                self._print(f"{sid}  {delivery.label} -> {status}")

    def summary(self) -> str:
        """One line: calls, deliveries, failures, and what the relay held and deduplicated."""
        calls = f"{self.calls} call{'' if self.calls == 1 else 's'}"
        return (f"{calls}, {self.sent} deliveries, {self.sent - self.failed} accepted, {self.failed} failed; "
                f"the relay held {self.held} events until their call was known "
                f"and dropped {self.duplicates} duplicates.")


def send(delivery: Delivery, sid: str, base_url: str, token: str, report: Report, http: requests.Session):
    """Sign and send one delivery, and report how the relay answered."""
    url, headers, raw = signed_request(base_url, delivery, token)
    try:
        response = http.post(url, data=raw, headers=headers, timeout=10)
    except requests.RequestException as exc:
        report.delivery(sid, delivery, None, f"no answer ({type(exc).__name__})", None)
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    answer = f"{response.status_code} {body.get('error', '') if isinstance(body, dict) else response.text[:200]}"
    report.delivery(sid, delivery, response.status_code, answer, body)


def play(deliveries: List[Delivery], base_url: str, token: str, report: Report, speed: float,
         stop: threading.Event, http: requests.Session) -> bool:
    """Send a call's deliveries at their pace; False when ``stop`` cut the call short, in which case the call
    is hung up at once (its closing deliveries are sent) so it does not stay live on the relay."""
    sid = next(d.body["CallSid"] for d in deliveries if d.form)
    started = time.monotonic()
    for n, delivery in enumerate(deliveries):
        if stop.wait(max(0.0, started + delivery.at / speed - time.monotonic())):
            for closing in deliveries[max(n, len(deliveries) - CLOSING):]:
                send(closing, sid, base_url, token, report, http)
            return False
        send(delivery, sid, base_url, token, report, http)
    return True


def run(base_url: str, token: str, scenarios: List[dict], calls: int, speed: float, loop: bool,
        report: Report, stop: threading.Event) -> Report:
    """Play ``calls`` calls at once, cycling through ``scenarios``; with ``loop``, start a new call as one
    ends until ``stop`` is set."""
    def worker(first: int):
        http = requests.Session()
        number = first
        while not stop.is_set():
            scenario = scenarios[number % len(scenarios)]
            deliveries = build_call(scenario, datetime.now(timezone.utc), speed)
            sid = deliveries[0].body["CallSid"]
            report.call(sid, scenario["name"], finished=False)
            if play(deliveries, base_url, token, report, speed, stop, http):
                report.call(sid, scenario["name"], finished=True)
            number += calls
            if not loop or stop.wait(3.0 / speed):
                break
        http.close()

    threads = [threading.Thread(target=worker, args=(n,), name=f"call-{n}", daemon=True) for n in range(calls)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join()
    return report


def add_arguments(parser: argparse.ArgumentParser, standalone: bool = True):
    """The ``simulate`` command's options; ``demo`` takes only the ones about calls (it sets the rest)."""
    if standalone:
        default_url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        parser.add_argument("--url", default=default_url, help=f"the relay's base URL (default: {default_url})")
        parser.add_argument("--token", help="the relay's Twilio auth token, to sign with (default: $TWILIO_AUTH_TOKEN)")
        parser.add_argument("--loop", action="store_true", help="keep starting new calls until Ctrl-C")
        parser.add_argument("--quiet", action="store_true", help="print only calls starting and ending, and failures")
    parser.add_argument("--scenario", action="append", choices=scenario_names(),
                        help="scenario to play; repeat for several (default: all of them)")
    parser.add_argument("--calls", type=_positive(int), help="calls at the same time (default: one per scenario)")
    parser.add_argument("--speed", type=_positive(float), default=1.0,
                        help="speed factor: 1 is real time, 10 plays a two-minute call in 12 seconds (default: 1)")


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above zero, not {text}")
        return value
    return parse


def simulate(args, base_url: str, token: str, stop: threading.Event, out=sys.stdout) -> Report:
    """Run the simulator with parsed options; Ctrl-C (or ``stop``) ends the calls, with a summary."""
    scenarios = [load_scenario(name) for name in (args.scenario or scenario_names())]
    report = Report(out, quiet=args.quiet)
    run(base_url, token, scenarios, args.calls or len(scenarios), args.speed, args.loop, report, stop)
    out.write(report.summary() + "\n")
    return report


def main(args):
    """``cintel-relay simulate``: exit status 1 when any delivery was not accepted."""
    token = args.token or os.environ.get("TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        sys.exit("cintel-relay simulate: no auth token: pass --token, or set TWILIO_AUTH_TOKEN to the relay's token.")
    report = simulate(args, args.url, token, threading.Event())
    sys.exit(1 if report.failed else 0)
