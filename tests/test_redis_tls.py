"""``rediss://`` as Heroku Key-Value Store serves it: TLS with a self-signed certificate and a password."""

import requests

from cintel_relay import create_app
from cintel_relay.config import load_config
from cintel_relay.extension import relay
from cintel_relay.setup import check

from .support import CALL_SID, SSEClient, base_env, communication, post_json
from .support import TLS_REDIS_PASSWORD as PASSWORD


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
        relay(app).shutdown()
    finding = check.redis_reachable(config)
    assert not finding.ok and "CINTEL_REDIS_SSL_VERIFY=false" in finding.fix
    assert PASSWORD not in finding.what + finding.fix
