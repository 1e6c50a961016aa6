"""The bench's own helpers: its storm clients back off as the plugin does, and its figures are read right."""

import json
import os
import random

from bench import payloads
from bench.scenarios import _wrk_latency_ms
from bench.storm import _caught_up_at, backoff_delay
from bench.topology import PUBLIC_URL, TOKEN
from bench.versus import ratios
from cintel_relay.bus.keys import log_key
from tests.support.processes import ROOT

CASES = os.path.join(ROOT, "tests", "contract", "stream-client-cases.json")


class _Fixed(random.Random):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def random(self):
        return self.value


def test_storm_clients_wait_as_long_as_the_plugin_between_failures():
    """The delays of the contract's cases in which every attempt fails (the plugin's and console's backoff)."""
    with open(CASES) as fh:
        cases = json.load(fh)["cases"]
    checked = 0
    for case in cases:
        delays = [e["retryInMs"] for e in case["expect"] if "retryInMs" in e]
        if not case["steps"] or any(s not in ("retry",) for s in case["steps"]) or not delays:
            continue
        rng = _Fixed(case.get("random", 0))
        assert [round(1000 * backoff_delay(n, rng)) for n in range(1, len(delays) + 1)] == delays, case["name"]
        checked += 1
    assert checked >= 2


def test_wrk_latency_percentiles_are_read_in_milliseconds_whatever_unit_wrk_prints():
    output = (
        "  Latency Distribution\n     50%  812.00us\n     75%    1.52ms\n     90%    3.10ms\n     99%    1.20s\n"
        "  12345 requests in 10.00s, 1.23MB read\n"
    )
    assert _wrk_latency_ms(output, "50") == 0.812
    assert _wrk_latency_ms(output, "99") == 1200.0
    assert _wrk_latency_ms("no distribution", "50") == 0.0


def test_ratios_are_relay_over_sample_and_none_when_the_sample_has_no_figure():
    got = ratios({"accepted_per_s": 900, "errors": 0}, {"accepted_per_s": 1000, "errors": 0})
    assert got["accepted_per_s"] == 0.9
    assert got["errors"] is None


class _Stream:
    def __init__(self, call, live_at, got):
        self.call, self.live_at, self.got = call, live_at, got


def test_a_stream_is_caught_up_once_it_has_every_event_acknowledged_before_it_came_back():
    acked = {7: {0: 1.0, 1: 2.0, 2: 9.0}}  # event 2 was acknowledged after the stream came back at 5.0
    assert _caught_up_at(_Stream(7, 5.0, {(7, 0): 0.5}), acked) is None
    assert _caught_up_at(_Stream(7, 5.0, {(7, 0): 0.5, (7, 1): 6.5}), acked) == 6.5
    assert _caught_up_at(_Stream(7, 5.0, {(7, 0): 0.5, (7, 1): 4.0}), acked) == 5.0


def test_the_fanout_scenario_publishes_the_frame_the_relay_logs_for_the_same_line(make_app, redis_client):
    """The fan-out scenario publishes frames without their webhooks: each must be the relay's own for that line."""
    client = make_app(SERVER_URL=PUBLIC_URL, TWILIO_AUTH_TOKEN=TOKEN).test_client()
    for request in (payloads.participant(3, TOKEN, PUBLIC_URL), payloads.line(3, 7, TOKEN, PUBLIC_URL)):
        response = client.post(
            request.path,
            data=request.body,
            content_type=request.content_type,
            headers={"X-Twilio-Signature": request.signature},
        )
        assert response.status_code == 200, response.get_json()
    logged = [f[b"f"] for _, f in redis_client.xrange(log_key(payloads.call_sid(3))) if f[b"t"] == b"transcript"]
    assert logged == [payloads.transcript_frame(3, 7)]
