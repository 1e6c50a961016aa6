"""What the relay sends to the customer's systems: signed JSON deliveries, queued in Redis and retried.

:mod:`.signing` is the one home of the ``X-Cintel-*`` headers; :mod:`.deliveries` queues a body per URL in the
due queue (:mod:`cintel_relay.bus.due`) and sends it until a 2xx, from whichever replica claims it. Call reports
use it (:mod:`cintel_relay.reports`); alert deliveries are meant to.
"""
