"""The worker's response class keeps gunicorn's header handling while checking each constant header pair once; its
settings are gunicorn's, read once."""

from types import SimpleNamespace

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
