"""The settings each documented deployment gives the relay: README's Heroku commands with app.json, and
docker-compose.yml's relay service with .env.example, as a user fills them in."""

import json
import os
import re
import secrets
import shlex

import yaml

from cintel_relay.setup.check import PLACEHOLDERS

from . import ROOT

#: What a user types for the README's and .env.example's placeholders and empty secrets.
FILLED_IN = {
    "TWILIO_ACCOUNT_SID": "AC" + "5a" * 16,
    "TWILIO_AUTH_TOKEN": "auth-token-from-the-console",
    "CINTEL_TASKROUTER_WORKSPACE_SID": "WS" + "5b" * 16,
    "SERVER_URL": "https://cintel-relay.acme-movers.example.net",
}


def _read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


def _filled(name: str, value: str) -> str:
    if value.endswith("...") or not value or value == PLACEHOLDERS.get(name):
        return FILLED_IN.get(name, value)
    return value


def heroku_env(redis_url: str) -> dict:
    """app.json's fixed values, then README's ``heroku config:set`` line; Heroku adds REDIS_URL and PORT."""
    env = {name: spec["value"] for name, spec in json.loads(_read("app.json"))["env"].items() if "value" in spec}
    readme = _read("README.md")
    command = re.search(r"^heroku config:set (.*?)(?<!\\)$", readme, re.M | re.S)[1].replace("\\\n", " ")
    command = re.sub(r"\$\(openssl rand -hex (\d+)\)", lambda m: secrets.token_hex(int(m[1])), command)
    # Heroku's real URL (a random suffix since 2023), read as the README reads it.
    command = re.sub(r"\$\(heroku apps:info -s .*?\)(?=\s)", FILLED_IN["SERVER_URL"], command)
    for item in shlex.split(command):
        name, _, value = item.partition("=")
        env[name] = _filled(name, value)
    env.update(REDIS_URL=redis_url, PORT="31337")
    return env


def compose_env(redis_url: str) -> dict:
    """The relay service's environment, interpolated from .env.example as filled in; REDIS_URL on ``redis_url``."""
    dotenv = {}
    for line in _read(".env.example").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            dotenv[name] = _filled(name, value)
    dotenv["CINTEL_TICKET_SECRET"] = dotenv["CINTEL_TICKET_SECRET"] or secrets.token_hex(32)

    def interpolate(match):
        name, kind, fallback = match[1], match[2], match[3]
        return dotenv.get(name) or (fallback if kind == "-" else "")

    service = yaml.safe_load(_read("docker-compose.yml"))["services"]["relay"]
    env = {
        name: re.sub(r"\$\{(\w+)(?::?([-?])([^}]*))?\}", interpolate, str(value))
        for name, value in service["environment"].items()
    }
    assert env["REDIS_URL"].startswith("redis://redis:")  # compose's redis service; the test's stands in for it
    env["REDIS_URL"] = redis_url
    return env
