"""Simulated conversations as the webhooks Twilio would post for them (the simulator's *posts*): pure data, no I/O.

A scenario (``cintel_relay/simulator/scenarios/*.json``) is the list of utterances of one conversation. An utterance is
said on a call (``"channel": "VOICE"``, the default; ``"call": n`` numbers the calls, 1 by default) or texted
(``"channel": "SMS"``, ``"WHATSAPP"`` or ``"CHAT"``): a text between two lines of the same call is sent
during that call, any other text belongs to the conversation's text thread. Calls and text threads are the
scenario's *parts*. :func:`build_call` turns a scenario into its posts: Voice status callbacks for each
call (ringing, in-progress, completed); Orchestrator events (conversation created, participants and the
addresses they use, one communication per utterance, conversation closed); Conversation Intelligence rule
executions (Script Adherence after every utterance of a call, Sentiment and Summary after every fifth
utterance of a part and after its last one, Next Best Response where a line has a ``suggestion``).

Each result names the communications it was computed from (``executionDetails.communications``, first
and last of its part). Twilio's untidiness is part of every scenario: a call's first result arrives before
the conversation can be mapped to the call, one post comes twice, some operators have no name,
sentiment labels come in any case and every other one as a bare string, results of a line with
``resultsAfter`` arrive that many seconds late (after the next call started, if it did).
"""

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Dict, List, Optional, Tuple

from ..operators import DEFAULT_OPERATORS, OperatorKind

OPERATOR_IDS = {kind: operator_id for operator_id, kind in DEFAULT_OPERATORS.items()}
SPEAKERS = ("agent", "customer")
VERDICTS = ("Succeeded", "Failed", "NotEvaluated")
VOICE = "VOICE"
TEXT_CHANNELS = ("SMS", "WHATSAPP", "CHAT")
#: Sentiment and Summary run every this many utterances of a part (the cadence of Twilio's sample).
SUMMARY_EVERY = 5
#: Seconds the operators take after a communication.
OPERATOR_SECONDS = 1.2
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class ScenarioError(ValueError):
    """A scenario file is not valid; the message names the file and the problem."""


@dataclass(frozen=True)
class Post:
    """One webhook request: when (seconds into the scenario), where, and what.

    ``hangs_up`` marks the posts that end a call or the conversation: a run cut short still sends them.
    """

    at: float
    path: str
    body: dict
    label: str
    form: bool = False
    headers: Dict[str, str] = field(default_factory=dict)
    hangs_up: bool = False


def call_sid() -> str:
    """A fresh Call SID: CA and 32 hex digits."""
    return "CA" + secrets.token_hex(16)


def twilio_id(prefix: str) -> str:
    """An id in the shape of Twilio's newer resources: prefix, then 26 lowercase ULID characters."""
    return prefix + "_01" + "".join(secrets.choice(_ULID_ALPHABET) for _ in range(24))


def scenario_names() -> List[str]:
    """The packaged scenarios, by name."""
    folder = resources.files(__package__).joinpath("scenarios")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def load_scenario(name: str) -> dict:
    """A packaged scenario by name, checked."""
    if name not in scenario_names():
        raise ScenarioError(f"no scenario named {name!r}: choose one of {', '.join(scenario_names())}.")
    text = resources.files(__package__).joinpath(f"scenarios/{name}.json").read_text(encoding="utf-8")
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
    calls = [0]
    for n, line in enumerate(data["utterances"], 1):
        if line.get("speaker") not in SPEAKERS or not str(line.get("text", "")).strip():
            fail(f"utterance {n} needs a speaker (agent or customer) and text")
        if not isinstance(line.get("pause"), (int, float)) or line["pause"] < 0:
            fail(f"utterance {n} needs a pause: seconds of silence before it")
        if any(v not in VERDICTS for v in line.get("adherence", {}).values()):
            fail(f"utterance {n} has an adherence verdict outside {', '.join(VERDICTS)}")
        channel = line.get("channel", VOICE)
        if channel not in (VOICE, *TEXT_CHANNELS):
            fail(f"utterance {n} has channel {channel!r}: use {VOICE} or one of {', '.join(TEXT_CHANNELS)}")
        if channel == VOICE and line.get("call", 1) not in (calls[-1], calls[-1] + 1):
            fail(f"utterance {n} is on call {line.get('call')!r}: number the calls 1, 2, ... in order")
        if channel == VOICE:
            calls.append(line.get("call", 1))
        elif "call" in line:
            fail(f"utterance {n} is texted: a text is on a call when it falls between two lines of that call")
        if not isinstance(line.get("resultsAfter", 0), (int, float)) or line.get("resultsAfter", 0) < 0:
            fail(f"utterance {n} needs resultsAfter to be seconds, if it has one")
    if len(calls) == 1:
        fail(f"needs at least one utterance on a call (channel {VOICE})")
    return data


