"""Invalid Flex tokens do not each cost a Twilio IAM call: refusals are remembered, a client address that keeps
sending bad tokens is refused before Twilio is asked, and IAM's own rate limit is reported as what it is."""

from .fake_twilio import sid
from .support import CALL_SID
from .test_access import ask, refused


def validations(fake_twilio) -> int:
    return len(fake_twilio.calls("/Tokens/validate"))


def test_thirty_bad_tokens_from_one_address_do_not_all_reach_twilio(flex_app, fake_twilio):
    client = flex_app().test_client()
    answers = [ask(client, f"eyJ.bad-token-{n}").json["code"] for n in range(30)]
    # Ten a minute (CINTEL_BAD_TOKENS_PER_MINUTE); twenty if the requests straddle a minute boundary.
    assert 10 <= validations(fake_twilio) <= 20
    assert answers[:10] == ["token_invalid"] * 10 and answers[-1] == "too_many_bad_tokens"
    limited = refused(ask(client, "eyJ.bad-token-31"), 429, "too_many_bad_tokens")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_the_limit_is_per_address_and_spares_known_good_tokens(flex_app, fake_twilio):
    client = flex_app(CINTEL_BAD_TOKENS_PER_MINUTE="2").test_client()
    supervisor = fake_twilio.add_user("sup_sam", roles=["supervisor"])
    assert ask(client, supervisor).status_code == 200
    for n in range(2):
        refused(ask(client, f"eyJ.bad-{n}"), 401, "token_invalid")
    refused(ask(client, "eyJ.bad-2"), 429, "too_many_bad_tokens")
    assert ask(client, supervisor).status_code == 200  # validated already: Twilio need not be asked
    other = ask(client, "eyJ.bad-3", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    refused(other, 401, "token_invalid")
    assert validations(fake_twilio) == 4


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
