"""``cintel-relay setup``: the real command against a fake of Twilio's control plane shaped by its specs."""

import json

import pytest
import requests

from cintel_relay.app import create_app
from cintel_relay.config import load_config
from cintel_relay.extension import relay
from cintel_relay.script import load_script, parse_script
from cintel_relay.setup.plan import (
    CINTEL_WEBHOOK,
    NEXT_BEST_RESPONSE,
    ORCHESTRATOR_WEBHOOK,
    SCRIPT_ADHERENCE,
    SENTIMENT,
    SUMMARY,
)
from cintel_relay.setup.script_text import differences, parse, render

from .support import AUTH_TOKEN, base_env
from .support.fakes.twilio_control import API_KEY, API_SECRET, relay_env, run_setup


def ours(resources: dict, name: str = "cintel-relay") -> dict:
    (found,) = [r for r in resources.values() if r["displayName"] == name]
    return found


def applied(fake, *args, **env):
    done = run_setup(relay_env(fake, **env), "--yes", *args)
    assert done.returncode == 0, done.stderr
    return done


def script_file(tmp_path, **weights) -> str:
    data = json.loads(json.dumps(load_script().to_dict()))
    for category in data["categories"]:
        category["weight"] = weights.get(category["key"].replace("-", "_"), category["weight"])
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_first_run_prints_the_plan_and_writes_nothing(fake):
    done = run_setup(relay_env(fake))
    assert done.returncode == 0, done.stderr
    assert "Conversation Intelligence configuration 'cintel-relay': create" in done.stdout
    assert "Conversation Orchestrator configuration 'cintel-relay': create" in done.stdout
    assert "+ rule 1 script [Move Details] | Category: Move Details" in done.stdout
    assert "+ rule 1 script [Move Details] | Score weight: 40%" in done.stdout
    assert "+ VOICE capture: from * to +18005550199" in done.stdout
    assert "Plan: 2 to create, 0 to update, 0 up to date." in done.stdout and "--yes" in done.stdout
    assert fake.writes == [] and fake.requests
    assert "reading Conversation Intelligence configurations (page 1)" in done.stderr


def test_yes_creates_both_configurations_as_the_blog_sets_them_up(fake):
    applied(fake)
    intel = ours(fake.intelligence)
    script_rule, insights = intel["rules"]
    action = [{"type": "WEBHOOK", "method": "POST", "url": "https://relay.example.com/webhook/cintel-action"}]
    assert script_rule["operators"] == [{"id": SCRIPT_ADHERENCE, "parameters": {"script": render(load_script())}}]
    assert script_rule["triggers"] == [{"on": "COMMUNICATION", "parameters": {"count": 1}}]
    assert insights["operators"] == [{"id": SENTIMENT}, {"id": SUMMARY}]
    assert insights["triggers"] == [{"on": "COMMUNICATION", "parameters": {"count": 5}}]
    for rule in intel["rules"]:
        assert rule["actions"] == action and rule["context"] == {"memory": {"enabled": True}}
    orch = ours(fake.orchestrator)
    assert orch["conversationGroupingType"] == "GROUP_BY_PROFILE"
    assert orch["channelSettings"]["VOICE"]["captureRules"] == [
        {"from": "*", "to": "+18005550199"},
        {"from": "+18005550199", "to": "*"},
    ]
    assert orch["statusCallbacks"] == [{"url": "https://relay.example.com/webhook/cor-event", "method": "POST"}]
    assert orch["intelligenceConfigurationIds"] == [intel["id"]]
    # The Orchestrator write was followed until its operation completed, with an API key and an idempotency key.
    polls = [r for r in fake.requests if "/Operations/" in r["path"]]
    assert len(polls) == fake.operation_polls + 1
    assert {r["user"] for r in fake.requests} == {API_KEY}
    assert all(r["idempotency_key"] for r in fake.writes if r["api"] == "conversations")


def test_a_second_run_is_up_to_date_and_sends_no_write(fake):
    applied(fake)
    before = len(fake.writes)
    done = applied(fake)
    assert len(fake.writes) == before
    assert done.stdout.count(": up to date") == 2 and "Everything is up to date: nothing to do." in done.stdout


