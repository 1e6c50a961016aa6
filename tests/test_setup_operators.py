"""``cintel-relay setup`` and ``check`` with an operator catalog: custom operators created in Intelligence v3 from
their definitions, run in a rule per trigger, updated in place, deleted with ``--delete``; drift reported. Against
the fake control plane, which refuses what the OpenAPI spec refuses (and a rule naming an operator it lacks)."""

import json

import orjson
import requests

from cintel_relay.bus.keys import log_key
from cintel_relay.config import load_config
from cintel_relay.setup import check
from cintel_relay.setup.plan import MARKER

from .support import CALL_SID, base_env, communication, operator_result, post_json, rule_execution
from .support.fakes.twilio_control import relay_env, run_setup
from .test_catalog import EXAMPLE, example
from .test_check import twilio_findings

WEBHOOK = "https://relay.example.com/webhook/cintel-action"


def with_catalog(fake, path=EXAMPLE, **extra):
    return relay_env(fake, CINTEL_OPERATORS_FILE=str(path), **extra)


def custom(fake) -> dict:
    return {o["displayName"]: o for o in fake.operators.values() if o["author"] == "SELF"}


def applied(env, *args):
    done = run_setup(env, "--yes", *args)
    assert done.returncode == 0, done.stderr
    return done


def test_setup_creates_the_catalogs_operators_and_runs_them_in_a_rule(fake):
    plan = run_setup(with_catalog(fake))
    assert plan.returncode == 0, plan.stderr
    assert "Conversation Intelligence operator 'Upsell Opportunity': create" in plan.stdout
    assert "+ output format: CLASSIFICATION" in plan.stdout and "+ prompt | Classify how likely" in plan.stdout
    assert "Plan: 4 to create, 0 to update, 0 up to date." in plan.stdout and fake.writes == []

    applied(with_catalog(fake))
    made = custom(fake)
    assert set(made) == {"Upsell Opportunity", "Churn Risk"}
    upsell = made["Upsell Opportunity"]
    assert (
        upsell["outputFormat"] == "JSON" and upsell["outputSchema"]["properties"]["likelihood"]["title"] == "Likelihood"
    )
    assert MARKER in upsell["description"] and upsell["prompt"].startswith("You review a moving company's")
    (intel,) = fake.intelligence.values()
    rule = intel["rules"][2]
    assert rule["operators"] == [{"id": upsell["id"]}, {"id": made["Churn Risk"]["id"]}]  # ids Twilio assigned
    assert rule["triggers"] == [{"on": "COMMUNICATION", "parameters": {"count": 1}}]
    assert rule["actions"] == [{"type": "WEBHOOK", "method": "POST", "url": WEBHOOK}]
    again = applied(with_catalog(fake))
    assert "Everything is up to date: nothing to do." in again.stdout
    assert [w["method"] for w in fake.writes].count("POST") == 4  # two operators, two configurations, once


def test_a_changed_definition_updates_the_operator_in_place(fake, tmp_path):
    applied(with_catalog(fake))
    before = custom(fake)["Churn Risk"]
    data = example()
    data["operators"][1]["definition"]["prompt"] = "Classify the churn risk: HIGH, MEDIUM or LOW."
    path = tmp_path / "operators.json"
    path.write_text(json.dumps(data))
    writes = len(fake.writes)
    plan = run_setup(with_catalog(fake, path))
    assert f"Conversation Intelligence operator 'Churn Risk' ({before['id']}): update" in plan.stdout
    assert "+ prompt | Classify the churn risk: HIGH, MEDIUM or LOW." in plan.stdout
    applied(with_catalog(fake, path))
    after = custom(fake)["Churn Risk"]
    assert (after["id"], after["version"]) == (before["id"], before["version"] + 1)
    assert [(w["method"], w["path"]) for w in fake.writes[writes:]] == [
        ("PUT", f"/v3/ControlPlane/Operators/{before['id']}")
    ]


def test_delete_removes_the_configurations_then_the_operators_it_created_and_nothing_else(fake):
    applied(with_catalog(fake))
    foreign = fake.add_operator({"displayName": "Competitor Mention", "prompt": "p", "outputFormat": "TEXT"})
    plan = run_setup(with_catalog(fake), "--delete")
    assert "Plan: 4 to delete." in plan.stdout
    writes = len(fake.writes)
    applied(with_catalog(fake), "--delete")
    assert fake.intelligence == {} and fake.orchestrator == {} and custom(fake) == {"Competitor Mention": foreign}
    assert [(w["api"], w["method"]) for w in fake.writes[writes:]] == [
        ("conversations", "DELETE"),
        ("intelligence", "DELETE"),
        ("intelligence", "DELETE"),
        ("intelligence", "DELETE"),
    ]


