"""Relays in ``flex`` stream-auth mode for tests: a real gunicorn asking the fake Twilio, signed for its own URL."""

from .support import Relay, flex_env


def start_flex_relay(redis_url: str, twilio_url: str, **extra) -> Relay:
    """Start a relay in ``flex`` mode whose ``SERVER_URL`` is its own URL, the one tests sign webhooks for."""
    relay = Relay(redis_url, **flex_env(twilio_url, **extra))
    relay.env["SERVER_URL"] = relay.url
    return relay.start()
