"""Timeouts on the hot paths, on gevent's loop timers: a ``gevent.Timeout`` is an exception object with a timer, built
anew for every wait (~7 us of CPU), and the relay waits with one several times a webhook: for the request head, for
its body, and in every stream on every replica each time an event wakes it. A loop timer costs ~0.5 us.

:class:`Deadline` interrupts a block as ``gevent.Timeout`` does (it throws into the waiting greenlet); :func:`wait`
waits for an event with a timeout. Both are for gevent's workers (gunicorn's, the relay's); :func:`wait` falls back to
the event's own wait where threading is not gevent's (the tests' real threads).
"""

from typing import Optional

from gevent import get_hub, getcurrent, monkey


class Expired(BaseException):
    """Thrown into a greenlet whose :class:`Deadline` passed. A BaseException, as ``gevent.Timeout`` is, so that no
    ``except Exception`` on the way takes it for an error of its own."""


class Deadline:
    """``with Deadline(seconds):`` interrupts the block after ``seconds`` with :class:`Expired`; ``expired`` then says
    it was this deadline. With ``quiet`` the block's :class:`Expired` ends the ``with`` silently (``gevent.Timeout(
    seconds, False)``), else it propagates for the caller to answer."""

    __slots__ = ("_timer", "expired", "quiet", "seconds")

    def __init__(self, seconds: float, quiet: bool = False):
        self.seconds, self.quiet, self.expired = seconds, quiet, False

    def __enter__(self):
        self.expired = False
        self._timer = get_hub().loop.timer(self.seconds)
        self._timer.start(self._expire, getcurrent())
        return self

    def _expire(self, greenlet):
        self.expired = True
        greenlet.throw(Expired())

    def __exit__(self, typ, value, tb):
        self._timer.close()
        self._timer = None
        return self.quiet and self.expired and typ is Expired


def wait(event, timeout: Optional[float]) -> bool:
    """``event.wait(timeout)``: True when it was set, False when the timeout passed first."""
    if event.is_set() or timeout is None or not monkey.is_module_patched("threading"):
        return event.wait(timeout)
    timer = get_hub().loop.timer(max(timeout, 0.0))
    timer.start(event.set)
    try:
        event.wait()
        # Still active: the event was set by someone else before the timer fired.
        return bool(timer.active)
    finally:
        timer.close()
