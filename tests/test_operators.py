"""The operator table: which operator ids the relay understands, and the name each one is shown under."""

import pytest

from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError
from cintel_relay.operators import DEFAULT_OPERATORS, TWILIO_OPERATORS, OperatorKind, operator_name

NBR_OPERATOR = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"


def test_twilio_authored_operators_by_id_with_their_own_names():
    # Ids and names from Twilio's "Use Twilio-authored language operators" page (facts F11).
    assert {operator_id: (op.kind, op.name) for operator_id, op in TWILIO_OPERATORS.items()} == {
        "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg": (OperatorKind.SCRIPT, "Script Adherence"),
        "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151": (OperatorKind.SENTIMENT, "Sentiment"),
        "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn": (OperatorKind.SUMMARY, "Summary"),
        NBR_OPERATOR: (OperatorKind.SUGGESTION, "Next Best Response"),
    }
    assert DEFAULT_OPERATORS == {operator_id: op.kind for operator_id, op in TWILIO_OPERATORS.items()}


@pytest.mark.parametrize(
    "operator, name",
    [
        ({"id": NBR_OPERATOR, "displayName": "NBR v2", "friendlyName": "f", "name": "n"}, "NBR v2"),
        ({"id": NBR_OPERATOR, "displayName": None, "friendlyName": "Friendly", "name": "n"}, "Friendly"),
        ({"id": NBR_OPERATOR, "displayName": "  ", "name": "Named"}, "Named"),  # TAC-TS's webhook schema (F5)
        ({"id": NBR_OPERATOR}, "Next Best Response"),
        ({"id": "intelligence_operator_01kcv35pnkeysaf6z6cqtbpegn", "name": ""}, "Summary"),
        ({"id": "intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg"}, "Script Adherence"),
        ({"id": "intelligence_operator_custom"}, "Unknown Operator"),
    ],
)
def test_the_name_twilio_sent_wins_then_the_tables_then_unknown(operator, name):
    assert operator_name(operator) == name


def test_more_suggestion_operators_can_be_configured():
    config = load_config(
        {"TWILIO_AUTH_TOKEN": "t", "CINTEL_OPERATOR_IDS": "suggestion=intelligence_operator_custom_nbr"}
    )
    assert config.operators["intelligence_operator_custom_nbr"] is OperatorKind.SUGGESTION
    assert config.operators[NBR_OPERATOR] is OperatorKind.SUGGESTION
    with pytest.raises(ConfigError, match="use one of script, sentiment, summary, suggestion"):
        load_config({"TWILIO_AUTH_TOKEN": "t", "CINTEL_OPERATOR_IDS": "advice=intelligence_operator_x"})