def test_an_operator_of_that_name_it_did_not_create_is_left_alone(fake):
    fake.add_operator({"displayName": "Churn Risk", "prompt": "someone else's", "outputFormat": "CLASSIFICATION"})
    refused = run_setup(with_catalog(fake), "--yes")
    assert refused.returncode == 1 and fake.writes == []
    assert "a Conversation Intelligence operator named 'Churn Risk' already exists" in refused.stderr


def test_check_reports_operator_drift_and_setup_repairs_it(fake):
    applied(with_catalog(fake))
    assert all(f.ok for f in twilio_findings(with_catalog(fake)))
    custom(fake)["Upsell Opportunity"]["prompt"] = "Edited in Console."
    problems = [f for f in twilio_findings(with_catalog(fake)) if not f.ok]
    assert [p.what for p in problems] == [
        f"operator 'Upsell Opportunity' ({custom(fake)['Upsell Opportunity']['id']}) differs from the catalog in prompt"
    ]
    assert "cintel-relay setup --yes" in problems[0].fix
    applied(with_catalog(fake))
    assert all(f.ok for f in twilio_findings(with_catalog(fake)))


def relay_with_catalog(start_relay, fake):
    """A real relay on the session's Redis whose Twilio is ``fake`` and whose catalog names no operator ids."""
    env = with_catalog(fake)
    return start_relay(**{k: v for k, v in env.items() if k.startswith(("CINTEL_", "TWILIO_", "SERVER_URL"))})


def test_the_relay_learns_the_ids_of_the_operators_setup_created_and_shows_their_results(
    fake, start_relay, redis_client
):
    done = applied(with_catalog(fake))
    assert "Restart the relay (heroku restart, or docker compose restart relay)" in done.stdout
    made = custom(fake)
    relay = relay_with_catalog(start_relay, fake)
    assert "catalog operator ids learned from Twilio" in relay.output()
    redis_client.flushall()
    public = "https://relay.example.com"
    assert post_json(relay.url, "/webhook/cor-event", communication("c1", "Do you insure pianos?"), public_base=public)
    results = [  # as Twilio posts them: the operator by its id alone
        operator_result("r1", made["Upsell Opportunity"]["id"], {"opportunity": True, "likelihood": "HIGH"}),
        operator_result("r2", made["Churn Risk"]["id"], {"label": "HIGH"}, output_format="CLASSIFICATION"),
    ]
    answer = post_json(relay.url, "/webhook/cintel-action", rule_execution(results), public_base=public)
    assert answer.status_code == 200, answer.text
    frames = [orjson.loads(f[b"f"]) for _, f in redis_client.xrange(log_key(CALL_SID))]
    insights = {i["catalogKey"]: i for i in (f["data"] for f in frames if f["type"] == "insight")}
    assert set(insights) == {"upsell", "churn-risk"}
    assert insights["upsell"]["operatorName"] == "Upsell Opportunity"
    assert ("Likelihood", "HIGH", "positive") in [
        (x["label"], x["value"], x["tone"]) for x in insights["upsell"]["fields"]
    ]
    assert [(x["value"], x["tone"]) for x in insights["churn-risk"]["fields"]] == [("HIGH", "critical")]


def test_a_relay_started_before_setup_says_what_to_do_and_serves_anyway(fake, start_relay):
    relay = relay_with_catalog(start_relay, fake)
    assert "catalog operators upsell, churn-risk are not in Twilio: run cintel-relay setup --yes" in relay.output()
    assert requests.get(f"{relay.url}/healthz", timeout=10).ok


def test_check_says_when_a_catalog_operator_has_no_known_id():
    findings = check.twilio_configuration(load_config(base_env(CINTEL_OPERATORS_FILE=EXAMPLE)))
    problems = [f for f in findings if not f.ok]
    assert [p.what.split(":")[0] for p in problems] == ["catalog operator(s) upsell, churn-risk have no known id"]
    assert "TWILIO_ACCOUNT_SID" in problems[0].fix
