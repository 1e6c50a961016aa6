"""``POST /api/stream-ticket`` against the fake Twilio IAM and TaskRouter: who gets a ticket, and who does not."""

import base64
import hashlib
import time

import orjson
import pytest

from cintel_relay.access import tickets
from cintel_relay.access.flex import identity_key

from .support import CALL_SID, TICKET_SECRET
from .support.fakes.twilio import ACCOUNT_SID, WORKSPACE_SID, sid

OTHER_CALL = "CA" + "9" * 32


def ask(client, token, session=CALL_SID, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/stream-ticket", json={"sessionId": session}, headers=headers, **kw)


def refused(response, status, code):
    assert (response.status_code, response.json["code"]) == (status, code), response.json
    assert response.json["error"] and "ticket" not in response.json
    return response


@pytest.fixture
def agent(fake_twilio):
    """An agent whose worker has accepted the task of CALL_SID; returns (token, worker SID)."""
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    return fake_twilio.add_user("agent_dana", worker_sid=worker), worker


def test_none_mode_answers_a_null_ticket(client):
    assert client.post("/api/stream-ticket", json={"sessionId": CALL_SID}).json == {"ticket": None, "auth": "none"}
    assert client.get("/readyz").json["streamAuth"] == "none"


def test_agent_gets_a_ticket_bound_to_the_call_and_to_them(flex_app, fake_twilio, agent):
    client = flex_app().test_client()
    response = ask(client, agent[0])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"ticket", "expiresAt", "auth"} and body["auth"] == "flex"
    claims = tickets.verify([TICKET_SECRET], body["ticket"], CALL_SID)
    assert claims.identity == identity_key(TICKET_SECRET, "agent_dana") and claims.expires - claims.issued == 600
    assert "agent_dana" not in base64.urlsafe_b64decode(body["ticket"].split(".")[1] + "==").decode()
    assert body["expiresAt"] == claims.expires_at
    assert client.get("/readyz").json["streamAuth"] == "flex"
    (validate,) = fake_twilio.calls("/Tokens/validate")
    assert validate["path"] == f"/v1/Accounts/{ACCOUNT_SID}/Tokens/validate" and validate["authorized"]
    assert validate["body"] == {"token": agent[0]}
    task_query, reservation_query = fake_twilio.calls("/Workspaces/")
    assert task_query["path"] == f"/v1/Workspaces/{WORKSPACE_SID}/Tasks"
    assert task_query["query"]["EvaluateTaskAttributes"] == f'call_sid == "{CALL_SID}"'
    assert reservation_query["query"] == {"WorkerSid": agent[1]}


def test_answers_are_cached_under_a_hash_of_the_token_never_the_token(flex_app, fake_twilio, redis_client, agent):
    client = flex_app().test_client()
    for _ in range(3):
        assert ask(client, agent[0]).status_code == 200
    assert len(fake_twilio.calls("/Tokens/validate")) == 1
    assert len(fake_twilio.calls("/Tasks")) == 2  # one task query and one reservation query, then cached
    token_hash = hashlib.sha256(agent[0].encode()).hexdigest()
    assert 0 < redis_client.ttl(f"cintel:auth:token:{token_hash}") <= 300
    everything = b"".join(k + (redis_client.dump(k) or b"") for k in redis_client.keys("*"))
    assert agent[0].encode() not in everything and agent[0].split(".")[-1].encode() not in everything


def test_token_cache_never_outlives_the_token(flex_app, fake_twilio, redis_client):
    token = fake_twilio.add_user("sup_sam", roles=["supervisor"], expires_in=20)
    assert ask(flex_app().test_client(), token).status_code == 200
    assert 0 < redis_client.ttl("cintel:auth:token:" + hashlib.sha256(token.encode()).hexdigest()) <= 20


def test_a_cached_answer_is_not_trusted_in_the_tokens_last_second(flex_app, fake_twilio, redis_client):
    """Too late for a ticket by the cache, Twilio is asked again: it may say the token still holds."""
    client = flex_app().test_client()
    token = fake_twilio.add_user("sup_sam", roles=["supervisor"], expires_in=3600)
    assert ask(client, token).status_code == 200
    key = "cintel:auth:token:" + hashlib.sha256(token.encode()).hexdigest()
    cached = orjson.loads(redis_client.get(key))
    redis_client.set(key, orjson.dumps({**cached, "expires": time.time() + 0.5}), keepttl=True)
    assert ask(client, token).status_code == 200
    assert len(fake_twilio.calls("/Tokens/validate")) == 2


def test_missing_invalid_and_expired_tokens_are_401(flex_app, fake_twilio, redis_client):
    client = flex_app().test_client()
    missing = refused(ask(client, None), 401, "token_missing")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    refused(
        client.post(
            "/api/stream-ticket",
            json={"sessionId": CALL_SID},
            headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
        ),
        401,
        "token_missing",
    )
    refused(ask(client, "not-a-flex-token"), 401, "token_invalid")
    expired = fake_twilio.add_user("agent_old", expires_in=-5)
    refused(ask(client, expired), 401, "token_expired")
    remembered = [orjson.loads(redis_client.get(key)) for key in redis_client.keys("cintel:auth:token:*")]
    assert sorted(remembered, key=str) == [{"refused": "token_expired"}, {"refused": "token_invalid"}]


