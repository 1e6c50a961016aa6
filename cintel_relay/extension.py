"""The app's state: the relay's :class:`cintel_relay.app.Components` (metrics and stream access included),
under one extension key, read with :func:`relay`."""

from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app

if TYPE_CHECKING:
    from .app import Components

#: The key of ``app.extensions`` that holds the relay's components.
KEY = "cintel"


def relay(app: Optional[Flask] = None) -> "Components":
    """The relay's components of ``app``; of the current app when none is named."""
    return (current_app if app is None else app).extensions[KEY]
