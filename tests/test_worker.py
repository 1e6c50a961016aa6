"""The worker's response class keeps gunicorn's header handling while checking each constant header pair once; its
settings are gunicorn's, read once."""

import socket
from types import SimpleNamespace

import gevent
import gevent.socket
import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.errors import InvalidResponseHeader

from cintel_relay.server.worker import FrozenSettings, HeadWithBody

HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", "17"),
    ("X-Request-Id", "abc123"),
    ("Connection", "keep-alive"),
    ("X-Content-Type-Options", "nosniff "),
    ("Cache-Control", "no-store"),
]


def response(cls):
    req = SimpleNamespace(version=(1, 1), method="POST", headers=[], should_close=lambda: False)
    return cls(req, None, Config())


@pytest.mark.parametrize("rounds", [1, 3])
def test_headers_kept_and_dropped_as_gunicorn_does_every_time(rounds):
    for _ in range(rounds):
        ours, theirs = response(HeadWithBody), response(wsgi.Response)
        ours.start_response("200 OK", list(HEADERS))
        theirs.start_response("200 OK", list(HEADERS))
        assert ours.headers == theirs.headers
        assert ours.response_length == theirs.response_length == 17
        assert ("Connection", "keep-alive") not in ours.headers  # hop-by-hop: gunicorn's own
        assert ("X-Content-Type-Options", "nosniff") in ours.headers  # stripped, as gunicorn strips


def test_a_bad_header_value_is_refused_even_beside_checked_ones():
    response(HeadWithBody).start_response("200 OK", list(HEADERS))
    with pytest.raises(InvalidResponseHeader):
        response(HeadWithBody).start_response("200 OK", [*HEADERS, ("Cache-Control", "no-store\r\nX-Evil: 1")])


def config(**settings) -> Config:
    """gunicorn's Config with these settings."""
    cfg = Config()
    for name, value in settings.items():
        cfg.set(name, value)
    return cfg


@pytest.mark.parametrize("sendfile_env", [None, "0", "yes"])
def test_frozen_settings_answer_as_gunicorns_config_does(monkeypatch, sendfile_env):
    if sendfile_env is None:
        monkeypatch.delenv("SENDFILE", raising=False)
    else:
        monkeypatch.setenv("SENDFILE", sendfile_env)
    cfg = config(keepalive=7, limit_request_fields=50, keyfile="/x.key", http_parser="fast")
    frozen = FrozenSettings(cfg)
    for name in cfg.settings:
        assert getattr(frozen, name) == getattr(cfg, name), name
    # The properties a request reads, worked out once; the others, and the Config's methods, are the Config's own.
    assert frozen.is_ssl == cfg.is_ssl == "/x.key"
    assert frozen.sendfile == cfg.sendfile == (sendfile_env != "0")
    assert frozen.worker_class_str == cfg.worker_class_str
    assert frozen.forwarded_allow_networks() == cfg.forwarded_allow_networks()
    assert frozen.settings is cfg.settings
    with pytest.raises(AttributeError):
        frozen.no_such_setting  # noqa: B018


def streaming(cls, sock):
    """A response to an HTTP/1.1 GET on ``sock``, its head sent with a first frame (as a stream's is)."""
    req = SimpleNamespace(version=(1, 1), method="GET", headers=[], should_close=lambda: False)
    resp = cls(req, sock, Config())
    resp.start_response("200 OK", [("Content-Type", "text/event-stream")])
    resp.write(b"data: first\n\n")
    return resp


def received(sock) -> bytes:
    data = b""
    sock.settimeout(0.5)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    return data


@pytest.fixture
def socketpair():
    """A connected pair of gevent sockets, closed after the test."""
    made = []

    def make():
        made.extend(gevent.socket.socketpair())
        return made[-2:]

    yield make
    for sock in made:
        sock.close()


def test_frames_sent_now_go_out_as_gunicorns_write_would_send_them(socketpair):
    ours_end, ours_peer = socketpair()
    theirs_end, theirs_peer = socketpair()
    ours, theirs = streaming(HeadWithBody, ours_end), streaming(wsgi.Response, theirs_end)
    assert ours.open_to_writers()
    for frame in (b"id: 1-0\ndata: two\n\n", b"id: 1-1\ndata: three\n\n"):
        assert ours.send_now(frame) == b""  # the kernel took it all
        theirs.write(frame)
    ours_bytes, theirs_bytes = received(ours_peer), received(theirs_peer)
    assert ours_bytes.split(b"\r\n\r\n", 1)[1] == theirs_bytes.split(b"\r\n\r\n", 1)[1]  # the bodies, framed alike
    assert b"Transfer-Encoding: chunked" in ours_bytes and ours.sent == theirs.sent


def test_what_the_kernel_does_not_take_now_is_sent_whole_after(socketpair):
    end, peer = socketpair()
    end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    resp = streaming(HeadWithBody, end)
    head = received(peer)
    frame = b"id: 2-0\ndata: " + b"x" * 1_000_000 + b"\n\n"
    rest = resp.send_now(frame)
    assert 0 < len(rest) < len(frame)
    reader = gevent.spawn(received, peer)
    resp.send_rest(rest)
    assert reader.get() == b"%X\r\n" % len(frame) + frame + b"\r\n"
    assert head.endswith(b"data: first\n\n\r\n")
