"""What a call's report costs Redis: commands and memory of settling and delivering N calls (docs/performance.md).

Runs in-process on a redis-server of its own: N calls of U utterances each complete (signed webhooks through
the WSGI app), then the due queue settles and delivers their reports to a local receiver. INFO commandstats is
read before and after each phase; memory is the due queue's and the reports' keys (MEMORY USAGE) while queued.

    python3 scripts/report_cost.py [N] [U]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import redis

from cintel_relay import create_app
from cintel_relay.bus.keys import due_keys, report_key
from cintel_relay.config import load_config
from cintel_relay.extension import relay
from tests.support import Receiver, RedisServer, base_env, communication, form_request, json_request

SECRET = "report-cost-secret-0123456789abcdef0123"


def commands(client) -> dict:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in client.info("commandstats").items()}


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def run_all(runner, n: int):
    """Claim every item due now at once and run each as the runner does (claim, handler, finish)."""
    now, items = runner.queue.claim(runner.lease_ms, limit=n)
    for item, payload in items:
        runner.queue.finish(item, runner.handlers[item.partition(":")[0]](item, payload, now))


def main(n: int, utterances: int):
    server, receiver = RedisServer().start(), Receiver()
    env = base_env(server.url, CINTEL_REPORT_URL=receiver.url, CINTEL_REPORT_SECRET=SECRET)
    app = create_app(load_config(env, report_settle_seconds=0))
    components = relay(app)
    components.due.stop()  # this script runs the queue itself, phase by phase
    web, client = app.test_client(), redis.Redis.from_url(server.url)
    calls = ["CA%032x" % i for i in range(1, n + 1)]
    for sid in calls:
        conversation = "conv_conversation_cost%020d" % int(sid[2:], 16)
        for u in range(utterances):
            body = communication(
                f"{sid}-{u}", "An utterance of ordinary length, about a move.", call_sid=sid, conversation=conversation
            )
            url, headers, raw = json_request("http://localhost", "/webhook/cor-event", body)
            web.post(url.removeprefix("http://localhost"), data=raw, headers=headers)
    before_completion = commands(client)
    for sid in calls:
        url, headers, raw = form_request(
            "http://localhost", "/webhook/status", {"CallSid": sid, "CallStatus": "completed"}
        )
        web.post("/webhook/status", data=raw, headers=headers)
    completion = delta(before_completion, commands(client))
    queue, payloads = due_keys("relay")
    settle_memory = client.memory_usage(queue) + client.memory_usage(payloads)
    before_settle = commands(client)
    run_all(components.due, n)  # the settles: each builds, stores and queues one delivery
    settling = delta(before_settle, commands(client))
    delivery_memory = client.memory_usage(queue) + client.memory_usage(payloads)
    report_memory = sum(client.memory_usage(report_key(sid)) for sid in calls)
    before_delivery = commands(client)
    run_all(components.due, n)
    delivering = delta(before_delivery, commands(client))
    assert len(receiver.received) == n, len(receiver.received)
    print(f"{n} calls of {utterances} utterances; per call:")
    for name, phase in (("completion webhook", completion), ("settle", settling), ("deliver", delivering)):
        print(f"  {name}: " + ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(phase.items())))
    print(
        f"  due queue while settles wait: {settle_memory / n:.0f} B; while deliveries wait: {delivery_memory / n:.0f} B"
    )
    print(f"  stored report: {report_memory / n:.0f} B (kept CINTEL_REPORT_TTL)")
    relay.shutdown()
    receiver.stop()
    server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
