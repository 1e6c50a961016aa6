"""``cintel-relay check``: every production problem on its own line with its fix, and a failing exit status."""

import io
from types import SimpleNamespace

from cintel_relay.config import load_config
from cintel_relay.setup import check
from cintel_relay.setup.plan import SCRIPT_ADHERENCE

from .support import (
    base_env,
    free_port,
    run_command,
)
from .support.deploy import compose_env, heroku_env
from .support.fakes.twilio_control import relay_env, run_setup


def report(env):
    out = io.StringIO()
    status = check.run(env, out)
    return status, out.getvalue()


def test_each_problem_is_named_with_its_fix(redis_server):
    env = base_env(
        f"redis://127.0.0.1:{free_port()}/0",
        CINTEL_VERIFY_SIGNATURES="false",
        CINTEL_REDIS_SSL_VERIFY="false",
        SERVER_URL="http://relay.example.com",
        CINTEL_HEARTBEAT_SECONDS="50",
    )
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
    for finding in (
        check.signatures(config),
        check.redis_reachable(config),
        check.redis_tls(config),
        check.public_url(config),
        check.heartbeat(config),
    ):
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
    done = run_command("check", env=env, timeout=30)
    assert done.returncode == 1
    assert "FAIL  CINTEL_VERIFY_SIGNATURES=false" in done.stdout and "fix:" in done.stdout


def test_without_credentials_check_says_so_first_in_one_line():
    status, text = report({"PATH": "/usr/bin"})
    assert status == 1
    assert text.splitlines() == [
        "FAIL  no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Console > Account Info), "
        "and optionally TWILIO_API_KEY and TWILIO_API_SECRET; `cintel-relay demo` runs without any"
    ]


def test_env_example_placeholders_are_not_a_configuration(redis_server):
    shipped = base_env(
        redis_server.url,
        SERVER_URL=check.PLACEHOLDERS["SERVER_URL"],
        TWILIO_ACCOUNT_SID=check.PLACEHOLDERS["TWILIO_ACCOUNT_SID"],
        CINTEL_TASKROUTER_WORKSPACE_SID=check.PLACEHOLDERS["CINTEL_TASKROUTER_WORKSPACE_SID"],
        CINTEL_TICKET_SECRET="e" * 64,
    )
    finding = check.placeholders(load_config(shipped))
    assert not finding.ok
    assert finding.what == (
        "not configured: SERVER_URL=https://relay.example.com, TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000, "
        "CINTEL_TASKROUTER_WORKSPACE_SID=WS00000000000000000000000000000000 (.env.example's placeholder)"
    )
    status, text = report(shipped)
    assert status == 1 and "FAIL  not configured: SERVER_URL=https://relay.example.com" in text
    own = {**shipped, "SERVER_URL": "https://cintel.acme.example.net", "TWILIO_ACCOUNT_SID": "AC" + "1f" * 16}
    own["CINTEL_TASKROUTER_WORKSPACE_SID"] = "WS" + "2e" * 16
    assert check.placeholders(load_config(own)).ok


def twilio_findings(env):
    return check.twilio_configuration(load_config(env))


def test_twilio_checks_are_skipped_with_a_clear_line_without_credentials():
    status, text = report(base_env(CINTEL_VERIFY_SIGNATURES="false"))
    assert "ok    Twilio configuration: not checked (no TWILIO_API_KEY/TWILIO_API_SECRET" in text


def test_a_deployment_configured_by_setup_has_no_drift(fake):
    assert run_setup(relay_env(fake), "--yes").returncode == 0
    found = twilio_findings(relay_env(fake))
    assert len(found) == 3 and all(f.ok for f in found), found
    assert "Script Adherence script has the relay's categories and weights" in found[1].what


