"""The due queue: work that comes due later, claimed by one replica at a time, never lost to a dead one."""

import threading

import pytest

from cintel_relay.bus.due import DueQueue, DueRunner
from cintel_relay.bus.group_commit import GroupCommit
from cintel_relay.bus.store import Store


@pytest.fixture
def store(redis_client):
    return Store(redis_client, redis_client.pubsub)


def queue(store, name="test"):
    return DueQueue(store, GroupCommit(store), name)


def redis_now(redis_client):
    seconds, micros = redis_client.time()
    return seconds * 1000 + micros // 1000


def test_an_item_is_claimed_only_once_it_is_due(store, redis_client):
    q = queue(store)
    now = redis_now(redis_client)
    q.schedule("deadline:a", now - 1, {"n": 1})
    q.schedule("deadline:b", now + 60_000, {"n": 2})
    claimed_at, items = q.claim(lease_ms=10_000)
    assert items == [("deadline:a", {"n": 1})] and claimed_at >= now
    assert q.claim(lease_ms=10_000)[1] == []  # leased: nobody else gets it meanwhile
    assert q.depth() == 2


def test_a_claim_whose_claimer_died_comes_due_again_when_its_lease_ends(store, redis_client):
    q = queue(store)
    q.schedule("deadline:a", redis_now(redis_client) - 1, {"n": 1})
    assert q.claim(lease_ms=1)[1] == [("deadline:a", {"n": 1})]
    start = redis_now(redis_client)
    while redis_now(redis_client) <= start + 1:  # the lease (1 ms) runs out; the claimer never finished
        pass
    assert q.claim(lease_ms=10_000)[1] == [("deadline:a", {"n": 1})]


def test_concurrent_claimers_never_share_an_item(store, redis_client):
    q = queue(store)
    now = redis_now(redis_client)
    for n in range(200):
        q.schedule(f"deadline:{n}", now - 1, {"n": n})
    got, lock = [], threading.Lock()

    def claimer():
        mine = queue(store)
        while True:
            items = mine.claim(lease_ms=60_000, limit=7)[1]
            if not items:
                return
            with lock:
                got.extend(item for item, _ in items)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(f"deadline:{n}" for n in range(200))


def test_the_runner_finishes_retries_and_survives_a_failing_handler(store, redis_client):
    q = queue(store)
    runner = DueRunner(q, lease_ms=60_000)
    seen = []

    def finish(item, payload, now):
        seen.append(("finish", item, payload["n"]))

    def retry_later(item, payload, now):
        seen.append(("retry", item, payload["n"]))
        return now + 60_000

    def broken(item, payload, now):
        raise RuntimeError("a bug")

    runner.handle("finish", finish)
    runner.handle("retry", retry_later)
    runner.handle("broken", broken)
    now = redis_now(redis_client)
    for kind in ("finish", "retry", "broken"):
        q.schedule(f"{kind}:x", now - 1, {"n": 1})
    assert runner.run_once() == 3
    assert sorted(seen) == [("finish", "finish:x", 1), ("retry", "retry:x", 1)]
    assert q.due_at("finish:x") is None  # done: removed
    assert q.due_at("retry:x") >= now + 60_000  # tried again later
    assert q.due_at("broken:x") >= now + 60_000  # its lease: it comes due again, for any replica


def test_schedule_keep_earlier_and_cancel(store, redis_client):
    q = queue(store)
    q.schedule("report:CA1", 5_000, {"v": 1})
    q.schedule("report:CA1", 9_000, {"v": 2}, keep_earlier=True)
    assert q.due_at("report:CA1") == 5_000
    q.schedule("report:CA1", 9_000, {"v": 3})
    assert q.due_at("report:CA1") == 9_000
    q.cancel("report:CA1")
    assert q.due_at("report:CA1") is None and q.depth() == 0


def test_the_runner_claims_at_most_its_batch(store, redis_client):
    q = queue(store)
    runner = DueRunner(q, lease_ms=60_000, batch=2)
    runner.handle("finish", lambda item, payload, now: None)
    now = redis_now(redis_client)
    for n in range(5):
        q.schedule(f"finish:{n}", now - 1, {"n": n})
    assert [runner.run_once() for _ in range(4)] == [2, 2, 1, 0]
