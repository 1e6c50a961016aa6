"""Alert rules (docs/operators.md): each kind fires once per episode and clears, on another replica's stream and the
board, and reaches a receiver signed with a Slack-compatible text. Two real gunicorn replicas on a Redis of their
own (their due runners deliver); pure tests of each condition and of the rules' validation."""

import json
import signal

import orjson
import pytest
import redis as redis_lib
import requests

from cintel_relay.alerts import BUILT_IN, CallState, condition, parse_rules
from cintel_relay.bus.keys import due_keys, latest_key, log_key
from cintel_relay.errors import ConfigError
from cintel_relay.outbound import signing
from cintel_relay.script import load_script

from .support import (
    CALL_SID,
    SENTIMENT_OPERATOR,
    Receiver,
    RedisServer,
    SSEClient,
    adherence_result,
    communication,
    operator_result,
    post_json,
    rule_execution,
    wait_for,
)
from .test_catalog import CHURN_ID, example
from .test_insights import UPSELL_ID

SECRET = "alert-secret-for-tests-0123456789abcdef"
RULES = [
    {"name": "churn-high", "title": "Churn risk high", "severity": "critical", "audience": ["supervisor", "agent"],
     "when": {"label": {"operator": "churn-risk", "in": ["HIGH"]}}},
    {"name": "upsell-hot", "title": "Upsell now", "severity": "info", "audience": ["agent"],
     "when": {"field": {"operator": "upsell", "path": "likelihood", "op": "==", "value": "HIGH"}}},
    {"name": "negative-twice", "title": "Customer upset", "when": {"sentiment": {"negative": 2}}},
    {"name": "score-low", "title": "Off script", "when": {"score": {"below": 50, "after": 0}}},
    {"name": "cancel-words", "title": "Cancellation talk", "severity": "critical",
     "when": {"phrases": {"speaker": "customer", "any": ["cancel", "competitor"], "window": 2}}},
    {"name": "agent-words", "title": "Agent phrasing", "when": {"phrases": {"speaker": "agent", "any": ["not my problem"]}}},
]  # fmt: skip


def catalog(tmp_path_factory) -> str:
    data = example(alerts=RULES)
    data["operators"][0]["operatorId"] = UPSELL_ID
    data["operators"][1]["operatorId"] = CHURN_ID
    path = tmp_path_factory.mktemp("alerts") / "operators.json"
    path.write_text(json.dumps(data))
    return str(path)


def quick_greeting(tmp_path_factory) -> str:
    """The built-in script with the greeting due within a second: the relay's timer announces it overdue."""
    script = json.loads(json.dumps(load_script().to_dict()))
    script["categories"][0]["withinSeconds"] = 1
    path = tmp_path_factory.mktemp("script") / "script.json"
    path.write_text(json.dumps(script))
    return str(path)


@pytest.fixture(scope="module")
def setup(start_module_relay, tmp_path_factory):
    redis = RedisServer().start()
    receiver = Receiver()
    env = dict(
        CINTEL_OPERATORS_FILE=catalog(tmp_path_factory),
        CINTEL_SCRIPT_FILE=quick_greeting(tmp_path_factory),
        CINTEL_ALERT_URL=receiver.url,
        CINTEL_ALERT_SECRET=SECRET,
        CINTEL_REPORT_RETRY_SECONDS="0.3",
        CINTEL_REPORT_TIMEOUT="1",
        CINTEL_DUE_LEASE_SECONDS="2",
    )
    relays = [start_module_relay(redis.url, **env) for _ in range(2)]
    yield relays, receiver
    receiver.stop()
    redis.stop()


def cintel(relay, *results):
    answer = post_json(relay.url, "/webhook/cintel-action", rule_execution(list(results)))
    assert answer.status_code == 200, answer.text


def say(relay, n, text, speaker):
    assert post_json(relay.url, "/webhook/cor-event", communication(f"c{n}", text, speaker)).status_code == 200


def sentiment(n, label):
    return operator_result(f"s{n}", SENTIMENT_OPERATOR, {"label": label}, output_format="CLASSIFICATION")


