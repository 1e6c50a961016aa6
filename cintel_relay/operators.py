"""The table of Conversation Intelligence operators the relay understands: id -> kind and display name."""

import enum
from typing import NamedTuple


class OperatorKind(str, enum.Enum):
    """What an operator's result means to the relay; the values are the kinds ``CINTEL_OPERATOR_IDS`` accepts."""

    SCRIPT = "script"
    SENTIMENT = "sentiment"
    SUMMARY = "summary"
    SUGGESTION = "suggestion"


class Operator(NamedTuple):
    """A Twilio-authored operator: what its results mean, and the name Twilio gives it."""

    kind: OperatorKind
    name: str


#: Twilio-authored operators (Twilio's "Use Twilio-authored language operators" page). Operators are
#: classified by id because the webhook usually carries no name.
TWILIO_OPERATORS = {
    "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg": Operator(OperatorKind.SCRIPT, "Script Adherence"),
    "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151": Operator(OperatorKind.SENTIMENT, "Sentiment"),
    "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn": Operator(OperatorKind.SUMMARY, "Summary"),
    "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4": Operator(OperatorKind.SUGGESTION, "Next Best Response"),
}

#: The kind of each Twilio-authored operator; configuration adds more ids to a copy of it.
DEFAULT_OPERATORS = {operator_id: operator.kind for operator_id, operator in TWILIO_OPERATORS.items()}

UNKNOWN_OPERATOR = "Unknown Operator"


def operator_name(operator: dict) -> str:
    """The name to show for an operator reference: the one Twilio sent (``displayName``, ``friendlyName``
    or ``name``), else a Twilio-authored operator's own name, else "Unknown Operator"."""
    for field in ("displayName", "friendlyName", "name"):
        value = operator.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    known = TWILIO_OPERATORS.get(operator.get("id", ""))  # no operator has the id ""
    return known.name if known else UNKNOWN_OPERATOR
