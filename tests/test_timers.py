"""The hot paths' timeouts (cintel_relay.server.timers) interrupt a gevent wait as gevent.Timeout does."""

import gevent
import pytest

from cintel_relay.server.timers import Deadline, Expired


def test_a_quiet_deadline_ends_the_wait_silently_and_says_so():
    deadline = Deadline(0.05, quiet=True)
    with deadline:
        gevent.sleep(5)
    assert deadline.expired


def test_a_deadline_interrupts_with_expired_for_the_caller_to_answer():
    deadline = Deadline(0.05)
    with pytest.raises(Expired):
        with deadline:
            gevent.sleep(5)
    assert deadline.expired


def test_a_block_done_in_time_is_untouched_and_its_own_errors_pass_through():
    deadline = Deadline(5, quiet=True)
    with deadline:
        gevent.sleep(0)
    assert not deadline.expired
    with pytest.raises(ValueError):
        with Deadline(5, quiet=True):
            raise ValueError("the block's own")
    gevent.sleep(0.1)  # nothing fires later into this greenlet