def test_iam_down_slow_or_refusing_our_credentials_is_503_and_nothing_is_cached(
    flex_app, fake_twilio, agent, redis_client
):
    client = flex_app().test_client()
    fake_twilio.down = True
    down = refused(ask(client, agent[0]), 503, "token_validation_unavailable")
    assert down.headers["Retry-After"]
    fake_twilio.down, fake_twilio.delay = False, 2.0
    refused(ask(client, agent[0]), 503, "token_validation_timeout")
    fake_twilio.delay = 0
    wrong_credentials = flex_app(TWILIO_AUTH_TOKEN="not-the-auth-token").test_client()
    refused(ask(wrong_credentials, agent[0]), 503, "token_validation_refused")
    assert redis_client.dbsize() == 0
    assert ask(client, agent[0]).status_code == 200  # no failure was remembered as an answer


def test_iam_unreachable_is_503(flex_app, agent):
    client = flex_app(CINTEL_IAM_URL="http://127.0.0.1:1").test_client()
    refused(ask(client, agent[0]), 503, "token_validation_unavailable")


def test_agent_asking_for_someone_elses_call_is_403(flex_app, fake_twilio, agent):
    fake_twilio.add_task(OTHER_CALL, sid("WK"))
    client = flex_app().test_client()
    refused(ask(client, agent[0], session=OTHER_CALL), 403, "not_your_call")
    refused(ask(client, agent[0], session="conv_conversation_sms1"), 403, "not_your_call")
    no_worker = fake_twilio.add_user("agent_new", worker_sid=None)
    refused(ask(client, no_worker), 403, "not_your_call")


@pytest.mark.parametrize(
    "status, allowed",
    [
        ("pending", False),
        ("rejected", False),
        ("timeout", False),
        ("canceled", False),
        ("rescinded", False),
        ("accepted", True),
        ("wrapping", True),
        ("completed", True),
    ],
)
def test_only_a_reservation_the_agent_took_lets_them_watch(flex_app, fake_twilio, status, allowed):
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker, status=status)
    response = ask(flex_app().test_client(), fake_twilio.add_user("agent_kim", worker_sid=worker))
    assert response.status_code == (200 if allowed else 403)


def test_a_transferred_call_counts_for_the_agent_of_either_leg(flex_app, fake_twilio):
    first, second = sid("WK"), sid("WK")
    fake_twilio.add_task(CALL_SID, first, status="completed")
    fake_twilio.add_task(CALL_SID, second)
    client = flex_app().test_client()
    for worker in (first, second):
        assert ask(client, fake_twilio.add_user(f"agent_{worker}", worker_sid=worker)).status_code == 200


@pytest.mark.parametrize("roles", [["supervisor"], ["admin"], ["agent", "supervisor"]])
def test_supervisors_and_admins_watch_any_session_without_asking_taskrouter(flex_app, fake_twilio, roles):
    token = fake_twilio.add_user("sup_sam", roles=roles)
    client = flex_app().test_client()
    for session in (OTHER_CALL, "conv_conversation_sms1"):
        assert ask(client, token, session=session).status_code == 200
    assert fake_twilio.calls("/Workspaces/") == []


def _known_agent(client, token):
    """Ask once for a call that is not the agent's, so their identity is cached and IAM is out of the way."""
    refused(ask(client, token, session=OTHER_CALL), 403, "not_your_call")


def test_taskrouter_down_slow_or_misconfigured_fails_closed(flex_app, fake_twilio, agent):
    client = flex_app(CINTEL_TICKETS_PER_MINUTE=100).test_client()
    _known_agent(client, agent[0])
    fake_twilio.down = True
    refused(ask(client, agent[0]), 503, "taskrouter_unavailable")
    fake_twilio.down, fake_twilio.delay = False, 2.0
    refused(ask(client, agent[0]), 503, "taskrouter_timeout")
    fake_twilio.delay = 0
    unreachable = flex_app(CINTEL_TASKROUTER_URL="http://127.0.0.1:1").test_client()
    refused(ask(unreachable, agent[0]), 503, "taskrouter_unavailable")
    other_workspace = flex_app(CINTEL_TASKROUTER_WORKSPACE_SID="WS" + "0" * 32).test_client()
    refused(ask(other_workspace, agent[0]), 503, "taskrouter_refused")
    assert ask(client, agent[0]).status_code == 200  # no failure was remembered as a refusal


@pytest.mark.parametrize(
    "kwargs, status, code",
    [
        (
            {
                "data": b'{"sessionId": "%s", "pad": "%s"}' % (CALL_SID.encode(), b"x" * 5000),
                "content_type": "application/json",
            },
            413,
            "request_entity_too_large",
        ),
        ({"data": b"sessionId=CA", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": b"{nope", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": b"[" * 100 + b"]" * 100, "content_type": "application/json"}, 400, "too_deep"),
        ({"json": {"session": CALL_SID}}, 422, "invalid_payload"),
        ({"json": ["CA"]}, 422, "invalid_payload"),
        ({"json": {"sessionId": "CA1 OR 1=1"}}, 400, "bad_request"),
    ],
)
def test_malformed_ticket_requests_are_refused(flex_app, fake_twilio, agent, redis_client, kwargs, status, code):
    client = flex_app().test_client()
    response = client.post("/api/stream-ticket", headers={"Authorization": f"Bearer {agent[0]}"}, **kwargs)
    refused(response, status, code)
    assert fake_twilio.requests == [] and redis_client.dbsize() == 0


def test_ticket_minting_is_rate_limited_per_identity(flex_app, fake_twilio, redis_client, agent):
    client = flex_app().test_client()
    for _ in range(5):
        assert ask(client, agent[0]).status_code == 200
    limited = refused(ask(client, agent[0]), 429, "too_many_tickets")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert ask(client, fake_twilio.add_user("sup_sam", roles=["supervisor"])).status_code == 200
    other = flex_app().test_client()  # another replica shares the count through Redis
    refused(ask(other, agent[0]), 429, "too_many_tickets")
