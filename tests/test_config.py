import pytest

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError
from cintel_relay.operators import OperatorKind


def test_defaults_with_only_an_auth_token():
    config = load_config({"TWILIO_AUTH_TOKEN": "t"})
    assert config.embedded and config.verify_signatures
    assert config.heartbeat_seconds <= 20  # Heroku cuts a stream idle for 55 s
    assert config.operators["intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg"] is OperatorKind.SCRIPT


def test_missing_auth_token_stops_start_up_with_the_fix():
    with pytest.raises(ConfigError, match=r"TWILIO_AUTH_TOKEN.*CINTEL_VERIFY_SIGNATURES=false"):
        load_config({})


def test_signatures_off_only_when_asked_explicitly():
    assert not load_config({"CINTEL_VERIFY_SIGNATURES": "false"}).verify_signatures
    assert load_config({"TWILIO_AUTH_TOKEN": "t"}).verify_signatures


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"CINTEL_SESSION_TTL": "soon"}, "CINTEL_SESSION_TTL"),
        ({"CINTEL_SESSION_TTL": "5"}, "CINTEL_SESSION_TTL"),
        ({"CINTEL_VERIFY_SIGNATURES": "maybe"}, "CINTEL_VERIFY_SIGNATURES"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"SERVER_URL": "relay.example.com"}, "SERVER_URL"),
        ({"TWILIO_ACCOUNT_SID": "AB123"}, "TWILIO_ACCOUNT_SID"),
        ({"WEB_CONCURRENCY": "2"}, "WEB_CONCURRENCY"),
        ({"CINTEL_OPERATOR_IDS": "mood=intelligence_operator_x"}, "CINTEL_OPERATOR_IDS"),
        ({"CINTEL_SCRIPT_FILE": "/nonexistent/script.json"}, "CINTEL_SCRIPT_FILE"),
        ({"CINTEL_LOG_LEVEL": "LOUD"}, "CINTEL_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_config({"TWILIO_AUTH_TOKEN": "t", **env})


def test_several_workers_need_redis():
    config = load_config({"TWILIO_AUTH_TOKEN": "t", "WEB_CONCURRENCY": "3", "REDIS_URL": "redis://r:6379"})
    assert config.web_concurrency == 3 and not config.embedded


def test_extra_operator_ids_and_agent_addresses():
    config = load_config(
        {
            "TWILIO_AUTH_TOKEN": "t",
            "CINTEL_OPERATOR_IDS": "sentiment=intelligence_operator_custom1, summary=intelligence_operator_custom2",
            "TWILIO_FLEX_PHONE_NUMBER": "+18005550199",
            "CINTEL_AGENT_ADDRESSES": "client:dana, +18005550100",
            "SERVER_URL": "https://relay.example.com/",
        }
    )
    assert config.operators["intelligence_operator_custom1"] is OperatorKind.SENTIMENT
    assert config.operators["intelligence_operator_custom2"] is OperatorKind.SUMMARY
    assert config.agent_addresses == ("+18005550199", "client:dana", "+18005550100")
    assert config.server_url == "https://relay.example.com"


def test_auth_token_is_not_in_the_repr():
    assert "secret-token" not in repr(load_config({"TWILIO_AUTH_TOKEN": "secret-token"}))
