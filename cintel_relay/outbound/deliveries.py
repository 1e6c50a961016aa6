"""Deliveries to the customer's systems through the due queue: one item per (body, URL), sent until a 2xx.

An item is ``deliver:<delivery id>``; its payload holds the URL, the body and when it was first due. The handler
POSTs the body signed (:mod:`.signing`) with the same delivery id on every try. Anything but a 2xx, or no answer
within the timeout, is retried: each wait is as long as the delivery has been failing, at least the first wait and
at most the cap, so waits double; past the give-up age the delivery is dropped, logged and counted. The due queue
holds an item for its lease, longer than the timeout, so two replicas never send the same attempt, and an item a
dead replica held comes due again for another.
"""

import logging
import time
from typing import Dict, Optional, Sequence

import requests
from gevent import Timeout

from ..bus.due import DueQueue
from . import signing

logger = logging.getLogger(__name__)

KIND = "deliver"


class Deliveries:
    """Queues and sends signed deliveries; its :meth:`handle` is the due runner's handler for ``deliver:`` items."""

    def __init__(self, queue: DueQueue, secrets: Dict[str, str], config, metrics=None):
        self.queue = queue
        #: The secret that signs each kind of delivery (``report``; alerts later).
        self.secrets = secrets
        self.timeout = config.report_timeout
        self.first_wait_ms = int(config.report_retry_seconds * 1000)
        self.max_wait_ms = int(config.report_retry_max_seconds * 1000)
        self.give_up_ms = int(config.report_give_up_seconds * 1000)
        self.metrics = metrics
        self.http = requests.Session()

    def enqueue(self, kind: str, delivery_id: str, urls: Sequence[str], body: bytes, now_ms: int):
        """Queue ``body`` for each URL, due now; the id of each is ``<delivery_id>.<n>`` (n: the URL's position)."""
        for n, url in enumerate(urls):
            payload = {"kind": kind, "url": url, "body": body.decode("utf-8"), "first": now_ms}
            self.queue.schedule(f"{KIND}:{delivery_id}.{n}", now_ms, payload)

    def handle(self, item: str, payload: dict, now_ms: int) -> Optional[int]:
        """One attempt: None when delivered or given up, else when to try again (ms)."""
        delivery_id = item.partition(":")[2]
        kind, body = payload["kind"], payload["body"].encode("utf-8")
        headers = signing.headers(self.secrets[kind], delivery_id, int(time.time()), body)
        context = {"delivery": delivery_id, "delivery_kind": kind}
        try:
            # requests' timeout bounds each read, not the whole answer: a receiver trickling its reply could
            # outlast the due queue's lease, and another replica would send the same attempt. This bounds it all.
            with Timeout(self.timeout, TimeoutError("no whole answer within the timeout")):
                response = self.http.post(
                    payload["url"], data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            problem = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        except (requests.RequestException, TimeoutError) as exc:
            problem = type(exc).__name__
        if problem is None:
            self._count(kind, "delivered")
            logger.info("delivered", extra=context)
            return None
        self._count(kind, "failed")
        failing_ms = max(0, now_ms - int(payload["first"]))
        if failing_ms >= self.give_up_ms:
            self._count(kind, "gave_up")
            logger.error("delivery given up after %d s (last: %s)", failing_ms // 1000, problem, extra=context)
            return None
        wait_ms = min(self.max_wait_ms, max(self.first_wait_ms, failing_ms))
        logger.warning("delivery failed (%s); retrying in %.1f s", problem, wait_ms / 1000, extra=context)
        return now_ms + wait_ms

    def _count(self, kind: str, outcome: str):
        if self.metrics is not None:
            self.metrics.deliveries.labels(kind, outcome).inc()
