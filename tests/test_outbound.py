"""Outbound deliveries, one attempt at a time: the signature's format, capped doubling waits, giving up (counted)."""

import hashlib
import hmac
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from cintel_relay.extension import relay
from cintel_relay.outbound import signing

from .support import METRICS_TOKEN, Receiver

SECRET = "report-secret-for-tests-0123456789abcdef"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_and_verify_checks_age():
    body = b'{"callSid":"CA1"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, 1700000000, body) == "v1=" + expected
    sent = signing.headers(SECRET, "report.CA1.1.0", 1700000000, body)[signing.SIGNATURE_HEADER]
    assert signing.verify(SECRET, "1700000000", sent, body, now=1700000100)
    assert not signing.verify(SECRET, "1700000000", sent, body, now=1700000000 + 301)  # too old: a replay
    assert not signing.verify("another-secret", "1700000000", sent, body, now=1700000000)
    assert not signing.verify(SECRET, "1700000001", sent, body, now=1700000001)  # the timestamp is signed


def gave_up(client, kind="report"):
    """The ``kind`` deliveries given up and failed, from /metrics."""
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    samples = {
        s.labels["outcome"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "cintel_deliveries_total" and s.labels.get("kind") == kind
    }
    return samples["gave_up"], samples["failed"]


def test_failed_attempts_wait_twice_as_long_each_time_up_to_the_cap_then_give_up(make_app):
    endpoint = Receiver(statuses=[500] * 10)
    try:
        app = make_app(
            CINTEL_REPORT_URL=endpoint.url,
            CINTEL_REPORT_SECRET=SECRET,
            CINTEL_REPORT_RETRY_SECONDS="10",
            CINTEL_REPORT_RETRY_MAX_SECONDS="3600",
            CINTEL_REPORT_GIVE_UP_SECONDS="86400",
            CINTEL_METRICS_TOKEN=METRICS_TOKEN,
        )
        deliveries = relay(app).reports.deliveries
        payload = {"kind": "report", "url": endpoint.url, "body": "{}", "first": 0}
        waits = [deliveries.handle("deliver:report.CA1.1.0", payload, now) - now for now in (0, 10_000, 20_000, 40_000)]
        assert waits == [10_000, 10_000, 20_000, 40_000]  # each wait as long as it has been failing
        assert deliveries.handle("deliver:report.CA1.1.0", payload, 50_000_000) - 50_000_000 == 3_600_000  # capped
        assert gave_up(app.test_client()) == (0, 5)
        assert deliveries.handle("deliver:report.CA1.1.0", payload, 86_400_000) is None  # a day of failures
        assert gave_up(app.test_client()) == (1, 6)
        assert len({r.headers[signing.DELIVERY_HEADER] for r in endpoint.received}) == 1
    finally:
        endpoint.stop()


def test_a_claimed_batch_of_deliveries_times_out_within_its_lease(make_app):
    # Two replicas never both deliver: everything one claim holds is done (or timed out) before its lease ends.
    for lease, timeout in (("30", "10"), ("11", "10"), ("2", "1"), ("300", "10")):
        app = make_app(CINTEL_DUE_LEASE_SECONDS=lease, CINTEL_REPORT_TIMEOUT=timeout)
        runner = relay(app).due
        assert runner.batch >= 1 and runner.batch * float(timeout) * 1000 < runner.lease_ms


TRICKLE = r"""
from gevent import monkey

monkey.patch_all()

import sys
import time
from types import SimpleNamespace

import gevent
from gevent.server import StreamServer

from cintel_relay.outbound.deliveries import Deliveries


def trickle(sock, _address):
    sock.recv(65536)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":  # a 200, one byte every 0.2 s: ~8 s in all
        sock.sendall(bytes([byte]))
        gevent.sleep(0.2)
    sock.close()


server = StreamServer(("127.0.0.1", 0), trickle)
server.start()
config = SimpleNamespace(report_timeout=1.0, report_retry_seconds=10, report_retry_max_seconds=60, report_give_up_seconds=3600)
deliveries = Deliveries(None, {"report": "secret"}, config)
url = f"http://127.0.0.1:{server.server_port}/"
retry_at = deliveries.handle("deliver:report.CA1.1.0", {"kind": "report", "url": url, "body": "{}", "first": 0}, 0)
print("failed" if retry_at is not None else "delivered")
"""


def test_a_receiver_trickling_its_answer_past_the_timeout_is_a_failed_attempt():
    """As the relay's gevent worker runs it: a 200 sent one byte at a time, never pausing as long as the timeout
    between bytes, is still a failed attempt once the whole answer takes longer (else it could outlast the due
    queue's lease, and a second replica would send the same delivery)."""
    outcome = subprocess.run([sys.executable, "-c", TRICKLE], capture_output=True, text=True, timeout=60)
    assert outcome.stdout.strip() == "failed", outcome.stderr
