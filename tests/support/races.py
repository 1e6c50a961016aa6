"""Held results racing their call's first utterance at two replicas: the scenario both the standalone and
the cluster guarantees tests play."""

import threading
from concurrent.futures import ThreadPoolExecutor

from .payloads import SENTIMENT_OPERATOR, communication, operator_result, rule_execution
from .signing import post_json


def race_held_results(holder, first, second, call_sid: str, conv: str, logged) -> list:
    """A result held on ``holder``; then another result (at ``first``) and the call's first utterance (at
    ``second``) sent at the same instant. Returns the ids in the call's log, read by ``logged(call_sid)``."""
    early = rule_execution(
        [operator_result(f"{conv}-early", SENTIMENT_OPERATOR, {"label": "positive"})], conversation=conv
    )
    assert post_json(holder.url, "/webhook/cintel-action", early).json()["held"] == 2
    late = rule_execution([operator_result(f"{conv}-late", SENTIMENT_OPERATOR, {"label": "mixed"})], conversation=conv)
    mapping = communication(f"{conv}-c1", "hello", call_sid=call_sid, conversation=conv)
    barrier = threading.Barrier(2)

    def race(relay, path, body):
        barrier.wait()
        return post_json(relay.url, path, body).status_code

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(race, first, "/webhook/cintel-action", late)
        b = pool.submit(race, second, "/webhook/cor-event", mapping)
        assert (a.result(), b.result()) == (200, 200)
    return [e["data"].get("operatorResultId") or e["data"]["id"] for _, e in logged(call_sid)]
