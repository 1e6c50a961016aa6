"""One table of settings (cintel_relay/settings.py): config reads exactly its variables with its defaults,
gunicorn's configuration reads through config, README's table is written from it, and every bad value
ends start-up with one message naming the variable."""

import os
import subprocess
import sys

import pytest

from cintel_relay.config import Config, load_config
from cintel_relay.errors import ConfigError
from cintel_relay.settings import BY_NAME, SETTINGS, default

from .support import ROOT, SERVE, base_env, free_port

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import settings_table

#: Settings that fill a Config field named otherwise than the variable (or several variables, one field).
FIELDS = {
    "TWILIO_FLEX_PHONE_NUMBER": None,
    "CINTEL_AGENT_ADDRESSES": "agent_addresses",
    "CINTEL_OPERATOR_IDS": None,
    "CINTEL_TICKET_SECRET": "ticket_secrets",
    "CINTEL_REPORT_URL": "report_urls",
    "CINTEL_ALERT_URL": "alert_urls",
    "CINTEL_STREAM_AUTH": None,
    "TWILIO_WEBHOOK_SHARED_KEYS": None,  # a key id -> secret mapping, empty when unset
}


class Recording(dict):
    """An environment that records every variable asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)


def field(name: str):
    if name in FIELDS:
        return FIELDS[name]
    return BY_NAME[name].field or name.lower().removeprefix("cintel_")


def test_config_reads_exactly_the_variables_of_the_table():
    env = Recording(TWILIO_AUTH_TOKEN="t")
    load_config(env)
    assert env.asked == {s.name for s in SETTINGS}


@pytest.mark.parametrize("setting", [s for s in SETTINGS if field(s.name)], ids=lambda s: s.name)
def test_each_default_is_the_tables(setting):
    assert getattr(Config, field(setting.name)) == setting.default
    if setting.name not in ("TWILIO_AUTH_TOKEN", "CINTEL_VERIFY_SIGNATURES"):
        assert getattr(load_config({"TWILIO_AUTH_TOKEN": "t"}), field(setting.name)) == setting.default


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.minimum is not None], ids=lambda s: s.name)
def test_a_number_below_the_tables_minimum_is_refused_naming_it(setting):
    """The table drives parsing: its minimum is the one enforced, and the message names the variable."""
    below = setting.minimum - (1 if setting.type in ("whole number", "port") else 0.01)
    with pytest.raises(ConfigError, match=f"{setting.name}=.* is below the minimum {setting.minimum}"):
        load_config({"TWILIO_AUTH_TOKEN": "t", "REDIS_URL": "redis://x", setting.name: str(below)})


def test_readme_lists_every_setting_as_the_table_does():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    assert settings_table.readme_table(readme) == settings_table.markdown_table(), (
        "README's settings table is stale: run python3 scripts/settings_table.py"
    )


def in_master(code: str, **env) -> str:
    """What ``code`` prints after importing cintel_relay.server.gunicorn_conf (as gunicorn's master does) under ``env``."""
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, cintel_relay.server.gunicorn_conf as c; {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=base_env(PROMETHEUS_MULTIPROC_DIR=os.devnull, **env),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def gunicorn_settings(**env) -> str:
    """What gunicorn reads from cintel_relay/server/gunicorn_conf.py under ``env``."""
    return in_master("print(c.bind, c.workers, c.worker_connections, c.loglevel)", **env)


def test_gunicorn_takes_its_settings_through_config():
    assert gunicorn_settings() == f"0.0.0.0:{default('PORT')} 1 {default('CINTEL_WORKER_CONNECTIONS')} info"
    assert (
        gunicorn_settings(
            PORT=9123,
            CINTEL_BIND_HOST="127.0.0.1",
            WEB_CONCURRENCY=3,
            REDIS_URL="redis://r:6379",
            CINTEL_WORKER_CONNECTIONS=100,
            CINTEL_LOG_LEVEL="debug",
        )
        == "127.0.0.1:9123 3 100 debug"
    )


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("PORT", "abc", "PORT='abc' is not a whole number"),
        ("PORT", "70000", "PORT=70000 is not a TCP port"),
        ("WEB_CONCURRENCY", "abc", "WEB_CONCURRENCY='abc' is not a whole number"),
        ("CINTEL_WORKER_CONNECTIONS", "many", "CINTEL_WORKER_CONNECTIONS='many' is not a whole number"),
        ("CINTEL_LOG_LEVEL", "LOUD", "CINTEL_LOG_LEVEL='LOUD' is not a level"),
    ],
)
def test_a_bad_value_ends_start_up_with_one_message_and_no_traceback(variable, value, message):
    env = base_env(**{"PORT": free_port(), "CINTEL_BIND_HOST": "127.0.0.1", variable: value})
    done = subprocess.run(SERVE, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cintel-relay: {message}"), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_gunicorn_run_directly_also_names_a_bad_port_without_a_traceback():
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:cintel_relay.server.gunicorn_conf", "cintel_relay.wsgi:app"]
    done = subprocess.run(argv, cwd=ROOT, env=base_env(PORT="abc"), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert done.stderr.startswith("cintel-relay: PORT='abc' is not a whole number") and "Traceback" not in done.stderr


def test_gunicorns_master_imports_no_network_library_before_the_worker_patches():
    code = "print(sorted({'gevent', 'redis', 'requests'} & {m.split('.')[0] for m in sys.modules}))"
    assert in_master(code) == "[]"
