"""Test support: real redis-server processes, real gunicorn replicas, Twilio-signed requests, SSE reading."""

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import orjson
import requests
from twilio.request_validator import RequestValidator

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Example Twilio payloads (shapes from Twilio's published schemas), kept with the tests.
PAYLOADS = os.path.join(ROOT, "tests", "payloads")
CALL_SID = "CA5f0c2d7e9a8b4c3d2e1f0a9b8c7d6e5f"
#: Headless Chromium as installed by apt (never a Playwright-downloaded browser), with flags that work here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONVERSATION = "conv_conversation_01kg2v7x3m4n5p6q7r8s9t0v1w"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def payload(name: str):
    """One of the example payloads in tests/payloads, parsed."""
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as fh:
        return fh.read() if name.endswith(".form") else json.load(fh)


class RedisServer:
    """A real redis-server on a free loopback port, which a test may stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.proc = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), what=f"redis-server on port {self.port}")
        client.close()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def answers(server, path) -> bool:
    """True once ``server`` (with ``proc``, ``url`` and ``output()``) answers 2xx on ``path``; raises if it died."""
    if server.proc.poll() is not None:
        raise AssertionError(f"{server.url} exited with {server.proc.returncode}:\n{server.output()}")
    try:
        return requests.get(server.url + path, timeout=1).ok
    except requests.RequestException:
        return False


def _pings(client):
    try:
        return client.ping()
    except Exception:
        return False


def base_env(redis_url=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CINTEL_", "TWILIO_", "REDIS_", "SERVER_URL"))}
    env.update(TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FLEX_PHONE_NUMBER="+18005550199", CINTEL_HEARTBEAT_SECONDS="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Relay:
    """A real gunicorn process running the relay with the gevent worker."""

    def __init__(self, redis_url=None, workers=1, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.metrics_dir = tempfile.mkdtemp(prefix="cintel-metrics-")
        self.env = base_env(redis_url, PORT=self.port, WEB_CONCURRENCY=workers, CINTEL_BIND_HOST="127.0.0.1",
                            PROMETHEUS_MULTIPROC_DIR=self.metrics_dir, **env)
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:cintel_relay.gunicorn_conf", "cintel_relay.wsgi:app"],
            env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self._healthy, timeout=30, what=f"relay on port {self.port}")
        wait_for(lambda: len(self.worker_pids()) >= self.workers, timeout=30, what="every worker to load the app")
        return self

    def worker_pids(self) -> set:
        """Workers that have built the app (and so handle signals): each writes its metrics file then."""
        return {name.rsplit("_", 1)[1].split(".")[0] for name in os.listdir(self.metrics_dir) if name.endswith(".db")}

    def _healthy(self):
        return answers(self, "/healthz")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout)


# --- Twilio signatures, computed with Twilio's own algorithm --------------------------------------

def sign(url: str, params=None, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params or {})


def json_request(base: str, path: str, body, token: str = AUTH_TOKEN, public_base: str = None):
    """(url, headers, raw body) for a JSON webhook signed as Twilio signs it: bodySHA256 in the URL."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    query = urllib.parse.urlencode({"bodySHA256": hashlib.sha256(raw).hexdigest()})
    signed_url = f"{public_base or base}{path}?{query}"
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(signed_url, token=token)}
    return f"{base}{path}?{query}", headers, raw


def form_request(base: str, path: str, form: dict, token: str = AUTH_TOKEN):
    url = base + path
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, form, token)}
    return url, headers, urllib.parse.urlencode(form).encode()


def post_json(base, path, body, **kw):
    url, headers, raw = json_request(base, path, body, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)


def post_form(base, path, form, **kw):
    url, headers, raw = form_request(base, path, form, **kw)
    return requests.post(url, data=raw, headers=headers, timeout=10)


# --- payload builders ------------------------------------------------------------------------------

def communication(comm_id, text, speaker="agent", call_sid=CALL_SID, conversation=CONVERSATION, channel="VOICE"):
    address = "+18005550199" if speaker == "agent" else "+15125550123"
    return {
        "eventType": "COMMUNICATION_CREATED",
        "timestamp": "2026-11-24T15:02:09.880Z",
        "data": {
            "id": comm_id, "conversationId": conversation,
            "author": {"address": address, "channel": channel, "participantId": f"p-{speaker}"},
            "content": {"type": "TRANSCRIPTION", "text": text},
            "channelId": call_sid, "createdAt": "2026-11-24T15:02:09.870Z", "occurredAt": "2026-11-24T15:02:07.310Z",
        },
    }


