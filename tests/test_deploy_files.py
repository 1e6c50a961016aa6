"""The deployment files say what the relay needs: compose topology, load balancer, image, Heroku manifest."""

import configparser
import json
import os
import re
import shlex

import pytest
import yaml
from packaging.requirements import Requirement

from cintel_relay.config import load_config

from .support import ROOT
from .support.lb import NGINX_CONF

#: The settings `cintel-relay setup` and `check` read beyond the relay's own.
SETUP_SETTINGS = {"CINTEL_MEMORY_STORE_ID", "TWILIO_API_KEY", "TWILIO_API_SECRET"}


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(read("docker-compose.yml"))


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?message}`` with VAR unset: the default, or empty."""
    return re.sub(r"\$\{\w+(?::?([-?])([^}]*))?\}", lambda m: m[2] if m[1] == "-" else "", value)


def env_of(service):
    env = service["environment"]
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_compose_runs_redis_two_replicas_and_a_load_balancer_each_with_a_health_check(compose):
    services = compose["services"]
    assert set(services) == {"redis", "relay", "lb"}
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert services["relay"]["deploy"]["replicas"] == 2
    assert services["relay"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["lb"]["depends_on"]["relay"] == {"condition": "service_healthy", "restart": True}
    assert "/readyz" in " ".join(services["relay"]["healthcheck"]["test"])  # ready means Redis answers
    assert "ports" not in services["relay"]  # only through the load balancer


def test_compose_relay_environment_is_a_valid_production_configuration(compose):
    env = env_of(compose["services"]["relay"])
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["CINTEL_PROXY_COUNT"] == "1" and "FORWARDED_ALLOW_IPS" not in env  # gunicorn trusts no header itself
    resolved = {k: interpolate(v) for k, v in env.items()}  # what compose gives when .env sets nothing
    resolved.update(TWILIO_AUTH_TOKEN="token", WEB_CONCURRENCY="2")
    config = load_config(resolved)
    assert (config.redis_url, config.proxy_count, config.web_concurrency) == ("redis://redis:6379/0", 1, 2)
    for secret in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "CINTEL_TICKET_SECRET",
        "CINTEL_TASKROUTER_WORKSPACE_SID",
    ):
        assert env[secret].startswith(f"${{{secret}:?"), f"{secret} must be required, with a message"
    # `docker compose exec relay cintel-relay setup` (README) takes these from .env
    assert all(env[name] == f"${{{name}:-}}" for name in SETUP_SETTINGS)
    assert all(f"\n{name}=" in read(".env.example") for name in SETUP_SETTINGS)


def test_the_load_balancer_mounts_the_tested_nginx_config_and_reaches_the_relay_service(compose):
    lb = compose["services"]["lb"]
    source, target = lb["volumes"][0].split(":")[:2]
    assert os.path.samefile(os.path.join(ROOT, source), NGINX_CONF) and target == "/etc/nginx/nginx.conf"
    conf = read("deploy/nginx.conf")
    relay_port = env_of(compose["services"]["relay"])["PORT"]
    assert re.search(rf"^\s*server relay:{relay_port}\b", conf, re.M), "the upstream is the relay service"
    listen = re.search(r"^\s*listen (\d+);", conf, re.M)[1]
    assert lb["ports"][0].rsplit(":", 1)[1] == listen
    assert "wget" in lb["healthcheck"]["test"] and any("/lb-health" in part for part in lb["healthcheck"]["test"])


def test_nginx_passes_streams_through_unbuffered_and_forwards_the_public_url():
    conf = read("deploy/nginx.conf")
    directives = dict(re.findall(r"^\s*(proxy_\w+|keepalive)\s+([^;]+);", conf, re.M))
    assert directives["proxy_buffering"] == "off"
    assert directives["proxy_http_version"] == "1.1"
    assert int(directives["proxy_read_timeout"].rstrip("s")) >= 3600
    headers = dict(m.split(None, 1) for m in re.findall(r"proxy_set_header\s+([^;]+);", conf))
    assert headers["Connection"] == '""'
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-Host"] == headers["Host"] == "$http_host"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert not re.search(r"^\s*(ip_hash|least_conn|hash)\b", conf, re.M), "round robin, so streams spread"
    assert "$request_uri" not in conf and "$args" not in conf, "the access log must not show query strings"


def test_the_image_runs_the_procfile_command_as_a_non_root_user_without_build_tools():
    dockerfile = read("Dockerfile")
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2 and all(s.startswith("python:3.11-slim") for s in stages)
    final = stages[-1]
    assert not re.search(r"apt-get|gcc|build-essential", final)
    assert re.search(r"^USER (?!root)\w+", final, re.M)
    assert "/healthz" in re.search(r"^HEALTHCHECK (?:.*\\\n)*.*", final, re.M)[0]
    cmd = json.loads(re.search(r"^CMD (.*)$", final, re.M)[1])
    web = read("Procfile").split("web:", 1)[1].strip()
    assert cmd == shlex.split(web)


def test_heroku_steps_read_the_apps_real_url_instead_of_guessing_it():
    """Heroku adds a random suffix to new apps' hostnames: https://<app>.herokuapp.com is not the URL."""
    readme, manifest = read("README.md"), read("app.json")
    for text in (readme, manifest, read("docs/deploy.md")):
        assert not re.search(r"[\w<>-]+\.herokuapp\.com", text.replace("SERVER_URL=https://x.herokuapp.com", ""))
    for text in (readme, read("docs/deploy.md")):
        assert "SERVER_URL=$(heroku apps:info -s -a my-relay | sed -n 's/^web_url=//p' | sed 's:/$::')" in text
    assert "heroku apps:info -s -a <app> | grep web_url" in json.loads(manifest)["env"]["SERVER_URL"]["description"]


