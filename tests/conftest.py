import subprocess

import pytest
import redis as redis_lib

from cintel_relay import create_app
from cintel_relay.config import load_config
from cintel_relay.extension import relay

from .support import RedisServer, RelayFactory, SSEClient, TLSRedisServer, base_env, flushed_client, running
from .support.fakes.twilio_control import FakeControlPlane


@pytest.fixture(autouse=True)
def close_streams():
    """Close the streams a test left open, so their sockets do not leak into the next test's warnings."""
    yield
    SSEClient.close_all()


@pytest.fixture(scope="session")
def redis_server():
    """One real redis-server for the session; tests that break Redis start their own."""
    yield from running(RedisServer())


@pytest.fixture
def redis_client(redis_server):
    yield from flushed_client(redis_server.url)


@pytest.fixture
def make_app(redis_client, redis_server):
    """Build an app on the session's Redis, with environment overrides."""
    apps = []

    def build(**env):
        app = create_app(load_config(base_env(env.pop("redis_url", redis_server.url), **env)))
        apps.append(app)
        return app

    yield build
    for app in apps:
        relay(app).shutdown()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def _relays(redis_url):
    factory = RelayFactory(redis_url)
    yield factory
    factory.stop_all()


@pytest.fixture
def start_relay(redis_server):
    """Start gunicorn relays: ``start_relay(redis_url=<the session's>, workers=1, **env)``; all stopped at the end.

    ``redis_url=None`` runs the embedded bus. Each relay is a :class:`~tests.support.Relay`.
    """
    yield from _relays(redis_server.url)


@pytest.fixture(scope="module")
def private_redis():
    """A redis-server of the test module's own."""
    yield from running(RedisServer())


@pytest.fixture
def start_private_relay(start_relay, private_redis):
    """:func:`start_relay` on the module's own Redis, emptied first: for relays whose due items (settling a
    report, deliveries) the session's replicas, configured otherwise, must not take."""
    with redis_lib.Redis.from_url(private_redis.url) as client:
        client.flushall()
    return lambda **env: start_relay(redis_url=private_redis.url, **env)


@pytest.fixture(scope="module")
def start_module_relay(redis_server):
    """:func:`start_relay` for module-scoped fixtures: the relays live until the module's tests are done."""
    yield from _relays(redis_server.url)


@pytest.fixture(scope="session")
def relay_pair(redis_server):
    """Two gunicorn replicas (gevent worker) sharing the session's Redis, started once."""
    factory = RelayFactory(redis_server.url)
    yield [factory(), factory()]
    factory.stop_all()


@pytest.fixture
def relays(relay_pair, redis_client):
    return relay_pair


@pytest.fixture(scope="session")
def twilio_server():
    """The fake Twilio IAM + TaskRouter on 127.0.0.1, started once."""
    from .support.fakes.twilio import FakeTwilio

    yield from running(FakeTwilio())


@pytest.fixture
def fake_twilio(twilio_server):
    twilio_server.reset()
    return twilio_server


@pytest.fixture
def flex_app(make_app, fake_twilio):
    """Build an app with Flex stream auth against the fake Twilio, with environment overrides."""
    from .support import flex_env

    def build(**env):
        return make_app(**{**flex_env(fake_twilio.url), **env})

    return build


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's browser tests (each test opens its own context)."""
    from playwright.sync_api import sync_playwright

    from .support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory):
    """A redis-server that speaks only TLS with a password, as Heroku Key-Value Store: a certificate made here
    (so no CA vouches for it)."""
    tmp = tmp_path_factory.mktemp("redis-tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=redis",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = TLSRedisServer(cert, key).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def control_plane():
    """One fake control plane per test module (two servers on free loopback ports)."""
    yield from running(FakeControlPlane())


@pytest.fixture
def fake(control_plane):
    """The module's fake, emptied for this test."""
    control_plane.reset()
    return control_plane
