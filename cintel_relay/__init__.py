"""cintel-relay: Twilio Conversation Intelligence results, live, to the Flex agent desktop."""


def create_app(config=None):
    """Build the relay app (:func:`cintel_relay.app.create_app`).

    Imported on call, so that gunicorn's master, which loads this package for its settings and
    logger, does not import Redis and Flask before the gevent worker has patched the standard library.
    """
    from .app import create_app as build

    return build(config)
