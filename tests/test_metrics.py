"""``GET /metrics``: guarded by a token, counting webhooks, events, streams and Redis trouble, across workers."""

import os
import signal
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError

from .support import (
    AUTH_TOKEN,
    METRICS_TOKEN,
    ROOT,
    SERVE,
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

ROUTE = "/webhook/cor-event"
SESSION = "CA" + "7" * 32


def signed_post(client, body, token=AUTH_TOKEN):
    url, headers, raw = json_request("http://localhost", ROUTE, body, token=token)
    return client.post(url[len("http://localhost") :], data=raw, headers=headers)


def samples(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_metrics_are_off_without_a_token(make_app):
    response = make_app().test_client().get("/metrics")
    assert response.status_code == 404
    assert response.json["code"] == "metrics_disabled" and "CINTEL_METRICS_TOKEN" in response.json["error"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token-0123456789", METRICS_TOKEN, f"Basic {METRICS_TOKEN}"]
)
def test_metrics_want_the_token_as_a_bearer(make_app, authorization):
    client = make_app(CINTEL_METRICS_TOKEN=METRICS_TOKEN).test_client()
    response = client.get("/metrics", headers={"Authorization": authorization} if authorization else {})
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_short_metrics_token_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="CINTEL_METRICS_TOKEN"):
        load_config(base_env(CINTEL_METRICS_TOKEN="short"))


def test_webhooks_are_counted_by_route_status_and_outcome(make_app):
    client = make_app(CINTEL_METRICS_TOKEN=METRICS_TOKEN).test_client()
    body = communication("comm-1", "hello", call_sid=SESSION)
    assert signed_post(client, body).status_code == 200
    assert signed_post(client, body).status_code == 200  # Twilio retried: a duplicate
    assert signed_post(client, body, token="not-the-auth-token").status_code == 403
    got = samples(client)
    assert metric(got, "cintel_webhooks_total", route=ROUTE, status="200") == 2
    assert metric(got, "cintel_webhooks_total", route=ROUTE, status="403") == 1
    assert metric(got, "cintel_signature_failures_total", route=ROUTE) == 1
    assert metric(got, "cintel_events_total", outcome="logged") == 1
    assert metric(got, "cintel_events_total", outcome="duplicate") == 1
    assert metric(got, "cintel_redis_errors_total", route=ROUTE) == 0


def test_requests_failed_by_redis_are_counted(make_app):
    client = make_app(CINTEL_METRICS_TOKEN=METRICS_TOKEN, redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    assert signed_post(client, communication("comm-1", "hello", call_sid=SESSION)).status_code == 503
    got = samples(client)
    assert metric(got, "cintel_redis_errors_total", route=ROUTE) == 1
    assert metric(got, "cintel_webhooks_total", route=ROUTE, status="503") == 1


def test_streams_deliveries_lag_and_reconnects_survive_a_worker_restart(start_relay, redis_client):
    relay = start_relay(CINTEL_METRICS_TOKEN=METRICS_TOKEN)
    stream = SSEClient(relay.url, SESSION)
    stream.events(2)  # connected, and an empty snapshot (no id: nothing delivered yet)
    wait_for(lambda: metric(scrape(relay.url), "cintel_streams_live") == 1, what="the stream counted as live")
    for n in range(3):
        assert post_json(relay.url, ROUTE, communication(f"comm-{n}", f"line {n}", call_sid=SESSION)).ok
    stream.events(3)
    got = wait_for(
        lambda: (lambda s: s if metric(s, "cintel_delivery_lag_seconds_count") == 3 else None)(scrape(relay.url)),
        what="three lag observations",
    )
    assert metric(got, "cintel_stream_events_delivered_total") == 3
    assert metric(got, "cintel_delivery_lag_seconds_bucket", le="10.0") == 3
    assert metric(got, "cintel_events_total", outcome="logged") == 3

    redis_client.client_kill_filter(_type="pubsub")
    wait_for(
        lambda: metric(scrape(relay.url), "cintel_pubsub_reconnects_total") >= 1, what="the hub's reconnect counted"
    )

    # A worker dies (OOM, a crash): gunicorn starts another. Counters keep their totals; the dead
    # worker's stream is no longer live.
    (dead,) = relay.worker_pids()
    os.kill(int(dead), signal.SIGKILL)
    stream.close()
    wait_for(lambda: relay.worker_pids() - {dead}, what="a new worker")
    got = wait_for(
        lambda: (lambda s: s if requests.get(relay.url + "/healthz").ok else None)(scrape(relay.url)),
        what="the new worker to answer",
    )
    assert metric(got, "cintel_webhooks_total", route=ROUTE, status="200") == 3
    assert metric(got, "cintel_stream_events_delivered_total") == 3
    assert metric(got, "cintel_streams_live") == 0


WEBHOOK_ROUTES = ("/webhook/cintel-action", "/webhook/cor-event", "/webhook/maestro-event", "/webhook/status")


def test_a_fresh_relay_exports_every_family_with_its_label_values_at_zero(start_relay):
    relay = start_relay(workers=2, CINTEL_METRICS_TOKEN=METRICS_TOKEN)
    got = scrape(relay.url)
    expected = [
        ("cintel_streams_live", {}),
        ("cintel_stream_events_delivered_total", {}),
        ("cintel_delivery_lag_seconds_count", {}),
        ("cintel_pubsub_reconnects_total", {}),
        ("cintel_redis_errors_total", {"route": "/api/stream/<session_id>"}),
        *[("cintel_events_total", {"outcome": o}) for o in ("logged", "held", "duplicate")],
        *[("cintel_twilio_unavailable_total", {"service": s}) for s in ("token_validation", "taskrouter")],
    ]
    for route in WEBHOOK_ROUTES:
        expected += [
            ("cintel_signature_failures_total", {"route": route}),
            ("cintel_redis_errors_total", {"route": route}),
        ]
        expected += [
            ("cintel_webhooks_total", {"route": route, "status": status})
            for status in ("200", "400", "403", "413", "415", "422", "503")
        ]
    missing = [(name, labels) for name, labels in expected if (name, frozenset(labels.items())) not in got]
    assert missing == []
    assert all(got[(name, frozenset(labels.items()))] == 0 for name, labels in expected)


def test_twilio_out_of_reach_is_counted_apart_from_redis(flex_app, fake_twilio):
    client = flex_app(CINTEL_METRICS_TOKEN=METRICS_TOKEN).test_client()
    token = fake_twilio.add_user("dana")
    fake_twilio.down = True
    response = client.post(
        "/api/stream-ticket", json={"sessionId": SESSION}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503 and response.json["code"].startswith("token_validation_")
    got = samples(client)
    assert metric(got, "cintel_twilio_unavailable_total", service="token_validation") == 1
    assert metric(got, "cintel_redis_errors_total", route="/api/stream-ticket") == 0


def test_a_relay_removes_the_metrics_directory_it_made_when_it_stops(tmp_path):
    env = base_env(PORT=free_port(), CINTEL_BIND_HOST="127.0.0.1", TMPDIR=tmp_path)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        SERVE, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{env['PORT']}/healthz"), timeout=30, what="the relay")
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("cintel-metrics-")]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert list(tmp_path.iterdir()) == []


def _answers(url):
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False
