"""Invalid Flex tokens do not each cost a Twilio IAM call: refusals are remembered, a client address that keeps
sending bad tokens is refused before Twilio is asked, and IAM's own rate limit is reported as what it is."""

import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .support import CALL_SID
from .support.fakes.twilio import sid
from .support.flex_relays import start_flex_relay
from .test_access import ask, refused


def validations(fake_twilio) -> int:
    return len(fake_twilio.calls("/Tokens/validate"))


def test_thirty_bad_tokens_from_one_address_do_not_all_reach_twilio(flex_app, fake_twilio):
    client = flex_app().test_client()
    answers = [ask(client, f"eyJ.bad-token-{n}").json["code"] for n in range(30)]
    # Ten a minute (CINTEL_BAD_TOKENS_PER_MINUTE), then one a second (the lane); more across a minute boundary.
    assert answers[:10] == ["token_invalid"] * 10 and "too_many_bad_tokens" in answers
    assert validations(fake_twilio) == answers.count("token_invalid") < 30
    limited = next(a for a in (ask(client, "eyJ.bad-token-31") for _ in range(5)) if a.status_code == 429)
    assert refused(limited, 429, "too_many_bad_tokens").headers["Retry-After"] == "1"


def test_the_limit_is_per_address_and_spares_known_good_tokens(flex_app, fake_twilio):
    client = flex_app(CINTEL_BAD_TOKENS_PER_MINUTE="2").test_client()
    supervisor = fake_twilio.add_user("sup_sam", roles=["supervisor"])
    assert ask(client, supervisor).status_code == 200
    for n in range(3):  # the limit, then the lane's one token this second
        refused(ask(client, f"eyJ.bad-{n}"), 401, "token_invalid")
    refused(ask(client, "eyJ.bad-3"), 429, "too_many_bad_tokens")
    assert ask(client, supervisor).status_code == 200  # validated already: Twilio need not be asked
    other = ask(client, "eyJ.bad-4", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    refused(other, 401, "token_invalid")
    assert validations(fake_twilio) == 5


def test_a_refusal_is_remembered_so_a_retried_bad_token_costs_no_iam_call(flex_app, fake_twilio):
    client = flex_app().test_client()
    expired = fake_twilio.add_user("agent_old", expires_in=-5)
    for _ in range(5):
        refused(ask(client, "eyJ.not-a-token"), 401, "token_invalid")
        refused(ask(client, expired), 401, "token_expired")
    assert validations(fake_twilio) == 2


def test_iam_rate_limiting_the_relay_is_reported_as_a_rate_limit(flex_app, fake_twilio, redis_client):
    client = flex_app().test_client()
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    token = fake_twilio.add_user("agent_dana", worker_sid=worker)
    fake_twilio.throttled = True
    limited = refused(ask(client, token), 503, "token_validation_rate_limited")
    assert limited.headers["Retry-After"] == "7" and "rate limiting" in limited.json["error"]
    assert redis_client.keys("cintel:auth:token:*") == []  # not Twilio's verdict on the token: nothing remembered
    fake_twilio.throttled = False
    assert ask(client, token).status_code == 200


@pytest.fixture(scope="module")
def shared_address_relay(redis_server, twilio_server):
    """A real gunicorn relay in flex mode: every test client is 127.0.0.1, one address shared by all."""
    relay = start_flex_relay(redis_server.url, twilio_server.url, CINTEL_AUTH_TIMEOUT="10")
    yield relay
    relay.stop()


def ticket(relay, token):
    return requests.post(
        relay.url + "/api/stream-ticket",
        json={"sessionId": CALL_SID},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_concurrent_bad_tokens_are_counted_before_any_is_asked(shared_address_relay, fake_twilio, redis_client):
    """Check-then-count let 100 concurrent bogus tokens cost 99 IAM calls against a limit of 10 (B6)."""
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda n: ticket(shared_address_relay, f"eyJ.bogus-{n}").json()["code"], range(100)))
    seconds = math.ceil(time.monotonic() - started) + 1
    # The limit (10, or 20 across a minute boundary), plus the lane: one a second.
    assert validations(fake_twilio) == codes.count("token_invalid") <= 20 + seconds
    assert codes.count("too_many_bad_tokens") == 100 - codes.count("token_invalid")


def test_bad_tokens_from_a_shared_address_do_not_lock_out_a_valid_one(shared_address_relay, fake_twilio, redis_client):
    """Behind one NAT or proxy, someone's bogus tokens cost a colleague's sign-in a retry, not the minute (B3)."""
    for n in range(30):
        ticket(shared_address_relay, f"eyJ.bogus-{n}")
    supervisor = fake_twilio.add_user("sup_sam", roles=["supervisor"])
    answers = []
    for _ in range(5):
        answer = ticket(shared_address_relay, supervisor)
        answers.append(answer.status_code)
        if answer.status_code != 429:
            break
        time.sleep(int(answer.headers["Retry-After"]))
    assert answers[-1] == 200, answers