def test_a_changed_script_updates_the_rule_in_place(fake, tmp_path):
    applied(fake)
    intel = ours(fake.intelligence)
    config_id, rule_ids = intel["id"], [r["id"] for r in intel["rules"]]
    before = len(fake.writes)
    changed = script_file(tmp_path, greeting=15, move_details=35)
    plan = run_setup(relay_env(fake, CINTEL_SCRIPT_FILE=changed))
    assert f"'cintel-relay' ({config_id}): update" in plan.stdout
    assert "- rule 1 script [Greeting] | Score weight: 10%" in plan.stdout
    assert "+ rule 1 script [Greeting] | Score weight: 15%" in plan.stdout
    assert "Conversation Orchestrator configuration 'cintel-relay'" in plan.stdout and ": up to date" in plan.stdout
    applied(fake, CINTEL_SCRIPT_FILE=changed)
    intel = ours(fake.intelligence)
    assert intel["id"] == config_id and [r["id"] for r in intel["rules"]] == rule_ids
    assert "Score weight: 15%" in intel["rules"][0]["operators"][0]["parameters"]["script"]
    assert [(w["method"], w["api"]) for w in fake.writes[before:]] == [("PUT", "intelligence")]


def test_lists_are_paged_and_configurations_it_did_not_create_are_left_alone(fake):
    fake.page_size = 2
    for n in range(3):
        fake.add_intelligence(f"post-call-{n}", "analytics")
        fake.add_orchestrator(f"support-{n}")
    others = json.dumps([fake.intelligence, fake.orchestrator], sort_keys=True)
    applied(fake)
    before = len(fake.writes)
    done = applied(fake)
    assert "Everything is up to date" in done.stdout and len(fake.writes) == before
    assert any("pageToken" in r["query"] for r in fake.requests)
    assert "Intelligence configurations (page 2)" in done.stderr  # ours is the 4th of 4
    theirs = [
        {k: v for k, v in d.items() if v["displayName"] != "cintel-relay"}
        for d in (fake.intelligence, fake.orchestrator)
    ]
    assert json.dumps(theirs, sort_keys=True) == others


def test_a_name_taken_by_someone_elses_configuration_is_refused(fake):
    fake.add_intelligence("cintel-relay", "made by hand in Console")
    done = run_setup(relay_env(fake), "--yes")
    assert done.returncode == 1 and "did not create it" in done.stderr and "--name" in done.stderr
    assert fake.writes == [] and "Traceback" not in done.stderr


def test_json_prints_the_resulting_ids(fake):
    done = applied(fake, "--json")
    ids = json.loads(done.stdout)
    intel, orch = ours(fake.intelligence), ours(fake.orchestrator)
    assert ids["intelligenceConfigurationId"] == intel["id"]
    assert ids["orchestratorConfigurationId"] == orch["id"]
    assert ids["ruleIds"] == {"script": intel["rules"][0]["id"], "insights": intel["rules"][1]["id"]}
    planned = run_setup(relay_env(fake), "--json")
    assert json.loads(planned.stdout) == ids and "Everything is up to date" in planned.stderr


def test_options_name_cadence_suggestions_grouping_and_memory_store(fake):
    other_store = "mem_store_0" + "a" * 25
    fake.memory_stores.add(other_store)
    applied(
        fake,
        "--name",
        "relay staging",
        "--summary-every",
        "3",
        "--suggestions",
        "--grouping",
        "GROUP_BY_PARTICIPANT_ADDRESSES",
        "--memory-store",
        other_store,
    )
    insights = ours(fake.intelligence, "relay staging")["rules"][1]
    assert insights["operators"] == [{"id": SENTIMENT}, {"id": SUMMARY}, {"id": NEXT_BEST_RESPONSE}]
    assert insights["triggers"][0]["parameters"]["count"] == 3
    orch = ours(fake.orchestrator, "relay staging")
    assert (orch["conversationGroupingType"], orch["memoryStoreId"]) == ("GROUP_BY_PARTICIPANT_ADDRESSES", other_store)
    refused = run_setup(relay_env(fake), "--summary-every", "25")
    assert refused.returncode == 2 and "1 to 20" in refused.stderr


