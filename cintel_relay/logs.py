"""Logging set-up: level from ``CINTEL_LOG_LEVEL``, one line per record."""

import logging
import os


def setup_logging(level=None):
    """Configure the root logger once; gunicorn keeps its own access and error logs."""
    level = (level or os.environ.get("CINTEL_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
