"""The operator catalog (CINTEL_OPERATORS_FILE): validation naming each mistake, and results made display-ready."""

import io
import json
import os
import subprocess

import pytest

from cintel_relay.catalog import load_catalog, parse_catalog
from cintel_relay.config import load_config
from cintel_relay.errors import ConfigError
from cintel_relay.script import load_script
from cintel_relay.setup import check

from .support import ROOT, SERVE, base_env, operator_result, result_events, rule_execution

EXAMPLE = os.path.join(ROOT, "cintel_relay", "data", "operators.example.json")
CHURN_ID = "intelligence_operator_01kg2vz0c1d2e3f4g5h6j7k8m9"
UNKNOWN_ID = "intelligence_operator_01kg2vz9c1d2e3f4g5h6j7k8m9"


def example(**changes) -> dict:
    with open(EXAMPLE, encoding="utf-8") as fh:
        data = json.load(fh)
    data.update(changes)
    return data


def test_the_example_catalog_is_valid_and_holds_the_blogs_upsell_operator_and_a_churn_classifier():
    catalog = load_catalog(EXAMPLE)
    assert [(e.key, e.name, e.output_format) for e in catalog.entries] == [
        ("upsell", "Upsell Opportunity", "JSON"),
        ("churn-risk", "Churn Risk", "CLASSIFICATION"),
    ]
    assert catalog.by_key("churn-risk").tone("high") == "critical"


def test_every_mistake_is_one_line_naming_its_entry():
    bad = example()
    bad["operators"] += [
        {"key": "Bad Key", "name": "x", "operatorId": "intelligence_operator_01kcrvw16kfa88qvgrfmr7y151"},
        {"key": "churn-risk", "name": "", "outputFormat": "SCORE", "operatorId": CHURN_ID},
        {"key": "orphan", "name": "Orphan", "definition": {"outputFormat": "JSON", "trigger": "SOMETIMES"}},
    ]
    with pytest.raises(ConfigError) as caught:
        parse_catalog(bad, "CINTEL_OPERATORS_FILE=ops.json")
    lines = str(caught.value).splitlines()
    assert all(line.startswith("CINTEL_OPERATORS_FILE=ops.json: operators[") for line in lines)
    assert any("operators[2] (Bad Key): key must be" in line for line in lines)
    assert any("operators[2] (Bad Key): operatorId" in line and "Twilio's Sentiment" in line for line in lines)
    assert any("operators[3] (churn-risk): key 'churn-risk' is used by an earlier entry" in line for line in lines)
    assert any("operators[3] (churn-risk): name missing" in line for line in lines)
    assert any("operators[3] (churn-risk): outputFormat 'SCORE' is not one of" in line for line in lines)
    assert any("operators[4] (orphan): definition.prompt: missing" in line for line in lines)
    assert any("operators[4] (orphan): definition.trigger: 'SOMETIMES'" in line for line in lines)
    assert any("operators[4] (orphan): outputSchema: must be a JSON Schema object" in line for line in lines)
    assert any("operators[2] (Bad Key): outputFormat None is not one of" in line for line in lines)
    assert len(lines) == 9


def test_a_bad_catalog_stops_serve_with_one_line_naming_the_entry(tmp_path):
    bad = example()
    bad["operators"][1]["tones"] = {"HIGH": "scarlet"}
    path = tmp_path / "operators.json"
    path.write_text(json.dumps(bad))
    env = base_env(CINTEL_OPERATORS_FILE=str(path), PORT="1")
    done = subprocess.run(SERVE, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"cintel-relay: CINTEL_OPERATORS_FILE={path}: operators[1] (churn-risk): tones must map labels to one of "
        "neutral, positive, warning, critical"
    ]


def test_an_unreadable_catalog_is_named(tmp_path):
    path = tmp_path / "operators.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"CINTEL_OPERATORS_FILE=.*cannot be read as JSON"):
        load_config(base_env(CINTEL_OPERATORS_FILE=str(path)))


# --- results made display-ready ---------------------------------------------------------------------


def catalog_with_ids():
    data = example()
    data["operators"][0]["operatorId"] = "intelligence_operator_01kg2vy0c1d2e3f4g5h6j7k8m9"
    data["operators"][1]["operatorId"] = CHURN_ID
    return parse_catalog(data)


