"""The WSGI entry point gunicorn loads: ``cintel_relay.wsgi:app``."""

from . import create_app
from .config import load_config
from .logs import setup_logging

config = load_config()
setup_logging(config.log_level)
app = create_app(config)
