"""The ids Twilio assigned to the operators ``cintel-relay setup`` created, learned by name when the relay starts.

A catalog entry with a ``definition`` and no ``operatorId`` names an operator setup creates; Twilio assigns its id
(:mod:`cintel_relay.setup.plan`). A result's webhook names the operator by that id and often by nothing else, so
each worker, as it starts, lists the account's operators once (``GET /v3/ControlPlane/Operators``) and gives each
such entry the id of the operator setup created for it (:func:`~cintel_relay.setup.plan.created_by_setup`: the
entry's name and setup's marker). Nothing else is asked: a catalog whose entries all have ids, or none with a
definition, costs no request. When Twilio cannot be asked (no credentials, network, refusal) the relay starts
anyway and recognizes those operators by the name a webhook gives, if any; it says so once, with the fix.
"""

import dataclasses
import logging

from .control_plane import ControlPlane, ControlPlaneError, credentials
from .plan import created_by_setup

logger = logging.getLogger(__name__)


def learn_operator_ids(config):
    """``config`` with each catalog entry that lacks an ``operatorId`` given the id of the operator setup created
    for it, when Twilio has one; ``config`` itself when there is nothing to learn or Twilio cannot be asked."""
    unknown = [entry for entry in config.catalog.entries if entry.operator_id is None]
    if not unknown:
        return config
    keys = ", ".join(entry.key for entry in unknown)
    fallback = "their results are recognized only when the webhook names the operator"
    if credentials(config) is None:
        logger.warning(
            "catalog operators %s have no operatorId and there are no Twilio credentials to learn them with: %s; "
            "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or give each its operatorId",
            keys,
            fallback,
        )
        return config
    try:
        control = ControlPlane(config, progress=lambda line: None, timeout=config.auth_timeout)
        operators = list(control.operators())
    except ControlPlaneError as exc:
        logger.warning("catalog operators %s: their ids could not be learned from Twilio (%s); %s", keys, exc, fallback)
        return config
    ids = {}
    for entry in unknown:
        found = created_by_setup(operators, entry)
        if found and isinstance(found.get("id"), str):
            ids[entry.key] = found["id"]
    missing = [entry.key for entry in unknown if entry.key not in ids]
    if missing:
        logger.warning(
            "catalog operators %s are not in Twilio: run cintel-relay setup --yes, then restart the relay",
            ", ".join(missing),
        )
    if ids:
        logger.info(
            "catalog operator ids learned from Twilio: %s", ", ".join(f"{k}={v}" for k, v in sorted(ids.items()))
        )
    return dataclasses.replace(config, catalog=config.catalog.with_ids(ids))