def parts(utterances: List[dict]) -> List[Tuple[Optional[int], List[int]]]:
    """The scenario's parts in order: ``(call number, utterance indexes)``, the number None for a text thread."""
    keys = [line.get("call", 1) if line.get("channel", VOICE) == VOICE else None for line in utterances]
    voiced = [n for n, key in enumerate(keys) if key is not None]
    for n, key in enumerate(keys):
        before = [keys[v] for v in voiced if v < n]
        after = [keys[v] for v in voiced if v > n]
        if key is None and before and after and before[-1] == after[0]:
            keys[n] = before[-1]  # texted during that call
    grouped: List[Tuple[Optional[int], List[int]]] = []
    for n, key in enumerate(keys):
        if grouped and grouped[-1][0] == key:
            grouped[-1][1].append(n)
        else:
            grouped.append((key, [n]))
    return grouped


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _address(channel: str, address: str) -> str:
    return "whatsapp:" + address if channel == "WHATSAPP" else address


def _result(
    kind: OperatorKind, output_format: str, result, when: str, refs, comms, channels, name: Optional[str] = None
) -> dict:
    operator = {"id": OPERATOR_IDS[kind], "version": 1, "parameters": None}
    if name:  # Twilio often leaves the name out; the relay classifies by id
        operator["displayName"] = name
    return {
        "id": twilio_id("intelligence_operatorresult"),
        "operator": operator,
        "outputFormat": output_format,
        "result": result,
        "dateCreated": when,
        "referenceIds": refs,
        "executionDetails": {
            "trigger": {"on": "COMMUNICATION", "timestamp": when},
            "communications": comms,
            "channels": sorted(channels),
            "participants": [],
        },
    }


@dataclass
class _Part:
    """What the operators have seen of one call or text thread so far."""

    first: Optional[str] = None
    count: int = 0
    channels: set = field(default_factory=set)
    verdicts: dict = field(default_factory=dict)
    explanation: Optional[str] = None
    sentiment: Optional[str] = None
    summary: Optional[str] = None