def rule_execution(results, conversation=CONVERSATION):
    return {"accountId": "AC" + "0" * 32, "conversationId": conversation,
            "intelligenceConfiguration": {"id": "cfg", "version": 1, "ruleId": "rule"}, "operatorResults": results}


SCRIPT_OPERATOR = "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg"
SENTIMENT_OPERATOR = "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151"
SUMMARY_OPERATOR = "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn"


def operator_result(result_id, operator_id, result, output_format="JSON"):
    return {"id": result_id, "operator": {"id": operator_id, "version": 1, "parameters": None},
            "outputFormat": output_format, "result": result, "dateCreated": "2026-11-24T15:02:11.418Z",
            "referenceIds": [], "executionDetails": {"trigger": {"on": "COMMUNICATION"}, "channels": ["VOICE"]}}


def adherence_result(result_id, **verdicts):
    """A Script Adherence result; keyword names are category keys, values Succeeded/Failed/NotEvaluated."""
    categories = [{"category_key": key.replace("_", " ").title(), "criteria": [{"criteria_key": "Action",
                                                                                 "criteria_met": v}]}
                  for key, v in verdicts.items()]
    return operator_result(result_id, SCRIPT_OPERATOR, {"categories": categories, "explanation": "because"})


# --- SSE -------------------------------------------------------------------------------------------

class SSEClient:
    """Reads a stream as raw bytes and splits it into frames, as a browser would."""

    def __init__(self, base: str, session: str, last_event_id=None, query="", path=None):
        parsed = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", (path or f"/api/stream/{session}") + query, headers=headers)
        self.response = self.conn.getresponse()
        self.raw = b""
        self._buffer = b""

    def read_block(self, timeout=10.0) -> bytes:
        """The next complete block (frame or comment), without its blank-line terminator."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no SSE block within {timeout}s; have {self._buffer!r}")
            self.conn.sock.settimeout(left)
            try:
                chunk = self.response.read1(65536)
            except (http.client.IncompleteRead, ConnectionError):
                chunk = b""
            if not chunk:
                raise EOFError(f"stream closed; unread {self._buffer!r}")
            self.raw += chunk
            self._buffer += chunk
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        return block

    def next_event(self, timeout=10.0):
        """The next frame with data, as (id or None, parsed data); comments and retry lines skipped."""
        while True:
            fields = parse_block(self.read_block(timeout))
            if "data" in fields:
                return fields.get("id"), orjson.loads(fields["data"])

    def events(self, count, timeout=10.0):
        return [self.next_event(timeout) for _ in range(count)]

    def close(self):
        self.conn.close()


def parse_block(block: bytes) -> dict:
    fields = {}
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if name:
            fields[name.decode()] = value[1:].decode() if value.startswith(b" ") else value.decode()
        else:
            fields.setdefault("comments", []).append(value.strip().decode())
    return fields


# --- Flex stream auth ------------------------------------------------------------------------------

TICKET_SECRET = "ticket-secret-for-tests-0123456789abcdef"


def flex_env(twilio_url: str, **extra) -> dict:
    """The settings of a relay in ``flex`` stream-auth mode that asks the fake Twilio at ``twilio_url``."""
    from .fake_twilio import ACCOUNT_SID, WORKSPACE_SID

    return {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "CINTEL_TICKET_SECRET": TICKET_SECRET,
            "CINTEL_TASKROUTER_WORKSPACE_SID": WORKSPACE_SID, "CINTEL_IAM_URL": twilio_url,
            "CINTEL_TASKROUTER_URL": twilio_url, "CINTEL_AUTH_TIMEOUT": "0.5", "SERVER_URL": "http://localhost",
            "CINTEL_MAX_STREAMS_PER_IDENTITY": "2", "CINTEL_TICKETS_PER_MINUTE": "5", **extra}


# --- metrics ---------------------------------------------------------------------------------------

METRICS_TOKEN = "test-metrics-token-0123456789"


def scrape(base: str, token: str = METRICS_TOKEN) -> dict:
    """``GET /metrics`` parsed: {(sample name, frozenset of label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 200, response.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def metric(samples: dict, name: str, **labels) -> float:
    """One sample's value from :func:`scrape`, 0 when absent (a labelled counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
