"""The WSGI entry point gunicorn loads: ``cintel_relay.wsgi:app``."""

from . import create_app
from .config import load_config
from .logs import setup_logging
from .setup.operator_ids import learn_operator_ids

config = load_config()
setup_logging(config.log_level)
app = create_app(learn_operator_ids(config))
