"""``python -m cintel_relay``: the same as the ``cintel-relay`` command (Heroku runs it so, from the source tree)."""

from .cli import main

main()
