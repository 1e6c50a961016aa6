"""The SSE contract: tests/contract/sse-frames.json is well formed, and the relay's frames match it.

The same file is what the plugin's jest suite renders (plugin-cintel-rtt/src/feature/agent-assist/
contract.test.tsx), so a frame the relay changes without changing the file fails here, and a change to the
file that the plugin does not follow fails there. A frame matches the example of its type when it has the
same keys, with values of the same JSON type, except where the file's rules say a value may be null, a key
may be absent, or a value is free (an operator's raw result).
"""

import json
import os
import urllib.parse
from typing import Optional

import orjson
import pytest
import redis as redis_lib
import requests

from cintel_relay import events
from cintel_relay.bus.keys import log_key

from .support import (
    CALL_SID,
    CONVERSATION,
    ROOT,
    SENTIMENT_OPERATOR,
    SSEClient,
    operator_result,
    payload,
    post_form,
    post_json,
    rule_execution,
)
from .support.channels import sms

CONTRACT = os.path.join(ROOT, "tests", "contract", "sse-frames.json")
#: Every frame type the relay sends: the session streams' and the supervisor board's.
FRAME_TYPES = {*events.FRAME_TYPES, events.CONNECTED, events.INITIAL, events.BOARD_SNAPSHOT, events.BOARD_CALL}
NEXT_BEST_RESPONSE = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"
SMS_ID = "conv_communication_01kg2vbs1b2c3d4e5f6g7h8j9k"
VOICE_ID = "conv_communication_01kg2vaz9y8x7w6v5t4s3r2q1p"  # the id in cor-communication-transcription.json
SUGGESTION_ID = "intelligence_operatorresult_01kg2vd2c1d2e3f4g5h6j7k8m9"
CUSTOM_OPERATOR = "intelligence_operator_01kg2vy0c1d2e3f4g5h6j7k8m9"


def load_contract() -> dict:
    with open(CONTRACT, encoding="utf-8") as fh:
        return json.load(fh)


CONTRACT_DATA = load_contract()
EXAMPLES = CONTRACT_DATA["examples"]
RULES = CONTRACT_DATA["rules"]


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def walk(value, steps):
    """The value at ``steps`` (keys, or ``[]`` for a list's first item) below ``value``, or KeyError."""
    for step in steps:
        if step == "*":  # any key of an object keyed by a data field: its first value
            value = next(iter(value.values()))
        elif step == "[]":
            if not value:
                raise KeyError("an empty list")
            value = value[0]
        else:
            value = value[step]
    return value


def split(path: str):
    """``initial.transcript[].id`` -> ``("initial", ["transcript", "[]", "id"])``."""
    frame_type, *keys = path.split(".")
    steps = []
    for key in keys:
        steps += [key[:-2], "[]"] if key.endswith("[]") else [key]
    return frame_type, steps


def canonical(frame_type: str) -> dict:
    """The example a frame of this type is compared with: the first of its type in the file."""
    return next(frame for frame in EXAMPLES.values() if frame["type"] == frame_type)


def resolve(path: str):
    frame_type, steps = split(path)
    return walk(canonical(frame_type), steps)


def mismatches(value, example, path: str, where: Optional[str] = None) -> list:
    """Where ``value`` differs from ``example`` in keys or JSON types, as readable lines naming the path.

    ``path`` is the one the rules name (a snapshot's embedded entry takes the path of the frame it stands
    for); ``where`` is the one reported.
    """
    where = where or path
    if path in RULES["sameShapeAs"]:
        path = RULES["sameShapeAs"][path]
        example = resolve(path)
    if path in RULES["anyValue"]:
        return []
    if value is None and (path in RULES["nullable"] or example is None):
        return []
    if json_type(value) != json_type(example):
        return [f"{where}: {json_type(value)} where the contract has {json_type(example)}"]
    if isinstance(value, dict) and f"{path}.*" in RULES["sameShapeAs"]:  # keyed by a data field (per operator, ...)
        return [line for key in value for line in mismatches(value[key], None, f"{path}.*", f"{where}.{key}")]
    if isinstance(value, dict):
        found = [f"{where}.{key}: not in the contract" for key in value if key not in example]
        for key, expected in example.items():
            if key in value:
                found += mismatches(value[key], expected, f"{path}.{key}", f"{where}.{key}")
            elif f"{path}.{key}" not in RULES["optional"]:
                found.append(f"{where}.{key}: missing")
        return found
    if isinstance(value, list):
        item_path = f"{path}[]"
        if not example and item_path not in RULES["sameShapeAs"]:
            return [f"{where}: the contract's example list is empty"] if value else []
        model = example[0] if example else None
        return [line for item in value for line in mismatches(item, model, item_path, f"{where}[]")]
    return []


def frame_mismatches(frame: dict) -> list:
    return mismatches(frame, canonical(frame["type"]), frame["type"])


# --- the file -------------------------------------------------------------------------------------


def test_every_frame_type_has_an_example():
    assert {frame["type"] for frame in EXAMPLES.values()} == FRAME_TYPES


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_agrees_with_the_contract(name):
    """Examples of one type agree, and what a snapshot embeds has the shape of the frame it stands for."""
    assert frame_mismatches(EXAMPLES[name]) == []


