"""Work that comes due later, kept in Redis so that any replica does it, once, and a dead replica loses none.

A :class:`DueQueue` is a sorted set of items by the time (Redis's clock, ms) they come due, and their
payloads. Every worker runs a :class:`DueRunner` that claims what is due with one script call: a claimed
item's time moves a lease ahead, so it is held by one replica at a time, and comes due again (for another
replica) when its claimer dies before finishing. A handler finishes an item by returning None (it is removed)
or asks for another try at a later time. Handlers must be idempotent across a lease that ran out (deliveries
carry one id on every try; logged events dedupe), which makes "at most one replica at a time" the guarantee
and "exactly once" the effect.

Used for adherence deadlines (an ``overdue`` announced with no webhook after it), settling a call's report,
and deliveries to the customer's systems.
"""

import logging
import threading
from typing import Callable, Dict, List, Optional, Tuple

import orjson

from .group_commit import GroupCommit, LuaScript
from .keys import due_keys
from .store import REDIS_ERRORS

logger = logging.getLogger(__name__)

CLAIM = LuaScript("due_claim.lua")

#: A handler gets (item, payload, Redis's clock in ms) and returns None when done, else the ms to try again at.
Handler = Callable[[str, dict, int], Optional[int]]


class DueQueue:
    """One named queue of due items. An item is ``<kind>:<id>``; its kind picks the handler."""

    def __init__(self, store, commit: GroupCommit, name: str):
        self._store = store
        self._commit = commit
        self.queue, self.payloads = due_keys(name)

    def schedule(self, item: str, due_ms: int, payload: dict, keep_earlier: bool = False):
        """Make ``item`` due at ``due_ms`` with ``payload`` (replacing both); with ``keep_earlier`` an item
        already due sooner keeps its time."""

        def write(node):
            with node.pipeline(transaction=True) as pipe:
                pipe.hset(self.payloads, item, orjson.dumps(payload))
                if keep_earlier:
                    pipe.zadd(self.queue, {item: due_ms}, lt=True)
                else:
                    pipe.zadd(self.queue, {item: due_ms})
                pipe.execute()

        self._store.on_slot(self.queue, write)

    def cancel(self, item: str):
        """Forget ``item`` (nothing happens if it is not queued)."""
        self._store.on_slot(self.queue, lambda node: self._remove(node, item))

    def _remove(self, node, item: str):
        with node.pipeline(transaction=True) as pipe:
            pipe.zrem(self.queue, item)
            pipe.hdel(self.payloads, item)
            pipe.execute()

    def claim(self, lease_ms: int, limit: int = 50) -> Tuple[int, List[Tuple[str, dict]]]:
        """Redis's clock (ms) and up to ``limit`` due items, each leased for ``lease_ms``."""
        reply = self._commit.run(CLAIM, (self.queue, self.payloads), (lease_ms, limit))
        now = int(reply[0])
        items = []
        for i in range(1, len(reply), 2):
            item = reply[i].decode() if isinstance(reply[i], bytes) else reply[i]
            items.append((item, orjson.loads(reply[i + 1]) if reply[i + 1] else {}))
        return now, items

    def finish(self, item: str, retry_at: Optional[int] = None):
        """Done with a claimed item: remove it, or make it due again at ``retry_at``."""
        if retry_at is None:
            self.cancel(item)
        else:
            self._store.on_slot(self.queue, lambda node: node.zadd(self.queue, {item: retry_at}))

    def depth(self) -> int:
        """How many items are queued (due or not)."""
        return int(self._store.on_slot(self.queue, lambda node: node.zcard(self.queue)))

    def due_at(self, item: str) -> Optional[int]:
        """When ``item`` comes due (ms), or None when it is not queued."""
        score = self._store.on_slot(self.queue, lambda node: node.zscore(self.queue, item))
        return None if score is None else int(score)


class DueRunner:
    """Claims and runs due items in this worker: a background thread (a greenlet under gevent)."""

    def __init__(self, queue: DueQueue, lease_ms: int = 30000, interval: float = 0.2, batch: int = 50):
        self.queue = queue
        self.lease_ms = lease_ms
        self.interval = interval
        #: Items claimed at once. They run one after another under one lease, so a batch must finish within
        #: it: with handlers that may take up to T (a delivery's timeout), ``batch * T`` must stay below the lease.
        self.batch = batch
        self.handlers: Dict[str, Handler] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def handle(self, kind: str, handler: Handler):
        """Run ``handler`` for items ``<kind>:...``."""
        self.handlers[kind] = handler

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cintel-due", daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()

    def run_once(self) -> int:
        """Claim and run what is due now; how many items were run."""
        now, items = self.queue.claim(self.lease_ms, self.batch)
        for item, payload in items:
            kind = item.partition(":")[0]
            handler = self.handlers.get(kind)
            if handler is None:
                logger.error("due item of unknown kind %r dropped", kind)
                self.queue.finish(item)
                continue
            try:
                retry_at = handler(item, payload, now)
            except Exception as exc:  # a failing handler must not stop the others; its item comes due again
                logger.error("due item %s failed (%s); it is tried again when its lease ends", kind, type(exc).__name__)
                continue
            self.queue.finish(item, retry_at)
        return len(items)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                while self.run_once():
                    pass
            except REDIS_ERRORS as exc:
                logger.warning("due queue unreachable (%s); trying again", type(exc).__name__)
            except Exception as exc:
                logger.error("due queue runner failed (%s); trying again", type(exc).__name__)