def test_each_rule_kind_fires_once_per_episode_and_clears_on_another_replica_and_the_board(setup):
    (first, second), receiver = setup
    say(first, 1, "Hi, this is Dana from Swift Movers.", "agent")
    stream = SSEClient(second.url, CALL_SID)
    stream.events(2)
    board = SSEClient(second.url, "board", path="/api/board/stream")
    board.next_event()

    say(first, 2, "I might cancel and go to a competitor.", "customer")
    cintel(first, sentiment(1, "NEGATIVE"))
    cintel(second, sentiment(2, "negative"), sentiment(2, "negative"))  # a duplicate result: one event
    cintel(first, sentiment(3, "NEGATIVE"))
    cintel(first, operator_result("u1", UPSELL_ID, {"opportunity": True, "likelihood": "HIGH"}))
    cintel(second, operator_result("ch1", CHURN_ID, {"label": "HIGH"}, output_format="CLASSIFICATION"))
    cintel(first, adherence_result("a1", greeting="Failed"))  # greeting overdue comes from the relay's timer
    say(second, 3, "That's not my problem, sorry.", "agent")
    # Everything again, as Twilio retries: nothing new fires.
    cintel(second, operator_result("ch1", CHURN_ID, {"label": "HIGH"}, output_format="CLASSIFICATION"))
    say(first, 2, "I might cancel and go to a competitor.", "customer")

    def alerts_until(count):
        seen = []
        while len(seen) < count:
            _, frame = stream.next_event()
            if frame["type"] == "alert":
                seen.append(frame["data"])
        return seen

    fired = alerts_until(8)
    assert sorted((a["rule"], a["state"], a["episode"]) for a in fired) == sorted(
        [
            ("cancel-words", "firing", 1),
            ("negative-sentiment", "firing", 1),
            ("negative-twice", "firing", 1),
            ("upsell-hot", "firing", 1),
            ("churn-high", "firing", 1),
            ("step-overdue", "firing", 1),
            ("score-low", "firing", 1),
            ("agent-words", "firing", 1),
        ]
    )
    by_rule = {a["rule"]: a for a in fired}
    assert by_rule["cancel-words"]["evidence"] == ["c2"] and "'cancel'" in by_rule["cancel-words"]["why"]
    assert by_rule["step-overdue"]["why"] == "Greeting overdue"
    assert by_rule["churn-high"]["audience"] == ["supervisor", "agent"]
    assert by_rule["negative-twice"]["evidence"] == ["s1", "s2"]

    # Clearing: sentiment turns positive, the greeting is met, the customer calms down over two utterances.
    cintel(second, sentiment(4, "POSITIVE"))
    cintel(first, adherence_result("a2", greeting="Succeeded", verification="Succeeded", move_details="Succeeded"))
    say(first, 4, "Fine, let's book it.", "customer")
    say(second, 5, "Great, the date works.", "customer")
    cleared = alerts_until(5)
    assert sorted(a["rule"] for a in cleared) == [
        "cancel-words", "negative-sentiment", "negative-twice", "score-low", "step-overdue"
    ]  # fmt: skip
    assert all(a["state"] == "cleared" and a["episode"] == 1 for a in cleared)
    # A clearing says when its episode fired, so a reader of the clearing alone knows how long it lasted.
    assert all(a["firedAt"] == by_rule[a["rule"]]["firedAt"] == by_rule[a["rule"]]["timestamp"] for a in cleared)

    # A second episode: fires again only now that it has cleared.
    say(first, 6, "Actually, I want to cancel.", "customer")
    (again,) = alerts_until(1)
    assert (again["rule"], again["state"], again["episode"]) == ("cancel-words", "firing", 2)

    # The board carries the rules firing now: its stream on the other replica, and its summary.
    changes = []
    while not changes or set(changes[-1]) != {"churn-high", "upsell-hot", "agent-words", "cancel-words"}:
        _, frame = board.next_event()
        if frame["type"] == "call":
            changes.append(frame["data"].get("alerts") or {})
    summary = requests.get(f"{first.url}/api/board/calls/{CALL_SID}", timeout=10).json()
    assert summary["alerts"]["churn-high"] == {
        "title": "Churn risk high", "severity": "critical", "why": "Churn Risk: HIGH"
    }  # fmt: skip
    assert set(summary["alerts"]) == set(changes[-1])

    # Each transition reached the receiver once, signed, with a Slack-compatible text.
    wait_for(lambda: len(receiver.received) >= 14, timeout=20, what="14 alert deliveries")
    bodies = []
    for r in receiver.received:
        stamp = r.headers[signing.TIMESTAMP_HEADER]
        assert signing.verify(SECRET, stamp, r.headers[signing.SIGNATURE_HEADER], r.body, now=int(stamp))
        bodies.append(orjson.loads(r.body))
    assert len({r.headers[signing.DELIVERY_HEADER] for r in receiver.received}) == len(bodies) == 14
    churn = next(b for b in bodies if b["rule"] == "churn-high")
    assert churn["text"] == f"[CRITICAL] Churn risk high on call {CALL_SID}: Churn Risk: HIGH"
    assert churn["callSid"] == CALL_SID and churn["state"] == "firing"
    for relay in (first, second):
        assert "I might cancel" not in relay.output()