def test_every_rule_names_a_path_of_the_examples():
    paths = [
        *RULES["nullable"],
        *RULES["optional"],
        *RULES["anyValue"],
        *RULES["sameShapeAs"],
        *RULES["sameShapeAs"].values(),
    ]
    for path in paths:
        resolve(path)  # a KeyError names a rule left behind by a renamed field


def test_transcript_examples_cover_a_call_and_a_text_channel():
    channels = {frame["data"]["channel"] for frame in EXAMPLES.values() if frame["type"] == "transcript"}
    assert {"VOICE", "SMS"} <= channels


def test_the_snapshot_carries_the_latest_value_of_every_kept_type():
    kept = {spec.snapshot for spec in events.FRAME_TYPES.values() if spec.snapshot} | set(
        events.SNAPSHOT_LISTS.values()
    )
    assert set(canonical("initial")) - {"type"} == kept


def test_a_changed_field_is_caught():
    """The checker itself: a renamed key, a wrong type and a missing key are each reported."""
    frame = json.loads(json.dumps(EXAMPLES["transcript (voice)"]))
    frame["data"]["body"] = frame["data"].pop("text")
    frame["data"]["timestamp"] = 1796111942458
    del frame["data"]["channel"]
    assert sorted(frame_mismatches(frame)) == [
        "transcript.data.body: not in the contract",
        "transcript.data.channel: missing",
        "transcript.data.text: missing",
        "transcript.data.timestamp: number where the contract has string",
    ]


# --- the relay ------------------------------------------------------------------------------------


def session_log(client, session: str) -> list:
    return [orjson.loads(fields[b"f"]) for _, fields in client.xrange(log_key(session))]


@pytest.fixture(scope="module")
def produced(relay_pair, redis_server):
    """One call played through a real relay, and the frames of each example's kind it produced, by name."""
    relay = relay_pair[0].url
    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    board_stream = SSEClient(relay, "board", path="/api/board/stream")
    board_stream.next_event()  # its snapshot, before the call
    deliveries = [
        ("/webhook/cor-event", payload("cor-participant-added.json")),
        ("/webhook/cor-event", payload("cor-communication-transcription.json")),
        ("/webhook/cor-event", sms(SMS_ID, "Texting you my new address: 1200 Barton Springs Rd, Austin.")),
        ("/webhook/cintel-action", payload("cintel-script-adherence.json")),
        ("/webhook/cintel-action", payload("cintel-sentiment-summary.json")),
        (
            "/webhook/cintel-action",
            rule_execution(
                [
                    operator_result(
                        SUGGESTION_ID,
                        NEXT_BEST_RESPONSE,
                        {"text": "Offer full-value protection for the piano."},
                        output_format="TEXT",
                    ),
                    operator_result(
                        "intelligence_operatorresult_01kg2vd3c1d2e3f4g5h6j7k8m9",
                        CUSTOM_OPERATOR,
                        {"opportunity": True, "likelihood": "HIGH", "evidence": {"quote": "Do you insure pianos?"}},
                    ),
                    # The customer turns negative: the built-in negative-sentiment rule fires (an alert frame).
                    operator_result(
                        "intelligence_operatorresult_01kg2vd4c1d2e3f4g5h6j7k8m9",
                        SENTIMENT_OPERATOR,
                        {"label": "NEGATIVE"},
                        output_format="CLASSIFICATION",
                    ),
                ]
            ),
        ),
    ]
    for path, body in deliveries:
        assert post_json(relay, path, body).status_code == 200
    disputed = requests.post(f"{relay}/api/calls/{CALL_SID}/disputes", json={"category": "verification"}, timeout=10)
    assert disputed.status_code == 201, disputed.text
    coached = requests.post(f"{relay}/api/calls/{CALL_SID}/coaching", json={"text": "Confirm the date."}, timeout=10)
    assert coached.status_code == 201, coached.text
    board = SSEClient(relay, "board", path="/api/board/stream").next_event()[1]
    assert CALL_SID in [c["session"] for c in board["calls"]]  # so a call summary is checked too
    call_frame = next(frame for _, frame in iter(board_stream.next_event, None) if frame["type"] == "call")
    board_stream.close()
    form = dict(urllib.parse.parse_qsl(payload("status-callback.form").strip()))
    assert post_form(relay, "/webhook/status", form).status_code == 200
    stream = SSEClient(relay, CALL_SID)
    (_, connected), (_, initial) = stream.events(2)
    stream.close()

    call = session_log(client, CALL_SID)
    texts = session_log(client, CONVERSATION)
    client.close()

    def first(frames, frame_type, **data):
        return next((f for f in frames if f["type"] == frame_type and data.items() <= f["data"].items()), None)

    return {
        "connected": connected,
        "initial": initial,
        "board": board,
        "call": call_frame,
        "transcript (voice)": first(call, "transcript", id=VOICE_ID),
        "transcript (sms)": first(texts, "transcript", id=SMS_ID),
        **{
            kind: first(call, kind)
            for kind in (
                "operator-result",
                "adherence",
                "sentiment",
                "summary",
                "call-status",
                "suggestion",
                "insight",
                "coaching",
                "dispute",
                "alert",
            )
        },
    }


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_relay_produces_frames_that_match_the_contract(produced, name):
    frame = produced[name]
    assert frame is not None, f"the relay produced no {name} frame"
    assert frame_mismatches(frame) == []