def test_delete_plans_first_then_removes_only_what_it_created(fake):
    applied(fake)
    foreign = fake.add_intelligence("post-call", "analytics")
    before = len(fake.writes)
    plan = run_setup(relay_env(fake), "--delete")
    assert plan.returncode == 0 and "Plan: 2 to delete." in plan.stdout and len(fake.writes) == before
    applied(fake, "--delete")
    assert list(fake.intelligence) == [foreign["id"]] and fake.orchestrator == {}
    deletes = [(w["api"], w["method"]) for w in fake.writes[before:]]
    assert deletes == [("conversations", "DELETE"), ("intelligence", "DELETE")]


def test_refused_credentials_say_so_without_a_traceback_or_the_secret(fake):
    done = run_setup(relay_env(fake, TWILIO_API_SECRET="not-the-secret-0000"), "--yes")
    assert done.returncode == 1 and "Twilio refused the credentials (HTTP 401)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "not-the-secret-0000" not in done.stderr + done.stdout
    token = run_setup(relay_env(fake, TWILIO_API_KEY="", TWILIO_API_SECRET="", TWILIO_AUTH_TOKEN="wrong-token"))
    assert token.returncode == 1 and "refused the credentials" in token.stderr and "wrong-token" not in token.stderr


def test_the_account_auth_token_works_when_no_api_key_is_set(fake):
    applied(fake, TWILIO_API_KEY="", TWILIO_API_SECRET="", TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    account = load_config(relay_env(fake)).twilio_account_sid
    assert ours(fake.orchestrator) and {r["user"] for r in fake.requests} == {account}


@pytest.mark.parametrize("unset", ["SERVER_URL", "TWILIO_FLEX_PHONE_NUMBER", "CINTEL_MEMORY_STORE_ID"])
def test_a_missing_setting_is_named(fake, unset):
    done = run_setup(relay_env(fake, **{unset: ""}))
    assert done.returncode == 1 and unset in done.stderr and "Traceback" not in done.stderr
    assert fake.writes == []


def test_without_credentials_setup_says_so_first_and_names_every_missing_setting_at_once(fake):
    env = {k: v for k, v in relay_env(fake).items() if not k.startswith(("TWILIO_", "SERVER_URL"))}
    done = run_setup(env)
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(
        "cintel-relay setup: no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
    )
    assert [line.split(": ")[1].split()[0] for line in lines[1:]] == ["SERVER_URL", "TWILIO_FLEX_PHONE_NUMBER"]
    assert "CINTEL_VERIFY_SIGNATURES" not in done.stderr and fake.requests == []


def test_another_twilio_refusal_names_the_field(fake):
    fake.memory_stores = set()
    done = run_setup(relay_env(fake), "--yes")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Twilio refused to create the Conversation Orchestrator configuration (HTTP 400, error 20001)" in done.stderr
    assert "memoryStoreId" in done.stderr


def test_a_failed_operation_is_reported(fake):
    fake.fail_operations = True
    done = run_setup(relay_env(fake), "--yes")
    assert done.returncode == 1 and "FAILED: The configuration could not be provisioned" in done.stderr
    assert fake.orchestrator == {}


def test_the_fake_refuses_what_the_spec_refuses(fake):
    auth = (API_KEY, API_SECRET)
    intel = f"{fake.intelligence_url}/v3/ControlPlane/Configurations"
    webhook = {"type": "WEBHOOK", "method": "POST", "url": "https://x.example"}
    good = {"operators": [{"id": SENTIMENT}], "actions": [webhook]}
    for rule, field in [
        ({"operators": good["operators"]}, "rules[0].actions is required"),
        ({**good, "actions": [{**good["actions"][0], "method": "GET"}]}, "rules[0].actions[0].method"),
        ({**good, "triggers": [{"on": "EVERY_WORD"}]}, "rules[0].triggers[0].on"),
        ({**good, "operators": []}, "rules[0].operators must have 1 to 5 items"),
    ]:
        refused = requests.post(intel, json={"displayName": "x", "rules": [rule]}, auth=auth, timeout=5)
        assert refused.status_code == 400 and field in refused.json()["message"], refused.text
    assert requests.post(intel, json={"displayName": "x", "rules": [good]}, auth=auth, timeout=5).status_code == 201
    orch = f"{fake.conversations_url}/v2/ControlPlane/Configurations"
    refused = requests.post(
        orch,
        json={
            "displayName": "x",
            "description": "y",
            "memoryStoreId": "mem_store_x",
            "conversationGroupingType": "GROUP_BY_ANYTHING",
        },
        auth=auth,
        timeout=5,
    )
    assert refused.status_code == 400 and set(refused.json()) == {"code", "message", "more_info", "status"}
    assert "conversationGroupingType" in refused.json()["message"]
    assert requests.get(intel, auth=(API_KEY, "wrong"), timeout=5).status_code == 401


def test_the_webhooks_twilio_is_pointed_at_are_routes_of_the_relay():
    app = create_app(load_config(base_env(CINTEL_VERIFY_SIGNATURES="false")))
    relay(app).shutdown()
    posts = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert {CINTEL_WEBHOOK, ORCHESTRATOR_WEBHOOK} <= posts


def test_the_rendered_script_is_the_operator_format_and_reads_back():
    script = load_script()
    text = render(script)
    assert text.split("\n\n")[0].splitlines() == [
        "Category: Greeting",
        'Action: Greet the customer with business name and agent name: "Thanks for contacting {company name}. '
        'This is {agent_name}."',
        "Score weight: 10%",
    ]
    # The deadline the relay times is the one the operator reads, written as the blog writes it.
    assert text.split("\n\n")[1].splitlines()[1] == (
        "Action: Confirm identity quickly: capture the move date and the to/from cities. "
        "Within first 50 seconds of conversation."
    )
    assert parse(text) == [("Greeting", 10), ("Verification", 20), ("Move Details", 40), ("Confirmation", 30)]
    fractions = parse_script(
        {
            "categories": [
                {
                    "key": c.key,
                    "label": c.label,
                    "description": c.description,
                    "weight": c.weight / 100,
                    "withinSeconds": c.withinSeconds,
                }
                for c in script.categories
            ]
        },
        "fractions",
    )
    assert render(fractions) == text and differences(script, text) == []


def test_the_blogs_script_and_its_greetings_typo_are_read_as_drift():
    blog = (
        "Category: Greetings\nAction: Greet the customer.\nScore weight:10%\n\nCategory: Verification\n"
        "Goal: Confirm identity quickly\nScore weight:25%\n\nCategory: Move Details\nScore weight:40%\n\n"
        "Category: Confirmation\nGoal: Next Steps\nScore weight:30%"
    )
    assert differences(load_script(), blog) == [
        "category 'Greeting' is missing in Twilio",
        "Twilio has category 'Greetings', the relay's script does not",
        "category 'Verification' weighs 20% in the relay's script, 25% in Twilio",
    ]


@pytest.mark.parametrize(
    "setting, value, named",
    [
        ("CINTEL_MEMORY_STORE_ID", "store-1", "CINTEL_MEMORY_STORE_ID='store-1' is not a Memory Store id"),
        ("TWILIO_API_KEY", "key-1", "TWILIO_API_KEY='key-1' is not an API key SID"),
        ("TWILIO_API_SECRET", "", "TWILIO_API_KEY and TWILIO_API_SECRET go together"),
        ("TWILIO_FLEX_PHONE_NUMBER", "800-555-0199", "is not an E.164 number"),
        (
            "CINTEL_CONVERSATIONS_URL",
            "conversations.twilio.com",
            "CINTEL_CONVERSATIONS_URL='conversations.twilio.com' is not",
        ),
    ],
)
def test_a_bad_setting_is_named_before_anything_is_asked(fake, setting, value, named):
    done = run_setup(relay_env(fake, **{setting: value}))
    assert done.returncode == 1 and named in done.stderr and "Traceback" not in done.stderr
    assert fake.requests == []