class _Conversation:
    """The posts of one run of a scenario, appended as its clock advances."""

    def __init__(self, scenario: dict, start: datetime, speed: float, account: Optional[str]):
        self.start, self.speed = start, speed
        self.account = account or "AC" + secrets.token_hex(16)
        self.id = twilio_id("conv_conversation")
        self.people = {who: dict(scenario[who], id=twilio_id("conv_participant"), addresses=[]) for who in SPEAKERS}
        self.config = {
            "id": twilio_id("intelligence_configuration"),
            "displayName": "flex_cintel_plugin_demo",
            "version": 3,
        }
        self.rules = {kind: twilio_id("intelligence_configurationrule") for kind in ("script", "summary", "nbr")}
        self.middle = (len(scenario["utterances"]) + 1) // 2
        self.retried = False  # one post comes twice
        self.retry: Optional[Post] = None
        self.sentiments = 0
        self.sequence: Dict[str, int] = {}
        self.clock = 0.0
        self.out: List[Post] = []

    def when(self, at: Optional[float] = None) -> str:
        return _iso(self.start + timedelta(seconds=(self.clock if at is None else at) / self.speed))

    def orchestrator(self, event_type: str, data: dict, label: str, hangs_up: bool = False):
        body = {"eventType": event_type, "timestamp": self.when(), "data": dict(data, accountId=self.account)}
        headers = {"I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        self.out.append(Post(self.clock, "/webhook/cor-event", body, label, headers=headers, hangs_up=hangs_up))

    def status(self, sid: str, call_status: str, hangs_up: bool = False, **extra):
        sequence = self.sequence[sid] = self.sequence.get(sid, -1) + 1
        moment = self.start + timedelta(seconds=self.clock / self.speed)
        form = {
            "AccountSid": self.account,
            "ApiVersion": "2010-04-01",
            "CallSid": sid,
            "CallStatus": call_status,
            "Direction": "inbound",
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": moment.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            "From": self.people["customer"]["address"],
            "To": self.people["agent"]["address"],
            **extra,
        }
        self.out.append(
            Post(self.clock, "/webhook/status", form, f"status {call_status}", form=True, hangs_up=hangs_up)
        )

    def rule(self, rule: str, results: list, label: str, at: float, n: int):
        body = {
            "accountId": self.account,
            "conversationId": self.id,
            "intelligenceConfiguration": dict(self.config, ruleId=self.rules[rule]),
            "operatorResults": results,
        }
        self.out.append(Post(at, "/webhook/cintel-action", body, label))
        if not self.retried and n >= self.middle:  # Twilio retries a webhook the relay had accepted
            self.retried, self.retry = True, Post(at, "/webhook/cintel-action", body, label + " (again)")

    def join(self, channel: str, sid: Optional[str]):
        """Participant events for the address each person uses on ``channel`` (``sid``: the call), if new."""
        for who in SPEAKERS:
            person = self.people[who]
            address = {"channel": channel, "address": _address(channel, person["address"])}
            if sid:
                address["channelId"] = sid
            if address in person["addresses"]:
                continue
            event = "PARTICIPANT_UPDATED" if person["addresses"] else "PARTICIPANT_ADDED"
            person["addresses"] = [a for a in person["addresses"] if a["channel"] != channel] + [address]
            data = {
                "id": person["id"],
                "conversationId": self.id,
                "name": person["name"],
                "type": "HUMAN_AGENT" if who == "agent" else "CUSTOMER",
                "addresses": list(person["addresses"]),
                "createdAt": self.when(),
                "updatedAt": self.when(),
            }
            self.orchestrator(event, data, f"{who} joined" if event == "PARTICIPANT_ADDED" else f"{who} on {channel}")

    def communication(self, comm: str, line: dict, sid: Optional[str]) -> dict:
        channel = line.get("channel", VOICE)
        person = self.people[line["speaker"]]
        other = self.people["customer" if line["speaker"] == "agent" else "agent"]
        data: Dict[str, Any] = {
            "id": comm,
            "conversationId": self.id,
            "author": {
                "address": _address(channel, person["address"]),
                "channel": channel,
                "participantId": person["id"],
            },
            "createdAt": self.when(),
            "updatedAt": self.when(),
            "occurredAt": self.when(self.clock - 1.0),
        }
        if channel == VOICE:
            data.update(
                content={
                    "type": "TRANSCRIPTION",
                    "text": line["text"],
                    "transcription": {"channel": 1 if line["speaker"] == "agent" else 2, "confidence": 0.93},
                },
                channelId=sid,
                resourceId=twilio_id("conv_resource"),
                recipients=[],
            )
        else:
            data.update(
                content={"type": "TEXT", "text": line["text"]},
                recipients=[
                    {"address": _address(channel, other["address"]), "channel": channel, "participantId": other["id"]}
                ],
            )
            if channel != "CHAT":
                data["channelId"] = "SM" + secrets.token_hex(16)  # the Message SID
        return data

    def say(self, n: int, line: dict, part: _Part, sid: Optional[str], last: bool):
        """One utterance: its communication, then the operators' results (but when a scenario opens with a
        spoken line, its result comes before the events that map the conversation to the call)."""
        self.clock += line["pause"]
        channel = line.get("channel", VOICE)
        comm = twilio_id("conv_communication")
        data = self.communication(comm, line, sid)
        label = f"utterance {n} ({line['speaker']}{'' if channel == VOICE else ', ' + channel})"
        early = n == 1 and channel == VOICE
        if not early:
            self.join(channel, sid if channel == VOICE else None)
            self.orchestrator("COMMUNICATION_CREATED", data, label)
        part.first, part.count = part.first or comm, part.count + 1
        part.channels.add(channel)
        part.verdicts.update(line.get("adherence", {}))
        part.explanation = line.get("explanation", part.explanation)
        part.sentiment = line.get("sentiment", part.sentiment)
        part.summary = line.get("summary", part.summary)
        self.clock += OPERATOR_SECONDS
        self.results(n, line, part, comm, sid, last)
        if early:
            self.join(channel, sid)
            self.orchestrator("COMMUNICATION_CREATED", data, label)
        if self.retry:  # sent once this utterance's posts are all out
            self.out.append(self.retry)
            self.retry = None

    def results(self, n: int, line: dict, part: _Part, comm: str, sid: Optional[str], last: bool):
        at = self.clock + line.get("resultsAfter", 0)
        when, comms, channels = self.when(at), {"first": part.first, "last": comm}, part.channels
        if sid:
            adherence: Dict[str, Any] = {
                "categories": [
                    {"category_key": key, "criteria": [{"criteria_key": "Action", "criteria_met": v}]}
                    for key, v in part.verdicts.items()
                ]
            }
            if part.explanation:
                adherence["explanation"] = part.explanation
            self.rule(
                "script",
                [_result(OperatorKind.SCRIPT, "JSON", adherence, when, [comm], comms, channels)],
                f"script adherence after utterance {n}",
                at,
                n,
            )
        if (part.count % SUMMARY_EVERY == 0 or last) and (part.sentiment or part.summary):
            results: List[Optional[dict]] = [None]  # Twilio may send null entries
            if part.sentiment:
                self.sentiments += 1
                label = part.sentiment if self.sentiments % 2 == 0 else {"label": part.sentiment}
                results.insert(
                    0, _result(OperatorKind.SENTIMENT, "CLASSIFICATION", label, when, [], comms, channels, "Sentiment")
                )
            if part.summary:
                results.append(_result(OperatorKind.SUMMARY, "TEXT", {"text": part.summary}, when, [], comms, channels))
            self.rule("summary", results, f"sentiment and summary after utterance {n}", at, n)
        if line.get("suggestion"):
            self.rule(
                "nbr",
                [_result(OperatorKind.SUGGESTION, "TEXT", {"text": line["suggestion"]}, when, [comm], comms, channels)],
                f"next best response after utterance {n}",
                at,
                n,
            )


def build_call(scenario: dict, start: datetime, speed: float = 1.0, account: Optional[str] = None) -> List[Post]:
    """Every post of one run of ``scenario`` (its conversation, calls and texts), in the order Twilio
    would send them, with fresh ids.

    ``at`` is in scenario seconds; payload timestamps are ``start`` plus scenario time divided by ``speed``.
    """
    conversation = _Conversation(scenario, start, speed, account)
    lines, split = scenario["utterances"], parts(scenario["utterances"])
    for number, (call, indexes) in enumerate(split):
        sid = call_sid() if call is not None else None
        if sid:
            conversation.status(sid, "ringing")
            conversation.clock += scenario.get("ringSeconds", 3)
            conversation.status(sid, "in-progress")
        answered = conversation.clock
        if number == 0:
            created = {"id": conversation.id, "status": "ACTIVE", "createdAt": conversation.when()}
            conversation.orchestrator("CONVERSATION_CREATED", created, "conversation created")
        part = _Part()
        for n in indexes:
            conversation.say(n + 1, lines[n], part, sid, last=n == indexes[-1])
        conversation.clock += 2.0
        if number == len(split) - 1:
            closed = {"id": conversation.id, "status": "CLOSED", "updatedAt": conversation.when()}
            conversation.orchestrator("CONVERSATION_UPDATED", closed, "conversation closed", hangs_up=True)
        if sid:
            conversation.status(sid, "completed", hangs_up=True, CallDuration=str(round(conversation.clock - answered)))
    return sorted(conversation.out, key=lambda post: post.at)
