"""CORS for the browser API, security headers on every response, and the stream-auth configuration."""

import io

import pytest

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError
from cintel_relay.setup import check

from .support import CALL_SID, TICKET_SECRET
from .support.fakes.twilio import ACCOUNT_SID, WORKSPACE_SID

FLEX = "https://flex.twilio.com"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


def preflight(client, path, origin, method="POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def cors(response):
    return {name: response.headers[name] for name in CORS_HEADERS if name in response.headers}


@pytest.mark.parametrize(
    "path, method", [("/api/stream-ticket", "POST"), (f"/api/stream/{CALL_SID}", "GET"), ("/api/script", "GET")]
)
@pytest.mark.parametrize("origin", [FLEX, "http://localhost:3000"])
def test_preflight_from_an_allowed_origin(make_app, path, method, origin):
    client = make_app(CINTEL_CORS_ORIGINS=f"{FLEX},http://localhost:3000").test_client()
    response = preflight(client, path, origin, method)
    assert response.status_code == 204
    assert cors(response) == {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
        "Access-Control-Expose-Headers": "Retry-After",
        "Access-Control-Max-Age": "600",
    }
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "https://flex.twilio.com.evil.example", "http://flex.twilio.com"]
)
def test_unknown_origins_get_no_cors_headers(client, origin):
    refused = preflight(client, "/api/stream-ticket", origin)
    assert refused.status_code == 403 and refused.json["code"] == "origin_not_allowed"
    assert cors(refused) == {}
    simple = client.get("/api/script", headers={"Origin": origin})
    assert simple.status_code == 200 and cors(simple) == {}
    ticket = client.post("/api/stream-ticket", json={"sessionId": CALL_SID}, headers={"Origin": origin})
    assert cors(ticket) == {}


def test_allowed_origin_on_real_requests_and_never_a_wildcard(make_app):
    client = make_app(CINTEL_CORS_ORIGINS="https://flex.example.com").test_client()
    response = client.post(
        "/api/stream-ticket", json={"sessionId": CALL_SID}, headers={"Origin": "https://flex.example.com"}
    )
    assert cors(response) == {
        "Access-Control-Allow-Origin": "https://flex.example.com",
        "Access-Control-Expose-Headers": "Retry-After",
    }
    assert cors(client.get("/api/script", headers={"Origin": FLEX})) == {}