def test_results_held_until_the_call_is_known_are_evaluated_when_the_call_frees_them(setup):
    """A delivery that frees held results logs more than its own events: the rules see those too."""
    (first, second), _ = setup
    call, conversation = "CA" + "7" * 32, "conv_conversation_01kg2v7x3m4n5p6q7r8s9held"
    early = rule_execution([sentiment(21, "NEGATIVE"), sentiment(22, "NEGATIVE")], conversation=conversation)
    assert post_json(first.url, "/webhook/cintel-action", early).json()["held"] == 4  # 2 events each
    line = communication("c21", "Hi, this is Dana.", "agent", call_sid=call, conversation=conversation)
    # The line's own count; the results it freed are logged too, before it.
    assert post_json(second.url, "/webhook/cor-event", line).json()["logged"] == 1
    stream = SSEClient(first.url, call)
    alerts = stream.events(2)[1][1]["alerts"]  # connected, initial
    assert alerts["negative-twice"]["state"] == alerts["negative-sentiment"]["state"] == "firing"
    assert alerts["negative-twice"]["evidence"] == ["s21", "s22"]
    stream.close()


def test_a_call_with_no_rule_that_waits_on_time_queues_nothing_for_its_rules(setup):
    (first, _), _ = setup
    call, conversation = "CA" + "8" * 32, "conv_conversation_01kg2v7x3m4n5p6q7r8s9time"
    line = communication("c31", "Hi, this is Dana.", "agent", call_sid=call, conversation=conversation)
    assert post_json(first.url, "/webhook/cor-event", line).status_code == 200
    with redis_lib.Redis.from_url(first.env["REDIS_URL"]) as client:
        assert client.hget(latest_key(call), "deadlines") == b"1"  # the call's start hook ran
        queued = [item.decode() for item in client.zrange(due_keys("relay")[0], 0, -1)]
    assert [item for item in queued if item.startswith("deadline:" + call)]  # its script deadlines, yes
    assert not [item for item in queued if item.startswith("rules:")]  # score-low waits 0 s: no timer


def test_a_score_rule_fires_on_time_on_a_silent_call_through_the_replica_that_survives(
    start_private_relay, private_redis, tmp_path
):
    late = {"name": "score-late", "title": "Off script", "when": {"score": {"below": 50, "after": 4}}}
    path = tmp_path / "operators.json"
    path.write_text(json.dumps(example(alerts=[late])))
    timer_setter, survivor = (start_private_relay(CINTEL_OPERATORS_FILE=str(path)) for _ in range(2))
    stream = SSEClient(survivor.url, CALL_SID)
    stream.events(2)
    say(timer_setter, 1, "Hello, Swift Movers.", "agent")
    cintel(timer_setter, adherence_result("a1", greeting="Failed", verification="Failed"))
    with redis_lib.Redis.from_url(private_redis.url) as client:
        started = int(client.hget(latest_key(CALL_SID), "started"))
        assert int(client.zscore(due_keys("relay")[0], f"rules:{CALL_SID}:4000")) == started + 4000
        timer_setter.stop(signal.SIGKILL)  # the call says nothing more; the relay that heard it is gone
        seconds, micros = client.time()
        killed_ms = seconds * 1000 + micros // 1000

        alert = None
        while alert is None:
            log_id, frame = stream.next_event(timeout=20)
            if frame["type"] == "alert" and frame["data"]["rule"] == "score-late":
                alert = frame["data"]
        assert (alert["state"], alert["episode"]) == ("firing", 1)
        assert "below 50% after 4 s" in alert["why"]
        assert int(log_id.partition("-")[0]) >= killed_ms  # logged by the survivor's timer, not a webhook
        wait_for(lambda: client.zscore(due_keys("relay")[0], f"rules:{CALL_SID}:4000") is None, what="the timer done")
        logged = [orjson.loads(f[b"f"])["data"] for _, f in client.xrange(log_key(CALL_SID)) if f[b"t"] == b"alert"]
    assert [(a["rule"], a["state"]) for a in logged if a["rule"] == "score-late"] == [("score-late", "firing")]


