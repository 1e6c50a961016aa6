# gunicorn reads this file from the working directory; the settings live in the package.
from cintel_relay.gunicorn_conf import *  # noqa: F403
