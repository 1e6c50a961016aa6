import json
import re

import pytest

from cintel_relay.errors import ConfigError
from cintel_relay.script import MET, MISSED, PENDING, canonical, evaluate, load_script


def test_default_script_is_the_moving_company_script():
    script = load_script()
    assert [(c.label, c.weight) for c in script.categories] == [
        ("Greeting", 10),
        ("Verification", 20),
        ("Move Details", 40),
        ("Confirmation", 30),
    ]


def test_keys_match_tolerantly():
    script = load_script()
    for raw in ("Move Details", "move-details", "MOVE_DETAILS", " move  details. "):
        assert script.find(raw).key == "move-details"
    assert script.find("Upsell") is None
    assert canonical("Greeting!") == canonical("greeting")


def test_evaluate_statuses():
    result = {
        "categories": [
            {"category_key": "Greeting", "criteria": [{"criteria_met": "Succeeded"}]},
            {"category_key": "verification", "criteria": [{"criteria_met": "Failed"}]},
            {"category_key": "Move Details", "criteria": [{"criteria_met": "NotEvaluated"}]},
            {"category_key": "Unknown step", "criteria": [{"criteria_met": "Succeeded"}]},
        ],
        "explanation": "Greeted, not verified.",
    }
    state = evaluate(load_script(), result)
    assert [c["status"] for c in state["categories"]] == [MET, MISSED, PENDING, PENDING]
    assert state["explanation"] == "Greeted, not verified."


# Twilio's reference parser (parse_script_adherence in its CI quickstart; facts F12): only Succeeded and
# Failed are verdicts; a category is completed when every evaluated criterion succeeded, skipped when one
# failed. Case is folded, as Twilio's labels come in any case elsewhere (F6).
@pytest.mark.parametrize(
    "verdicts, status",
    [
        (["Succeeded"], MET),
        (["Succeeded", "NotEvaluated"], MET),
        (["NotEvaluated", "succeeded", "SUCCEEDED"], MET),
        (["Succeeded", "Failed"], MISSED),
        (["NotEvaluated", "FAILED"], MISSED),
        (["NotEvaluated"], PENDING),
        (["NotEvaluated", "Unknown", ""], PENDING),
        ([], PENDING),
    ],
)
def test_only_evaluated_criteria_count(verdicts, status):
    result = {
        "categories": [
            {
                "category_key": "greeting",
                "criteria": [{"criteria_key": f"c{n}", "criteria_met": v} for n, v in enumerate(verdicts)],
            }
        ]
    }
    assert evaluate(load_script(), result)["categories"][0]["status"] == status


def test_evaluate_rejects_what_is_not_a_script_result():
    script = load_script()
    assert evaluate(script, None) is None
    assert evaluate(script, {"label": "positive"}) is None
    assert evaluate(script, {"categories": "all"}) is None


def test_custom_script_file(tmp_path):
    path = tmp_path / "script.json"
    path.write_text(
        json.dumps(
            {
                "name": "Billing",
                "categories": [{"key": "greet", "label": "Greet", "weight": 1}, {"key": "close", "weight": 3}],
            }
        )
    )
    script = load_script(str(path))
    assert script.name == "Billing" and script.categories[1].label == "close"


@pytest.mark.parametrize(
    "data",
    [
        {"categories": []},
        {"categories": [{"key": "a"}]},
        {"categories": [{"key": "a", "weight": "heavy"}]},
        {"categories": [{"key": "A b", "weight": 1}, {"key": "a-b", "weight": 1}]},
    ],
)
def test_invalid_script_files_are_refused(tmp_path, data):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="script"):
        load_script(str(path))


def test_deadlines_and_the_late_credit_are_read_from_the_script(tmp_path):
    assert load_script().find("verification").withinSeconds == 50
    assert load_script().lateCredit == 1.0 and load_script().find("greeting").withinSeconds is None
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"lateCredit": 0, "categories": [{"key": "a", "weight": 1, "withinSeconds": 7.5}]}))
    script = load_script(str(path))
    assert (script.lateCredit, script.categories[0].withinSeconds) == (0.0, 7.5)
    assert script.to_dict()["categories"][0]["withinSeconds"] == 7.5


@pytest.mark.parametrize(
    "data, says",
    [
        ({"categories": [{"key": "a", "weight": 1, "withinSeconds": 0}]}, "withinSeconds=0; give a positive number"),
        ({"categories": [{"key": "a", "weight": 1, "withinSeconds": "50"}]}, "withinSeconds='50'"),
        ({"categories": [{"key": "a", "weight": 1, "withinSeconds": True}]}, "withinSeconds=True"),
        ({"lateCredit": 1.5, "categories": [{"key": "a", "weight": 1}]}, "lateCredit=1.5; give a number from 0"),
        ({"lateCredit": "half", "categories": [{"key": "a", "weight": 1}]}, "lateCredit='half'"),
    ],
)
def test_bad_deadlines_and_late_credits_are_refused_by_name(tmp_path, data, says):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_script(str(path))