# --- pure ------------------------------------------------------------------------------------------------


def rules(*raw):
    return parse_rules(list(raw), {"churn-risk": CHURN_ID, CHURN_ID: CHURN_ID})


def test_every_mistake_in_the_rules_is_one_line_naming_the_rule():
    with pytest.raises(ConfigError) as caught:
        rules(
            {"name": "step-overdue", "when": {"overdue": {}}},
            {"name": "x", "severity": "loud", "when": {"label": {"operator": "nope", "in": []}}},
            {"name": "y", "when": {"phrases": {"speaker": "robot", "any": []}}},
            {"name": "z", "when": {}},
        )
    lines = str(caught.value).splitlines()
    assert lines == [
        "CINTEL_OPERATORS_FILE: alerts[0] (step-overdue): name 'step-overdue' is taken (by an earlier rule, or a built-in one)",
        "CINTEL_OPERATORS_FILE: alerts[1] (x): severity must be one of info, warning, critical",
        "CINTEL_OPERATORS_FILE: alerts[1] (x): when.label.operator 'nope' is not a catalog operator's key or id",
        "CINTEL_OPERATORS_FILE: alerts[1] (x): when.label.in must list the labels that fire it",
        "CINTEL_OPERATORS_FILE: alerts[2] (y): when.phrases.speaker must be customer or agent",
        "CINTEL_OPERATORS_FILE: alerts[2] (y): when.phrases.any must list words or phrases",
        "CINTEL_OPERATORS_FILE: alerts[3] (z): when must hold exactly one of label, field, sentiment, overdue, score, phrases",
    ]  # fmt: skip


def state(latest=None, tail=(), seconds=0.0):
    return CallState(latest or {}, list(tail), seconds)


def test_the_built_in_overdue_rule_follows_the_relays_deadlines_when_it_has_them():
    overdue = BUILT_IN[0]
    skipped = {"categories": [{"key": "a", "label": "A", "status": "pending"}, {"key": "b", "status": "met"}]}
    assert condition(overdue, state({"adherence": skipped})).why == "A overdue"  # a later step met
    timed = {"categories": [{"key": "a", "label": "A", "status": "pending", "due": "open", "evidence": []},
                            {"key": "b", "label": "B", "status": "met", "due": "on_time", "evidence": ["c1"]}]}  # fmt: skip
    assert condition(overdue, state({"adherence": timed})) is None  # its deadline has not passed
    timed["categories"][0]["due"] = "overdue"
    assert condition(overdue, state({"adherence": timed})).why == "A overdue"


def test_score_waits_for_its_time_and_fields_compare_by_type():
    (score,) = rules({"name": "s", "when": {"score": {"below": 50, "after": 60}}})[2:]
    low = {"adherence": {"score": 20, "categories": []}}
    assert condition(score, state(low, seconds=59)) is None
    assert "below 50% after 61 s" in condition(score, state(low, seconds=61)).why
    (field,) = rules({"name": "f", "when": {"field": {"operator": "churn-risk", "path": "n", "op": ">", "value": 3}}})[
        2:
    ]
    insight = {"insights": {CHURN_ID: {"operatorName": "C", "raw": {"n": "four"}, "fields": []}}}
    assert condition(field, state(insight)) is None  # a string is not compared with a number
    insight["insights"][CHURN_ID]["raw"]["n"] = 4
    assert condition(field, state(insight)).why == "C: n is 4"
