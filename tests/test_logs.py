"""Logs: one JSON object per line, request ids and session ids on them, and no secrets or call content."""

import datetime
import io
import json
import logging
import re
import types
import urllib.parse

import pytest
import requests
from gunicorn.config import Config

from cintel_relay.logs import ENVIRON_KEY, GunicornLogger, setup_logging

from .support import (
    AUTH_TOKEN,
    CALL_SID,
    CONVERSATION,
    METRICS_TOKEN,
    SUMMARY_OPERATOR,
    SSEClient,
    communication,
    form_request,
    json_request,
    operator_result,
    payload,
    rule_execution,
    scrape,
)

TRANSCRIPT = "my card number is 4111 purple elephant"
SUMMARY = "Customer asked to close the account at the elephant branch"
FORGED_SIGNATURE = "Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItbG9ncw=="


def send(relay, path, body, request_id, signature=None):
    """Post a signed webhook; returns the response and the signature it carried."""
    if isinstance(body, dict) and "CallSid" in body:
        url, headers, raw = form_request(relay.url, path, body)
    else:
        url, headers, raw = json_request(relay.url, path, body)
    headers = {**headers, "X-Request-Id": request_id}
    if signature:
        headers["X-Twilio-Signature"] = signature
    return requests.post(url, data=raw, headers=headers, timeout=10), headers["X-Twilio-Signature"]


@pytest.fixture(scope="module")
def call_log(start_module_relay):
    """A whole call through a real gunicorn relay at DEBUG level, and everything it wrote."""
    relay = start_module_relay(CINTEL_LOG_LEVEL="DEBUG", CINTEL_METRICS_TOKEN=METRICS_TOKEN)
    responses, signatures = {}, []
    try:
        stream = SSEClient(relay.url, CALL_SID)
        stream.events(2)
        steps = [
            ("comm", "/webhook/cor-event", communication("comm-secret", TRANSCRIPT), None),
            (
                "summary",
                "/webhook/cintel-action",
                rule_execution([operator_result("res-1", SUMMARY_OPERATOR, {"text": SUMMARY})]),
                None,
            ),
            ("status", "/webhook/status", dict(urllib.parse.parse_qsl(payload("status-callback.form"))), None),
            ("forged", "/webhook/cor-event", communication("comm-forged", TRANSCRIPT), FORGED_SIGNATURE),
        ]
        for name, path, body, forged in steps:
            responses[name], signature = send(relay, path, body, f"req-{name}", forged)
            signatures.append(signature)
        assert [stream.next_event()[1]["type"] for _ in range(3)] == ["transcript", "operator-result", "summary"]
        stream.close()
        scrape(relay.url)
        responses["unnamed"] = requests.get(relay.url + "/healthz", timeout=5)
        responses["mangled"] = requests.get(relay.url + "/healthz", headers={"X-Request-Id": 'a"b' + "x" * 200})
    finally:
        relay.stop()
    return relay.output(), responses, signatures


def records(output):
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_every_line_is_one_json_object(call_log):
    output, _, _ = call_log
    entries = records(output)
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["level"] == "DEBUG" for e in entries)  # CINTEL_LOG_LEVEL reached gunicorn and the app


def test_no_transcript_summary_token_or_signature_appears_anywhere(call_log):
    output, responses, signatures = call_log
    assert [responses[n].status_code for n in ("comm", "summary", "status", "forged")] == [200, 200, 200, 403]
    for secret in [
        TRANSCRIPT,
        "purple elephant",
        SUMMARY,
        "elephant branch",
        AUTH_TOKEN,
        METRICS_TOKEN,
        FORGED_SIGNATURE,
        *signatures,
    ]:
        assert secret not in output, f"{secret!r} was logged"
    assert "bodySHA256" not in output  # no query strings


def test_access_lines_carry_request_session_and_conversation_ids_with_timings(call_log):
    output, responses, _ = call_log
    access = {e.get("request_id"): e for e in records(output) if e["logger"] == "gunicorn.access"}
    comm = access["req-comm"]
    assert (comm["path"], comm["status"], comm["session"], comm["conversation"]) == (
        "/webhook/cor-event",
        200,
        CALL_SID,
        CONVERSATION,
    )
    assert comm["duration_ms"] >= comm["app_ms"] > 0
    assert access["req-summary"]["conversation"] == CONVERSATION
    assert access["req-status"]["session"] == CALL_SID
    stream = next(e for e in access.values() if e["path"] == f"/api/stream/{CALL_SID}")
    assert stream["session"] == CALL_SID
    # An idle stream keeps only what this line reads of its request: the line is whole when the stream ends.
    assert (stream["method"], stream["status"], stream["remote"]) == ("GET", 200, "127.0.0.1")
    assert stream["bytes"] > 0 and stream["duration_ms"] >= stream["app_ms"] > 0 and stream["request_id"]
    assert responses["comm"].headers["X-Request-Id"] == "req-comm"


def test_records_logged_during_a_request_carry_its_id(call_log):
    output, _, _ = call_log
    mismatch = [e for e in records(output) if e["message"] == "webhook signature mismatch"]
    assert len(mismatch) == 1 and mismatch[0]["request_id"] == "req-forged"


def test_a_request_id_is_made_when_none_or_a_mangled_one_is_sent(call_log):
    _, responses, _ = call_log
    for name in ("unnamed", "mangled"):
        assert re.fullmatch(r"[0-9a-f]{32}", responses[name].headers["X-Request-Id"])


def test_the_level_comes_from_configuration():
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    try:
        setup_logging("WARNING")
        assert root.level == logging.WARNING
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        logging.captureWarnings(False)


def test_an_access_line_written_without_a_log_record_is_the_line_logging_writes():
    """The access log writes its line straight to gunicorn's stream; with anything else in the way (here a filter)
    it goes through logging: the two lines are the same but for their time."""
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = GunicornLogger(cfg)
    (handler,) = logger.access_log.handlers
    resp = types.SimpleNamespace(status_code=200, sent=42)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/webhook/cor-event", "REMOTE_ADDR": "10.0.0.1"}
    environ[ENVIRON_KEY] = {"request_id": "r1", "session": CALL_SID, "app_ms": 0.5}

    def line():
        handler.setStream(io.StringIO())
        logger.access(resp, None, environ, datetime.timedelta(milliseconds=1.5))
        (written,) = handler.stream.getvalue().splitlines()
        return json.loads(written)

    direct = line()
    logger.access_log.addFilter(lambda record: True)
    through_logging = line()
    assert direct.pop("time") and through_logging.pop("time")
    assert direct == through_logging
    assert list(direct) == list(through_logging)
    assert direct["message"] == "POST /webhook/cor-event 200" and direct["session"] == CALL_SID