def test_webhooks_and_health_checks_have_no_cors(client):
    for path in ("/webhook/cintel-action", "/healthz"):
        assert cors(preflight(client, path, FLEX)) == {}
        assert cors(client.get(path, headers={"Origin": FLEX})) == {}


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        ("get", "/healthz", {}),
        ("get", "/readyz", {}),
        ("get", "/api/script", {}),
        ("get", "/nowhere", {}),
        ("get", "/api/stream/bad%20id", {}),
        ("post", "/webhook/cintel-action", {"json": {}}),
        ("post", "/api/stream-ticket", {"json": {"sessionId": CALL_SID}}),
        (
            "options",
            "/api/stream-ticket",
            {"headers": {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}},
        ),
    ],
)
def test_security_headers_on_every_response(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_view_may_choose_its_own_framing_policy(app):
    @app.get("/framed")
    def framed():
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    response = app.test_client().get("/framed")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_security_headers_on_unexpected_errors(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500 and response.headers["X-Frame-Options"] == "DENY"


# --- configuration ---------------------------------------------------------------------------------

FLEX_ENV = {
    "TWILIO_AUTH_TOKEN": "t",
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "CINTEL_TICKET_SECRET": TICKET_SECRET,
    "CINTEL_TASKROUTER_WORKSPACE_SID": WORKSPACE_SID,
    "SERVER_URL": "https://relay.example.com",
}


def test_flex_is_the_default_once_twilio_credentials_are_set():
    assert load_config({"TWILIO_AUTH_TOKEN": "t"}).stream_auth == "none"
    config = load_config(FLEX_ENV)
    assert config.stream_auth == "flex" and config.ticket_ttl == 600
    assert config.cors_origins == ("https://flex.twilio.com",)  # production-safe: the demo adds localhost itself
    assert TICKET_SECRET not in repr(config)
    assert load_config({**FLEX_ENV, "CINTEL_STREAM_AUTH": "none"}).stream_auth == "none"


@pytest.mark.parametrize(
    "drop, variable",
    [
        ("CINTEL_TICKET_SECRET", "CINTEL_TICKET_SECRET"),
        ("CINTEL_TASKROUTER_WORKSPACE_SID", "CINTEL_TASKROUTER_WORKSPACE_SID"),
    ],
)
def test_flex_without_what_it_needs_names_the_variable_and_the_fix(drop, variable):
    env = {k: v for k, v in FLEX_ENV.items() if k != drop}
    with pytest.raises(ConfigError, match=f"{variable}.*(openssl rand|Console)"):
        load_config(env)


def test_flex_asked_for_without_an_account_sid():
    env = {k: v for k, v in FLEX_ENV.items() if k != "TWILIO_ACCOUNT_SID"}
    with pytest.raises(ConfigError, match=r"TWILIO_ACCOUNT_SID.*CINTEL_STREAM_AUTH=none"):
        load_config({**env, "CINTEL_STREAM_AUTH": "flex"})


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"CINTEL_STREAM_AUTH": "jwt"}, "CINTEL_STREAM_AUTH"),
        ({"CINTEL_TICKET_SECRET": "short"}, "CINTEL_TICKET_SECRET"),
        ({"CINTEL_TASKROUTER_WORKSPACE_SID": "WS123"}, "CINTEL_TASKROUTER_WORKSPACE_SID"),
        ({"CINTEL_CORS_ORIGINS": "*"}, "CINTEL_CORS_ORIGINS"),
        ({"CINTEL_CORS_ORIGINS": "https://flex.twilio.com/path"}, "CINTEL_CORS_ORIGINS"),
        ({"CINTEL_IAM_URL": "iam.twilio.com"}, "CINTEL_IAM_URL"),
        ({"CINTEL_TASKROUTER_URL": "https://taskrouter.twilio.com/v1"}, "CINTEL_TASKROUTER_URL"),
        ({"CINTEL_TOKEN_CACHE_SECONDS": "3600"}, "CINTEL_TOKEN_CACHE_SECONDS"),
        ({"CINTEL_TICKET_TTL": "10"}, "CINTEL_TICKET_TTL"),
        ({"CINTEL_MAX_STREAMS_PER_IDENTITY": "0"}, "CINTEL_MAX_STREAMS_PER_IDENTITY"),
        ({"CINTEL_TICKETS_PER_MINUTE": "many"}, "CINTEL_TICKETS_PER_MINUTE"),
        ({"CINTEL_AUTH_TIMEOUT": "0"}, "CINTEL_AUTH_TIMEOUT"),
        ({"CINTEL_BODY_TIMEOUT": "31"}, "CINTEL_BODY_TIMEOUT"),
        ({"CINTEL_BODY_TIMEOUT": "0"}, "CINTEL_BODY_TIMEOUT"),
        ({"CINTEL_WORKER_CONNECTIONS": "1"}, "CINTEL_WORKER_CONNECTIONS"),
        ({"CINTEL_BAD_TOKENS_PER_MINUTE": "0"}, "CINTEL_BAD_TOKENS_PER_MINUTE"),
    ],
)
def test_bad_auth_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_config({**FLEX_ENV, **env})


def test_secrets_rotate_first_signs_all_verify():
    config = load_config({**FLEX_ENV, "CINTEL_TICKET_SECRET": f"{'n' * 32}, {TICKET_SECRET}"})
    assert config.ticket_secrets == ("n" * 32, TICKET_SECRET)


def test_flex_without_server_url_does_not_start_and_check_says_why():
    env = {k: v for k, v in FLEX_ENV.items() if k != "SERVER_URL"}
    with pytest.raises(ConfigError, match=r"SERVER_URL.*SERVER_URL=https://"):
        load_config(env)
    assert load_config({**env, "CINTEL_STREAM_AUTH": "none"}).server_url is None  # a local demo may go without
    out = io.StringIO()
    assert check.run(env, out) == 1
    assert "SERVER_URL" in out.getvalue() and "SERVER_URL=https://" in out.getvalue()


def test_bodies_read_at_once_stay_below_the_connection_pool():
    assert load_config({**FLEX_ENV, "CINTEL_WORKER_CONNECTIONS": "30"}).body_readers == 15
    assert load_config(FLEX_ENV).body_timeout == 10


@pytest.mark.parametrize("path", ["/console", f"/console/calls/{CALL_SID}"])
def test_console_pages_send_a_strict_content_security_policy(client, path):
    policy = client.get(path).headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["connect-src"] == "'self'"
    assert "unsafe" not in policy and "*" not in policy
