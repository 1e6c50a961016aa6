"""cintel-relay: Twilio Conversation Intelligence results, live, to the Flex agent desktop."""

#: The release; setup.cfg reads it from here (Heroku runs the source tree, where no package metadata exists).
__version__ = "0.1.0"


def create_app(config=None):
    """Build the relay app (:func:`cintel_relay.app.create_app`).

    Imported on call: gunicorn's master loads this package for its settings and logger, which bring
    in Flask and werkzeug only; Redis and requests must wait until the gevent worker has patched the
    standard library (tests/test_settings.py checks what the master imports).
    """
    from .app import create_app as build

    return build(config)
