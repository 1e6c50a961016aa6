"""The lean routes (server/lean.py) answer exactly as the app's Flask views of the same routes: status, JSON
body and headers, for accepted and refused webhooks and for streams; what they do not take reaches Flask."""

import orjson
import pytest
from flask import Flask
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request

from cintel_relay.bus.keys import log_key
from cintel_relay.webhooks import WebhookRequest

from .support import CALL_SID, communication, json_request, payload
from .test_webhooks import BASE, dump

#: Headers whose values differ from one answer to the next, whoever gives it.
VARYING = {"x-request-id", "date"}


def flask_only(app):
    """The app without its lean dispatcher: Flask's own dispatch of every route."""
    return Client(lambda environ, start_response: Flask.wsgi_app(app, environ, start_response))


def answer(response):
    headers = sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() not in VARYING)
    return response.status_code, response.get_data(), headers


def post(client, path, body, **kw):
    url, headers, raw = json_request(BASE, path, body, **kw)
    return client.post(url[len(BASE) :], data=raw, headers={**headers, "X-Request-Id": "req-1"})


CASES = {
    "participant": ("/webhook/cor-event", payload("cor-participant-added.json"), {}),
    "alias": ("/webhook/maestro-event", payload("cor-participant-added.json"), {}),
    "ignored event": ("/webhook/cor-event", {"eventType": "PARTICIPANT_REMOVED", "timestamp": "x", "data": {}}, {}),
    "bad signature": ("/webhook/cor-event", payload("cor-participant-added.json"), {"token": "not-the-token"}),
    "schema": ("/webhook/cor-event", {"eventType": 5, "data": []}, {}),
    "not an object": ("/webhook/cintel-action", [1, 2], {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_webhook_is_answered_as_its_flask_view_answers_it(app, redis_client, case):
    path, body, kw = CASES[case]
    lean = answer(post(app.test_client(), path, body, **kw))
    stored = dump(redis_client)
    assert answer(post(flask_only(app), path, body, **kw)) == lean
    if lean[0] != 200:
        assert dump(redis_client) == stored  # a refusal harms nothing, either way


def test_a_transcript_line_is_logged_once_whichever_path_takes_it(app, redis_client):
    post(app.test_client(), "/webhook/cor-event", payload("cor-participant-added.json"))
    comm = communication("comm-1", "hello there")
    first = post(app.test_client(), "/webhook/cor-event", comm)
    again = post(flask_only(app), "/webhook/cor-event", comm)
    assert orjson.loads(first.get_data())["logged"] == 1 and orjson.loads(again.get_data())["duplicates"] == 1
    assert first.headers["X-Request-Id"] == "req-1" and first.headers["X-Content-Type-Options"] == "nosniff"
    assert len(redis_client.xrange(log_key(CALL_SID))) == 1


@pytest.mark.parametrize("path", ["/api/stream/bad%20id", "/api/stream/" + "x" * 300])
def test_a_refused_stream_is_answered_as_its_flask_view_answers_it(app, path):
    origin = {"Origin": "https://flex.twilio.com"}
    lean = answer(app.test_client().get(path, headers=origin))
    assert lean[0] == 400 and answer(flask_only(app).get(path, headers=origin)) == lean


def test_what_the_lean_routes_do_not_take_reaches_flask(client):
    wrong_method = client.get("/webhook/cintel-action")
    assert wrong_method.status_code == 405 and wrong_method.json["code"] == "method_not_allowed"
    assert client.get("/api/stream/").status_code == 404
    assert client.get(f"/api/stream/{CALL_SID}/more").status_code == 404


WEBHOOK_ENVIRONS = [
    {"REQUEST_METHOD": "post", "PATH_INFO": "/webhook/cor-event", "QUERY_STRING": "bodySHA256=ab%20c&x=1&x=2&e="},
    {"REQUEST_METHOD": "GET", "PATH_INFO": "//webhook/status", "QUERY_STRING": "CallSid=CA1+2&bad=%ff%fe&CallSid=3"},
    {"PATH_INFO": "/webhook/caf\xc3\xa9", "QUERY_STRING": "caf\xc3\xa9=%C3%A9"},
    {"REQUEST_METHOD": "POST", "CONTENT_TYPE": " Application/JSON ; charset=utf-8", "CONTENT_LENGTH": "12"},
    {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded"},
]


@pytest.mark.parametrize("extra", WEBHOOK_ENVIRONS)
def test_a_webhook_request_reads_as_werkzeugs_does(extra):
    environ = EnvironBuilder(path="/").get_environ()
    environ.pop("CONTENT_TYPE", None)
    environ.update(extra, HTTP_X_TWILIO_SIGNATURE="c2ln", HTTP_X_REQUEST_ID="r-1")
    ours, theirs = WebhookRequest(environ), Request(environ)
    assert ours.method == theirs.method
    assert ours.path == theirs.path
    assert ours.mimetype == theirs.mimetype
    assert list(ours.args.items(multi=True)) == list(theirs.args.items(multi=True))
    for name in ("X-Twilio-Signature", "x-request-id", "Content-Type", "content-length", "X-Absent"):
        assert ours.headers.get(name) == theirs.headers.get(name), name
    assert ours.host_url == theirs.host_url  # werkzeug's own, asked of its request
