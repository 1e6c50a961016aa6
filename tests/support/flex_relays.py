"""Relays in ``flex`` stream-auth mode for tests: a real gunicorn asking the fake Twilio, signed for its own URL."""

from contextlib import contextmanager

from . import RedisServer, Relay, flex_env


def flex_mode_relay(redis_url: str, twilio_url: str, **extra) -> Relay:
    """A relay (not started yet) in ``flex`` mode whose ``SERVER_URL`` is its own URL, the one tests sign webhooks
    for."""
    relay = Relay(redis_url, **flex_env(twilio_url, **extra))
    relay.env["SERVER_URL"] = relay.url
    return relay


def start_flex_relay(redis_url: str, twilio_url: str, **extra) -> Relay:
    """Start a :func:`flex_mode_relay`."""
    return flex_mode_relay(redis_url, twilio_url, **extra).start()


@contextmanager
def flex_relay_of_its_own(twilio_url: str, **extra):
    """A relay as :func:`start_flex_relay` starts it, on a redis-server of its own; both stop on exit."""
    redis = RedisServer().start()
    try:
        relay = start_flex_relay(redis.url, twilio_url, **extra)
        try:
            yield relay
        finally:
            relay.stop()
    finally:
        redis.stop()
