"""``cintel-relay check``: every production problem on its own line with its fix, and a failing exit status."""

import io
import subprocess
import sys
from types import SimpleNamespace

from cintel_relay import check
from cintel_relay.config import load_config

from .deploy_support import compose_env, heroku_env
from .support import ROOT, base_env, free_port


def report(env):
    out = io.StringIO()
    status = check.run(env, out)
    return status, out.getvalue()


def test_each_problem_is_named_with_its_fix(redis_server):
    env = base_env(f"redis://127.0.0.1:{free_port()}/0", CINTEL_VERIFY_SIGNATURES="false",
                   CINTEL_REDIS_SSL_VERIFY="false", SERVER_URL="http://relay.example.com", CINTEL_HEARTBEAT_SECONDS="50")
    status, text = report(env)
    assert status == 1
    lines = text.splitlines()
    for problem, fix in [
        ("CINTEL_VERIFY_SIGNATURES=false", "unset CINTEL_VERIFY_SIGNATURES"),
        ("Redis at REDIS_URL does not answer", "check REDIS_URL"),
        ("CINTEL_REDIS_SSL_VERIFY=false without a rediss://", "unset CINTEL_REDIS_SSL_VERIFY"),
        ("SERVER_URL=http://relay.example.com is not https", "SERVER_URL=https://"),
        ("CINTEL_HEARTBEAT_SECONDS=50", "unset CINTEL_HEARTBEAT_SECONDS"),
    ]:
        at = next(i for i, line in enumerate(lines) if line.startswith("FAIL") and problem in line)
        assert lines[at + 1].strip().startswith("fix:") and fix in lines[at + 1]
    assert "problem(s)" in lines[-1]


def test_a_configuration_that_does_not_load_is_reported_not_raised():
    status, text = report({"CINTEL_LOG_LEVEL": "LOUD", "TWILIO_AUTH_TOKEN": "x"})
    assert status == 1 and text.startswith("FAIL  the configuration does not load: CINTEL_LOG_LEVEL")


def test_production_settings_pass_their_checks(redis_server):
    config = load_config(base_env(redis_server.url, SERVER_URL="https://relay.example.com"))
    for finding in (check.signatures(config), check.redis_reachable(config), check.redis_tls(config),
                    check.public_url(config), check.heartbeat(config)):
        assert finding.ok, finding


def test_embedded_bus_and_missing_public_url_are_problems():
    config = load_config(base_env())
    assert not check.redis_reachable(config).ok and "REDIS_URL" in check.redis_reachable(config).fix
    assert not check.public_url(config).ok and "SERVER_URL" in check.public_url(config).fix


def test_stream_auth_must_be_flex_and_cors_https_only():
    assert check.stream_auth(SimpleNamespace(stream_auth="flex")).ok
    assert "CINTEL_STREAM_AUTH=flex" in check.stream_auth(SimpleNamespace(stream_auth="none")).fix
    assert check.cors(SimpleNamespace(cors_origins=("https://flex.twilio.com",))).ok
    dev = check.cors(SimpleNamespace(cors_origins=("https://flex.twilio.com", "http://localhost:3000")))
    assert not dev.ok and "http://localhost:3000" in dev.what
    assert not check.cors(SimpleNamespace(cors_origins=())).ok


def test_the_command_exits_non_zero_on_problems():
    env = base_env(CINTEL_VERIFY_SIGNATURES="false")
    done = subprocess.run([sys.executable, "-m", "cintel_relay.cli", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "FAIL  CINTEL_VERIFY_SIGNATURES=false" in done.stdout and "fix:" in done.stdout


def test_the_documented_heroku_deployment_passes(tls_redis):
    status, text = report(heroku_env(tls_redis))
    assert status == 0, text


def test_the_documented_compose_deployment_passes(redis_server):
    status, text = report(compose_env(redis_server.url))
    assert status == 0, text