def insight_of(result, catalog=None):
    frames = [
        e.frame for e in result_events(rule_execution([result]), {}, load_script(), catalog or catalog_with_ids())
    ]
    assert [f["type"] for f in frames] == ["operator-result", "insight"]
    return frames[1]["data"]


def test_a_json_result_follows_the_schema_titles_enums_as_labels_and_nested_objects_flattened():
    result = {
        "pitch": "Would you like full-value protection for the piano?",
        "opportunity": True,
        "likelihood": "HIGH",
        "evidence": {"quote": "Do you insure pianos?", "reason": "asked about insurance"},
        "extra_note": 3,
    }
    data = insight_of(operator_result("r1", "intelligence_operator_01kg2vy0c1d2e3f4g5h6j7k8m9", result))
    assert (data["operatorName"], data["catalogKey"], data["kind"], data["raw"]) == (
        "Upsell Opportunity",
        "upsell",
        "JSON",
        result,
    )
    shown = [(f["key"], f["label"], f["value"], f["style"], f["tone"]) for f in data["fields"]]
    assert shown == [
        ("opportunity", "Opportunity", "Yes", "value", "neutral"),
        ("likelihood", "Likelihood", "HIGH", "label", "positive"),
        ("pitch", "Suggested line", "Would you like full-value protection for the piano?", "value", "neutral"),
        ("evidence.quote", "Evidence › Customer said", "Do you insure pianos?", "value", "neutral"),
        ("evidence.reason", "Evidence › Why", "asked about insurance", "value", "neutral"),
        ("extra_note", "Extra note", "3", "value", "neutral"),
    ]
    assert data["fields"][1]["description"] == "How likely the customer is to accept."


def test_a_classification_is_a_label_with_its_tone_and_extraction_entity_chips():
    churn = insight_of(operator_result("r2", CHURN_ID, {"label": "HIGH"}, output_format="CLASSIFICATION"))
    assert [(f["style"], f["value"], f["tone"]) for f in churn["fields"]] == [("label", "HIGH", "critical")]
    entities = {"entities": [{"text": "Austin", "label": "CITY"}, {"text": "March 3", "label": "DATE"}]}
    found = insight_of(operator_result("r3", UNKNOWN_ID, entities, output_format="EXTRACTION"))
    assert [(f["style"], f["label"], f["value"]) for f in found["fields"]] == [
        ("entity", "CITY", "Austin"),
        ("entity", "DATE", "March 3"),
    ]


def test_an_unknown_operator_is_titled_by_its_id_and_never_dropped():
    data = insight_of(operator_result("r4", UNKNOWN_ID, {"text": "Customer mentioned a competitor."}, "TEXT"))
    assert (data["operatorName"], data["catalogKey"]) == (UNKNOWN_ID, None)
    assert [(f["style"], f["value"]) for f in data["fields"]] == [("text", "Customer mentioned a competitor.")]
    odd = insight_of(operator_result("r5", UNKNOWN_ID, "just a string", "JSON"))
    assert [(f["label"], f["value"]) for f in odd["fields"]] == [("Note", "just a string")]


def test_an_operator_setup_created_is_matched_by_the_name_the_webhook_gives_it():
    result = operator_result("r6", UNKNOWN_ID, {"label": "low"}, output_format="CLASSIFICATION")
    result["operator"]["displayName"] = "Churn Risk"
    data = insight_of(result, load_catalog(EXAMPLE))
    assert (data["catalogKey"], data["fields"][0]["tone"]) == ("churn-risk", "positive")


def test_check_names_each_mistake_of_a_bad_catalog(tmp_path):
    bad = example(alerts=[{"name": "x", "when": {"label": {"operator": "nope", "in": ["HIGH"]}}}])
    bad["operators"][0]["definition"]["outputFormat"] = "TABLE"
    path = tmp_path / "operators.json"
    path.write_text(json.dumps(bad))
    out = io.StringIO()
    assert check.run(base_env(CINTEL_OPERATORS_FILE=str(path)), out) == 1
    text = out.getvalue()
    assert "operators[0] (upsell): definition.outputFormat 'TABLE' is not one of" in text
    assert text.startswith("FAIL  the configuration does not load: ")
