"""The group commit against a real redis-server: concurrent callers each get their own reply, and a caller
interrupted while it leads a batch leaves no one else waiting."""

import hashlib
import threading
import time
from types import SimpleNamespace

import pytest

from cintel_relay.bus.group_commit import GroupCommit, ReplicasBehind
from cintel_relay.bus.store import Store

TEXT = "return {KEYS[1], ARGV[1]}"
ECHO = SimpleNamespace(name="echo.lua", text=TEXT, sha=hashlib.sha1(TEXT.encode()).hexdigest())


class Interrupted(BaseException):
    """What a greenlet killed in the middle of a call sees (GreenletExit, gevent.Timeout): not an Exception."""


class GatedStore(Store):
    """A store whose node lookup for the key ``interrupt`` waits for ``gate``, then raises :class:`Interrupted`."""

    def __init__(self, client):
        super().__init__(client, None)
        self.gate = threading.Event()

    def node_for(self, key):
        if key == "interrupt":
            self.gate.wait(10)
            raise Interrupted()
        return super().node_for(key)


def run_all(commit, count, prefix):
    replies, errors = {}, []

    def call(i):
        try:
            replies[i] = commit.run(ECHO, [f"{prefix}{i}"], [str(i)])
        except Exception as exc:  # reported by the test's assertion
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads, replies, errors


def test_concurrent_callers_each_get_their_own_reply(redis_client):
    commit = GroupCommit(Store(redis_client, None))
    for round_ in range(5):
        threads, replies, errors = run_all(commit, 16, f"r{round_}-")
        for thread in threads:
            thread.join(10)
        assert not errors and replies == {i: [f"r{round_}-{i}".encode(), str(i).encode()] for i in range(16)}


def test_a_leader_interrupted_mid_batch_hands_the_lead_on(redis_client):
    store = GatedStore(redis_client)
    commit = GroupCommit(store)
    outcome = []

    def leader():
        try:
            commit.run(ECHO, ["interrupt"], ["x"])
        except Interrupted:
            outcome.append("interrupted")

    first = threading.Thread(target=leader)
    first.start()
    time.sleep(0.1)  # it leads, stuck in its batch
    threads, replies, errors = run_all(commit, 8, "k")
    time.sleep(0.3)  # they queue behind it and wait
    store.gate.set()
    for t in [first, *threads]:
        t.join(10)
        assert not t.is_alive(), "a caller is still waiting for its reply"
    assert outcome == ["interrupted"]
    assert not errors and replies == {i: [f"k{i}".encode(), str(i).encode()] for i in range(8)}


@pytest.mark.parametrize("count", [1, 300])
def test_more_calls_than_one_batch_holds(redis_client, count):
    commit = GroupCommit(Store(redis_client, None), max_batch=64)
    calls = [commit.submit(ECHO, [f"b{i}"], [str(i)]) for i in range(count)]
    assert [commit.result(c)[1] for c in calls] == [str(i).encode() for i in range(count)]


def test_only_durable_calls_wait_for_replicas(redis_client):
    """With CINTEL_REDIS_WAIT_REPLICAS and no replica answering, a write is refused (the webhook gets 503 and
    Twilio retries) while a stream's read or an open count, in the same batch or alone, is answered."""
    commit = GroupCommit(Store(redis_client, None), wait_replicas=1, wait_timeout_ms=50)
    write = commit.submit(ECHO, ["write"], ["1"])
    read = commit.submit(ECHO, ["read"], ["2"], durable=False)
    with pytest.raises(ReplicasBehind):
        commit.result(write)
    assert commit.result(read) == [b"read", b"2"]
    assert commit.run(ECHO, ["alone"], ["3"], durable=False) == [b"alone", b"3"]
