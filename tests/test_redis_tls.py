"""``rediss://`` as Heroku Key-Value Store serves it: TLS with a self-signed certificate and a password."""

import subprocess

import pytest
import redis
import requests

from cintel_relay import check, create_app
from cintel_relay.config import load_config

from .support import CALL_SID, SSEClient, base_env, communication, free_port, post_json, wait_for

PASSWORD = "p4ssw0rd-from-the-addon"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """A redis-server that speaks only TLS, with a certificate made here (so no CA vouches for it)."""
    tmp = tmp_path_factory.mktemp("redis-tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=redis",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(port), "--tls-cert-file", str(cert),
                             "--tls-key-file", str(key), "--tls-auth-clients", "no", "--requirepass", PASSWORD,
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, password=PASSWORD, ssl=True, ssl_cert_reqs=None)

    def pings():
        try:
            return client.ping()
        except redis.RedisError:
            return False

    wait_for(pings, what="redis-server with TLS")
    client.close()
    yield f"rediss://:{PASSWORD}@127.0.0.1:{port}/0"
    proc.kill()
    proc.wait()


def test_relay_works_over_tls_with_verification_off_for_commands_and_pubsub(tls_redis, start_relay):
    relay = start_relay(tls_redis, CINTEL_REDIS_SSL_VERIFY="false")
    assert requests.get(relay.url + "/readyz", timeout=5).status_code == 200
    stream = SSEClient(relay.url, CALL_SID)  # the hub's pub/sub connection must be up for the snapshot
    assert [data["type"] for _, data in stream.events(2)] == ["connected", "initial"]
    assert post_json(relay.url, "/webhook/cor-event", communication("comm-tls", "over tls")).status_code == 200
    assert stream.next_event()[1]["data"]["text"] == "over tls"
    stream.close()


def test_the_certificate_is_verified_by_default(tls_redis):
    config = load_config(base_env(tls_redis))
    app = create_app(config)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503 and response.json["ready"] is False
    finally:
        app.extensions["cintel"].hub.shutdown()
    finding = check.redis_reachable(config)
    assert not finding.ok and "CINTEL_REDIS_SSL_VERIFY=false" in finding.fix
    assert PASSWORD not in finding.what + finding.fix