def test_drift_is_reported_with_the_fix_and_setup_repairs_it(fake):
    assert run_setup(relay_env(fake), "--yes").returncode == 0
    intel = next(iter(fake.intelligence.values()))
    operator = intel["rules"][0]["operators"][0]
    operator["parameters"]["script"] = operator["parameters"]["script"].replace("Greeting", "Greetings")
    intel["rules"][1]["actions"][0]["url"] = "https://old-relay.example.com/webhook/cintel-action"
    next(iter(fake.orchestrator.values()))["statusCallbacks"] = [
        {"url": "https://old-relay.example.com/webhook/cor-event"}
    ]
    found = twilio_findings(relay_env(fake))
    problems = {f.what: f.fix for f in found if not f.ok}
    assert len(problems) == 3 and all("cintel-relay setup --yes" in fix for fix in problems.values())
    text = " | ".join(problems)
    assert "post to https://old-relay.example.com/webhook/cintel-action, not https://relay.example.com/" in text
    assert "category 'Greeting' is missing in Twilio" in text and "posts its events to https://old-relay" in text
    assert run_setup(relay_env(fake), "--yes").returncode == 0
    assert all(f.ok for f in twilio_findings(relay_env(fake)))


def test_no_configuration_at_all_is_a_problem_in_the_report(fake):
    status, text = report(relay_env(fake))
    lines = text.splitlines()
    for problem in (
        "no Conversation Intelligence configuration posting to https://relay.example.com/webhook",
        "no Conversation Orchestrator configuration posting to https://relay.example.com/webhook",
    ):
        at = next(i for i, line in enumerate(lines) if line.startswith("FAIL") and problem in line)
        assert "fix: cintel-relay setup --yes" in lines[at + 1]
    assert status == 1


def test_refused_credentials_are_a_finding_not_a_crash(fake):
    (finding,) = twilio_findings(relay_env(fake, TWILIO_API_SECRET="not-the-secret"))
    assert not finding.ok and "Twilio refused the credentials (HTTP 401)" in finding.what
    assert "not-the-secret" not in finding.what + finding.fix


def test_a_configuration_made_in_console_is_found_by_its_webhook_and_its_script_checked(fake):
    blog = "Category: Greetings\nScore weight:10%\n\nCategory: Verification\nScore weight:20%"
    action = {"type": "WEBHOOK", "method": "POST", "url": "https://relay.example.com/webhook/cintel-action"}
    intel = fake.add_intelligence(
        "Flex RTT",
        "made in Console",
        rules=[{"operators": [{"id": SCRIPT_ADHERENCE, "parameters": {"script": blog}}], "actions": [action]}],
    )
    fake.add_orchestrator(
        "Flex RTT",
        statusCallbacks=[{"url": "https://relay.example.com/webhook/cor-event"}],
        intelligenceConfigurationIds=[intel["id"]],
    )
    found = twilio_findings(relay_env(fake))
    assert [f.ok for f in found] == [True, False, True]
    assert "Twilio has category 'Greetings', the relay's script does not" in found[1].what
    assert "category 'Move Details' is missing in Twilio" in found[1].what
    plan = run_setup(relay_env(fake))
    assert "Note: the Conversation Intelligence configuration 'Flex RTT'" in plan.stdout
    assert "every result reaches the relay twice" in plan.stdout


def configured_by_setup(env, fake):
    """``env`` as deployed, with Twilio's APIs (the fake) configured by ``cintel-relay setup --yes``, as the
    README's deploy steps do before ``check``."""
    twilio = {
        k: v
        for k, v in relay_env(fake).items()
        if k.startswith(("TWILIO_", "CINTEL_INTELLIGENCE", "CINTEL_CONVERSATIONS", "CINTEL_MEMORY"))
    }
    env = {**env, **twilio, "TWILIO_AUTH_TOKEN": env["TWILIO_AUTH_TOKEN"]}
    applied = run_setup(env, "--yes")
    assert applied.returncode == 0, applied.stderr
    return env


def test_the_documented_heroku_deployment_passes(tls_redis, fake):
    status, text = report(configured_by_setup(heroku_env(tls_redis), fake))
    assert status == 0, text


def test_the_documented_compose_deployment_passes(redis_server, fake):
    status, text = report(configured_by_setup(compose_env(redis_server.url), fake))
    assert status == 0, text
