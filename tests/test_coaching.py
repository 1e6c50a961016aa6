"""Live coaching through real replicas in flex mode: a supervisor's note reaches the agent's stream on another
replica; an agent cannot send one; bad notes get a 4xx naming the problem; no note text in logs. Suggested
response uses are counted per operator version."""

import pytest
import redis
import requests

from .support import (
    CALL_SID,
    METRICS_TOKEN,
    RedisServer,
    SSEClient,
    communication,
    metric,
    post_json,
    running,
    running_all,
    scrape,
)
from .support.fakes.twilio import sid
from .support.flex_relays import flex_mode_relay
from .test_stream_auth import get_ticket

NBR = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"
NOTE = "Slow down and confirm the move date before quoting."


@pytest.fixture(scope="module")
def coaching_redis():
    yield from running(RedisServer())


@pytest.fixture(scope="module")
def pair(coaching_redis, twilio_server):
    redis_url, twilio_url = coaching_redis.url, twilio_server.url
    yield from running_all(flex_mode_relay(redis_url, twilio_url, CINTEL_METRICS_TOKEN=METRICS_TOKEN) for _ in range(2))


@pytest.fixture
def call(pair, fake_twilio, coaching_redis):
    """A live call handled by an agent: (agent token, supervisor token)."""

    client = redis.Redis.from_url(coaching_redis.url)
    client.flushall()
    client.close()
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    assert post_json(pair[0].url, "/webhook/cor-event", communication("c1", "Hello, Swift Movers.")).ok
    return fake_twilio.add_user("agent_dana", worker_sid=worker), fake_twilio.add_user("sup_sam", roles=["supervisor"])


def coach(relay, ticket, body):
    return requests.post(f"{relay.url}/api/calls/{CALL_SID}/coaching", params={"ticket": ticket}, json=body, timeout=10)


def test_a_supervisors_note_reaches_the_agents_stream_on_another_replica(pair, call):
    agent, supervisor = call
    stream = SSEClient(pair[1].url, CALL_SID, query=f"?ticket={get_ticket(pair[1], agent)}")
    stream.events(2)  # connected, initial
    sent = coach(pair[0], get_ticket(pair[0], supervisor, "board"), {"text": f"  {NOTE} "})
    assert sent.status_code == 201, sent.text
    _, frame = stream.next_event()
    assert frame["type"] == "coaching"
    assert frame["data"]["text"] == NOTE and frame["data"]["id"] == sent.json()["id"]
    assert frame["data"]["by"]  # the supervisor's keyed hash, never the identity itself
    assert "sup_sam" not in frame["data"]["by"]
    _, initial = SSEClient(pair[0].url, CALL_SID, query=f"?ticket={get_ticket(pair[0], supervisor)}").events(2)[1]
    assert [n["text"] for n in initial["coaching"].values()] == [NOTE]  # in the call's log for other supervisors
    for relay in pair:
        assert NOTE not in relay.output() and "Slow down" not in relay.output()
    assert metric(scrape(pair[0].url), "cintel_coaching_notes_total") == 1


def test_an_agent_cannot_send_a_note(pair, call):
    agent, _ = call
    refused = coach(pair[0], get_ticket(pair[0], agent), {"text": NOTE})
    assert (refused.status_code, refused.json()["code"]) == (403, "ticket_wrong_session")
    board = requests.post(
        f"{pair[0].url}/api/stream-ticket",
        json={"sessionId": "board"},
        headers={"Authorization": f"Bearer {agent}"},
        timeout=10,
    )
    assert board.status_code == 403  # and an agent gets no board ticket to try with


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"text": ""}, 422, "text"),
        ({"text": "x" * 501}, 422, "text"),
        ({"note": NOTE}, 422, "text"),
    ],
)
def test_a_bad_note_gets_a_4xx_naming_the_problem(pair, call, body, status, field):
    _, supervisor = call
    answer = coach(pair[0], get_ticket(pair[0], supervisor, "board"), body)
    assert answer.status_code == status and field in answer.json()["fields"]


def test_notes_to_an_unknown_call_are_refused_and_a_call_gets_a_bounded_number_per_minute(pair, call):
    _, supervisor = call
    ticket = get_ticket(pair[0], supervisor, "board")
    unknown = requests.post(
        f"{pair[0].url}/api/calls/CA{'1' * 32}/coaching", params={"ticket": ticket}, json={"text": NOTE}, timeout=10
    )
    assert unknown.status_code == 404
    answers = [coach(pair[i % 2], ticket, {"text": f"note {i}"}).status_code for i in range(7)]
    assert answers == [201] * 6 + [429]  # across both replicas


def test_suggestion_uses_are_counted_per_operator_version(pair, call):
    agent, _ = call
    ticket = get_ticket(pair[1], agent)
    url = f"{pair[1].url}/api/calls/{CALL_SID}/suggestion-uses"
    body = {"operatorId": NBR, "version": 3, "via": "input"}
    assert requests.post(url, params={"ticket": ticket}, json=body, timeout=10).status_code == 204
    bad = requests.post(
        url, params={"ticket": ticket}, json={**body, "operatorId": "intelligence_operator_x"}, timeout=10
    )
    assert bad.status_code == 422 and "operatorId" in bad.json()["fields"]
    series = {"operator": NBR, "version": "3", "via": "input"}
    assert metric(scrape(pair[1].url), "cintel_suggestion_uses_total", **series) == 1
