"""The WSGI entry point gunicorn loads: ``cintel_relay.wsgi:app``."""

from . import create_app
from .logs import setup_logging

setup_logging()
app = create_app()
