"""The compose topology without Docker: Redis, two gunicorn replicas and nginx running deploy/nginx.conf.

Webhooks signed for the load balancer's public URL go in through nginx; browsers' streams come out
through it, land on both replicas, and survive one replica stopping.
"""

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests

from cintel_relay.bus.keys import log_key

from .support import (
    METRICS_TOKEN,
    ROOT,
    RedisServer,
    SSEClient,
    base_env,
    communication,
    free_port,
    json_request,
    metric,
    post_json,
    scrape,
    wait_for,
)
from .support.lb import Nginx


@pytest.fixture(scope="module")
def topology(start_module_relay):
    """redis-server, two replicas (two workers each, trusting one proxy) and nginx in front, started once."""
    redis = RedisServer().start()
    env = dict(CINTEL_PROXY_COUNT=1, CINTEL_METRICS_TOKEN=METRICS_TOKEN)
    replicas = [start_module_relay(redis.url, workers=2, **env) for _ in range(2)]
    nginx = Nginx([r.port for r in replicas]).start()
    yield redis, replicas, nginx
    nginx.stop()
    start_module_relay.stop_all()
    redis.stop()


class Browser:
    """An EventSource through the load balancer: on a clean end it reconnects with Last-Event-ID."""

    def __init__(self, base, session):
        self.base, self.session = base, session
        self.client = SSEClient(base, session)
        self.last_id = None
        self.logged = []
        self.reconnects = 0
        assert self.client.events(2)[0][1]["type"] == "connected"  # then the (empty) snapshot

    def read(self, count):
        """Read until ``count`` logged events have arrived in all, reconnecting after a clean end."""
        while len(self.logged) < count:
            try:
                event_id, data = self.client.next_event()
            except EOFError:  # the stream ended (the stop test checks it ended cleanly)
                self.client.close()
                self.client = SSEClient(self.base, self.session, last_event_id=self.last_id)
                self.reconnects += 1
                continue
            if event_id:
                self.last_id = event_id
                self.logged.append((event_id, data))
        return self.logged

    def close(self):
        self.client.close()


def live_streams(replica):
    return metric(scrape(replica.url), "cintel_streams_live")


def open_on_both(nginx, replicas, session, count=4):
    """Open browsers through nginx until each replica serves some (round robin), and say how many each has."""
    browsers = [Browser(nginx.url, session) for _ in range(count)]
    per_replica = wait_for(
        lambda: (lambda n: n if sum(n) == count else None)([live_streams(r) for r in replicas]),
        what="every stream counted by a replica",
    )
    assert all(per_replica), f"round robin left a replica without streams: {per_replica}"
    return browsers, per_replica


def post_lines(nginx, session, numbers):
    def post(n):
        body = communication(f"comm-{session}-{n}", f"line {n}", call_sid=session, conversation=f"conv-{session}")
        return post_json(nginx.url, "/webhook/cor-event", body).status_code

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(post, numbers)) == {200}


def logged(redis, session):
    client = __import__("redis").Redis(port=redis.port)
    try:
        return [(i.decode(), orjson.loads(f[b"f"])) for i, f in client.xrange(log_key(session))]
    finally:
        client.close()


def test_webhooks_signed_for_the_public_url_reach_streams_on_both_replicas(topology):
    redis, replicas, nginx = topology
    session = "CA" + "1" * 32
    browsers, _ = open_on_both(nginx, replicas, session)
    post_lines(nginx, session, range(30))
    expected = logged(redis, session)
    assert len(expected) == 30
    for browser in browsers:
        assert browser.read(30) == expected
        assert browser.reconnects == 0
        browser.close()


def test_signature_is_checked_against_the_public_url_not_the_replicas(topology):
    _, replicas, nginx = topology
    body = communication("comm-internal", "never stored", call_sid="CA" + "2" * 32)
    url, headers, raw = json_request(nginx.url, "/webhook/cor-event", body, public_base=replicas[0].url)
    response = requests.post(url, data=raw, headers=headers, timeout=10)
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"
    # One request id from the load balancer to the relay and back, in nginx's JSON access log too.
    request_id = response.headers["X-Request-Id"]
    line = wait_for(
        lambda: next(
            (json.loads(line) for line in nginx.output().splitlines() if line.startswith("{") and request_id in line),
            None,
        ),
        what="nginx's access line",
    )
    assert (line["request_id"], line["status"], line["path"]) == (request_id, 403, "/webhook/cor-event")


def test_a_webhook_through_a_tls_router_is_checked_against_its_https_url(topology):
    """What Heroku's router sends: https in X-Forwarded-Proto and Port, the app's host in Host."""
    _, replicas, _ = topology
    public = "https://cintel-relay-demo.herokuapp.com"
    router = {
        "Host": "cintel-relay-demo.herokuapp.com",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-For": "54.172.60.1",
        "X-Request-Id": "8f1f7e0e-router",
    }
    body = communication("comm-router", "via the router", call_sid="CA" + "3" * 32)
    for signed_for, status in ((public, 200), (public.replace("https", "http"), 403)):
        url, headers, raw = json_request(replicas[0].url, "/webhook/cor-event", body, public_base=signed_for)
        response = requests.post(url, data=raw, headers={**headers, **router}, timeout=10)
        assert response.status_code == status, response.text
        assert response.headers["X-Request-Id"] == "8f1f7e0e-router"


def test_a_replica_stopping_ends_its_streams_at_once_and_browsers_resume_on_the_other(topology):
    redis, replicas, nginx = topology
    session = "CA" + "4" * 32
    stopping = replicas[0]
    browsers, per_replica = open_on_both(nginx, replicas, session)
    post_lines(nginx, session, range(10))
    for browser in browsers:
        browser.read(10)
    try:
        # SIGTERM, as Heroku and Docker send it: the replica must be gone well inside gunicorn's 20 s
        # graceful timeout (and Heroku's 30 s), because it ends its streams instead of waiting on them.
        stopping.stop(signal.SIGTERM, timeout=8)
        assert stopping.proc.returncode == 0, stopping.output()
        post_lines(nginx, session, range(10, 20))
        expected = logged(redis, session)
        assert len(expected) == 20
        for browser in browsers:
            assert browser.read(20) == expected
        assert sum(b.reconnects for b in browsers) == per_replica[0]
        # Each stream ended with its last chunk: nginx saw no replica drop a response half-way.
        assert "prematurely closed" not in nginx.output()
    finally:
        for browser in browsers:
            browser.close()
        stopping.start()


def test_the_image_health_check_command_passes_on_a_serving_replica_only(topology):
    _, replicas, _ = topology
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as fh:
        healthcheck = re.search(r"^HEALTHCHECK (?:.*\\\n)*.*", fh.read(), re.M)[0]
    program, *args = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert program == "python"
    argv = [sys.executable, *args]
    for port, status in ((replicas[1].port, 0), (free_port(), 1)):
        done = subprocess.run(argv, env=base_env(PORT=port), capture_output=True, timeout=30)
        assert done.returncode == status, done.stderr
