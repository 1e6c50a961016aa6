"""The table of Conversation Intelligence operators the relay understands, keyed by operator id."""

import enum


class OperatorKind(str, enum.Enum):
    """What an operator's result means to the relay."""

    SCRIPT = "script"
    SENTIMENT = "sentiment"
    SUMMARY = "summary"


#: Twilio-authored operators. Operators are classified by id because the name is often absent.
DEFAULT_OPERATORS = {
    "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg": OperatorKind.SCRIPT,
    "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151": OperatorKind.SENTIMENT,
    "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn": OperatorKind.SUMMARY,
}