def test_heroku_manifest_gives_redis_and_a_configuration_that_loads():
    app = json.loads(read("app.json"))
    assert any(addon["plan"].startswith("heroku-redis") for addon in app["addons"])
    env = app["env"]
    assert all(spec.get("description") for spec in env.values())
    assert env["CINTEL_TICKET_SECRET"]["generator"] == "secret"
    required = [
        name
        for name, spec in env.items()
        if spec.get("required", True) and "value" not in spec and "generator" not in spec
    ]
    assert {"TWILIO_AUTH_TOKEN", "SERVER_URL"} <= set(required)
    assert SETUP_SETTINGS <= set(env) - set(required)  # what `cintel-relay setup` reads, optional
    values = {name: spec["value"] for name, spec in env.items() if "value" in spec}
    values.update(
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
        SERVER_URL="https://x.herokuapp.com",
        REDIS_URL="rediss://:secret@ec2-1-2-3-4.compute-1.amazonaws.com:6380",
        PORT="31337",
        CINTEL_METRICS_TOKEN="f" * 64,
        CINTEL_TICKET_SECRET="e" * 64,
        CINTEL_TASKROUTER_WORKSPACE_SID="WS" + "0" * 32,
    )
    config = load_config(values)
    assert config.proxy_count == 1 and config.redis_ssl_verify is False and config.web_concurrency >= 1
    assert read(".python-version").strip() == "3.11"
    # The buildpack installs requirements.txt (the locked dependencies); the relay runs from the source tree.
    assert read("Procfile").split("web:", 1)[1].split()[:3] == ["python", "-m", "cintel_relay"]


def pins(path):
    """A lock file's exact versions by canonical name, checking that every pin carries a hash."""
    text = read(path)
    found = dict(re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+) \\\n\s+--hash=sha256:", text))
    assert len(found) == len(re.findall(r"(?m)^[A-Za-z0-9][^ #]*==", text)), f"{path}: a pin without a hash"
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found.items()}


def test_heroku_the_image_and_ci_install_the_locked_versions():
    """requirements.txt is the relay's lock; the test lock pins the same version of every package they share; each
    lock satisfies setup.cfg's ranges; and each way of installing the relay installs from a lock, checking hashes."""
    runtime, test = pins("requirements.txt"), pins("requirements/test.txt")
    assert runtime and {name: test.get(name) for name in runtime} == runtime
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["test"].splitlines()
    for requirement in (Requirement(line) for line in map(str.strip, lines) if line and not line.startswith("#")):
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert requirement.specifier.contains(test[name]), f"{name}=={test[name]} is outside setup.cfg's {requirement}"
    dockerfile = read("Dockerfile")
    assert dockerfile.count("--require-hashes -r requirements.txt") == 1
    assert "--require-hashes -r /tmp/requirements.txt" in dockerfile
    assert "--require-hashes -r requirements/test.txt" in read("scripts/test.sh")
    assert "scripts/test.sh" in read(".ci/run")


def test_the_installed_package_carries_its_script_scenarios_console_and_lua(tmp_path):
    """The image installs a wheel, not the source tree: what the relay reads at run time must be in it."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cintel_relay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "cintel_relay/bus/lua/route.lua",
        "cintel_relay/bus/lua/append.lua",
        "cintel_relay/bus/lua/board.lua",
        "cintel_relay/bus/lua/ingest.lua",
        "cintel_relay/data/script.json",
        "cintel_relay/simulator/scenarios/moving-complete.json",
        "cintel_relay/console/templates/board.html",
        "cintel_relay/console/static/console.js",
        "cintel_relay/console/static/favicon.svg",
    } <= names
