"""What ``cintel-relay setup`` wants Twilio to hold, how that differs from what Twilio holds, and making it so.

Two resources, set up as the blog's Console walkthrough sets them up:

- a Conversation Intelligence configuration with two rules: Twilio's Script Adherence operator, its
  ``parameters.script`` rendered from the relay's script, on every communication; and Sentiment +
  Summary (+ Next Best Response with ``--suggestions``) every N communications. Both post to
  ``$SERVER_URL/webhook/cintel-action`` with memory context on.
- a Conversation Orchestrator configuration capturing VOICE to and from the Flex number, posting its
  status callbacks to ``$SERVER_URL/webhook/cor-event``, with the Intelligence configuration linked.

Both carry :data:`MARKER` in their description: the command only ever changes or deletes a
configuration with its display name *and* that marker, never one it did not create.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, cast

from ..operators import DEFAULT_OPERATORS, TWILIO_OPERATORS, OperatorKind
from .control_plane import ControlPlane, ControlPlaneError, missing_credentials
from .script_text import render

CINTEL_WEBHOOK = "/webhook/cintel-action"
ORCHESTRATOR_WEBHOOK = "/webhook/cor-event"
MARKER = "Managed by cintel-relay setup"
DESCRIPTION = f"{MARKER}: real-time script adherence, sentiment and summary for Flex. Change it with the command."
DEFAULT_NAME = "cintel-relay"
_BY_KIND = {kind: operator_id for operator_id, kind in DEFAULT_OPERATORS.items()}
SCRIPT_ADHERENCE = _BY_KIND[OperatorKind.SCRIPT]
SENTIMENT = _BY_KIND[OperatorKind.SENTIMENT]
SUMMARY = _BY_KIND[OperatorKind.SUMMARY]
#: Twilio-authored Next Best Response (``--suggestions``).
NEXT_BEST_RESPONSE = _BY_KIND[OperatorKind.SUGGESTION]
#: How the plan names each operator: Twilio's own names, from the operator table.
OPERATOR_NAMES = {operator_id: operator.name for operator_id, operator in TWILIO_OPERATORS.items()}
#: Conversation grouping types (Conversations v2 spec, ``conversationGroupingType``).
GROUPINGS = ("GROUP_BY_PROFILE", "GROUP_BY_PARTICIPANT_ADDRESSES", "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE")
CREATE, UPDATE, UP_TO_DATE, DELETE = "create", "update", "up to date", "delete"
INTELLIGENCE, ORCHESTRATOR = "Conversation Intelligence configuration", "Conversation Orchestrator configuration"


class SetupError(ControlPlaneError):
    """The plan cannot be made: a setting is missing, or a name is taken by a configuration we did not create."""


@dataclass(frozen=True)
class Options:
    """The command line's choices."""

    name: str = DEFAULT_NAME
    summary_every: int = 5
    suggestions: bool = False
    grouping: str = GROUPINGS[0]
    memory_store: Optional[str] = None


@dataclass
class Change:
    """One resource: what happens to it, what it is now (``current``) and the body that makes it so (``body``)."""

    kind: str
    action: str
    current: Optional[dict] = None
    body: Optional[dict] = None

    @property
    def id(self) -> Optional[str]:
        """The resource's id in Twilio, once it exists."""
        return (self.current or {}).get("id")


@dataclass
class Plan:
    """The two changes, Intelligence first: the Orchestrator configuration links the Intelligence one."""

    changes: List[Change] = field(default_factory=list)
    #: Things an admin should know that the plan does not change (e.g. a hand-made configuration posting here too).
    notes: List[str] = field(default_factory=list)

    @property
    def writes(self) -> List[Change]:
        """The changes that need a write (everything but "up to date")."""
        return [c for c in self.changes if c.action != UP_TO_DATE]


def _owned(resources, name: str, kind: str) -> Optional[dict]:
    """Our configuration among ``resources``; refuses to go on when the name is taken by someone else's."""
    for resource in resources:
        if resource.get("displayName") != name:
            continue
        if MARKER in (resource.get("description") or ""):
            return resource
        raise SetupError(
            f"a {kind} named {name!r} already exists ({resource.get('id')}) and cintel-relay setup did "
            "not create it, so it is left alone: choose another name with --name"
        )
    return None


def _role(rule: dict) -> Optional[str]:
    operators = {o.get("id") for o in rule.get("operators") or []}
    if SCRIPT_ADHERENCE in operators:
        return "script"
    if operators & {SENTIMENT, SUMMARY}:
        return "insights"
    return None


def posts_to(resource: dict) -> List[str]:
    """The URLs an Intelligence configuration's rules post their results to."""
    return [a.get("url") for rule in resource.get("rules") or [] for a in rule.get("actions") or []]


def _rule(operators: list, every: int, url: str) -> dict:
    return {
        "operators": operators,
        "triggers": [{"on": "COMMUNICATION", "parameters": {"count": every}}],
        "actions": [{"type": "WEBHOOK", "method": "POST", "url": url}],
        "context": {"memory": {"enabled": True}},
    }


def intelligence_body(config, script, options: Options, current: Optional[dict] = None) -> dict:
    """The Intelligence configuration's create/update body; rules keep the ids they have in ``current``."""
    url = config.server_url + CINTEL_WEBHOOK
    insights = [{"id": SENTIMENT}, {"id": SUMMARY}] + ([{"id": NEXT_BEST_RESPONSE}] if options.suggestions else [])
    rules = {
        "script": _rule([{"id": SCRIPT_ADHERENCE, "parameters": {"script": render(script)}}], 1, url),
        "insights": _rule(insights, options.summary_every, url),
    }
    others = []
    for existing in (current or {}).get("rules") or []:
        role = _role(existing)
        if role in rules and "id" not in rules[role]:
            rules[role] = {"id": existing["id"], **rules[role]}
        else:
            others.append(existing)  # a rule added by hand in Console: kept as it is
    return {
        "displayName": options.name,
        "description": DESCRIPTION,
        "rules": [rules["script"], rules["insights"], *others],
    }


def orchestrator_body(config, options: Options, intelligence_id: Optional[str], current: Optional[dict]) -> dict:
    """The Orchestrator configuration's create/update body; other channels and linked configurations are kept."""
    current = current or {}
    store = options.memory_store or config.memory_store_id or current.get("memoryStoreId")
    if not store:
        raise SetupError(
            "Twilio's Conversation Orchestrator needs a Memory Store to resolve profiles: set "
            "CINTEL_MEMORY_STORE_ID=mem_store_... or pass --memory-store mem_store_... (the id is in "
            "Console > Conversation Memory > Memory stores)"
        )
    number = config.flex_phone_number
    channels = dict(current.get("channelSettings") or {})
    voice = dict(channels.get("VOICE") or {})
    voice["captureRules"] = [{"from": "*", "to": number}, {"from": number, "to": "*"}]
    channels["VOICE"] = voice
    linked = [i for i in current.get("intelligenceConfigurationIds") or [] if i != intelligence_id]
    return {
        "displayName": options.name,
        "description": DESCRIPTION,
        "conversationGroupingType": options.grouping,
        "memoryStoreId": store,
        "channelSettings": channels,
        "statusCallbacks": [{"url": config.server_url + ORCHESTRATOR_WEBHOOK, "method": "POST"}],
        "intelligenceConfigurationIds": [intelligence_id or "(the Intelligence configuration above)", *linked],
        "memoryExtractionEnabled": True,
    }


def _rule_view(rule: dict) -> tuple:
    """A rule without what Twilio adds (its id, operator versions we did not pin, default counts)."""
    trigger = (rule.get("triggers") or [{}])[0]
    return (
        tuple((o.get("id"), repr(sorted((o.get("parameters") or {}).items()))) for o in rule.get("operators") or []),
        trigger.get("on"),
        (trigger.get("parameters") or {}).get("count", 1),
        tuple((a.get("type"), a.get("method"), a.get("url")) for a in rule.get("actions") or []),
        bool(((rule.get("context") or {}).get("memory") or {}).get("enabled")),
    )


def _same_intelligence(current: dict, body: dict) -> bool:
    return (current.get("displayName"), current.get("description")) == (body["displayName"], body["description"]) and [
        _rule_view(r) for r in current.get("rules") or []
    ] == [_rule_view(r) for r in body["rules"]]


def _same_orchestrator(current: dict, body: dict) -> bool:
    def view(resource):
        voice = (resource.get("channelSettings") or {}).get("VOICE") or {}
        captured = sorted((r.get("from"), r.get("to")) for r in voice.get("captureRules") or [])
        return (
            resource.get("displayName"),
            resource.get("description"),
            resource.get("conversationGroupingType"),
            resource.get("memoryStoreId"),
            captured,
            [(c.get("url"), c.get("method", "POST")) for c in resource.get("statusCallbacks") or []],
            list(resource.get("intelligenceConfigurationIds") or []),
            bool(resource.get("memoryExtractionEnabled")),
        )

    return view(current) == view(body)


def missing(env: Mapping[str, str], deleting: bool = False) -> List[str]:
    """Every setting the command needs that ``env`` lacks, credentials first, each naming what to set: all at
    once, rather than one per run."""
    found = []
    no_credentials = missing_credentials(env)
    if no_credentials:
        found.append(no_credentials)
    if deleting:
        return found
    if not env.get("SERVER_URL", "").strip():
        found.append(
            "SERVER_URL is not set: set it to the relay's public https URL (on Heroku: heroku apps:info -s | "
            "grep web_url); Twilio posts the webhooks there"
        )
    if not env.get("TWILIO_FLEX_PHONE_NUMBER", "").strip():
        found.append(
            "TWILIO_FLEX_PHONE_NUMBER is not set: set it to the Flex number (E.164, e.g. +18005550199) "
            "whose calls Conversation Orchestrator should capture"
        )
    return found


def plan(control: ControlPlane, config, script, options: Options) -> Plan:
    """Compare Twilio with what the relay's configuration and script want (see :func:`missing`); nothing is written."""
    everything = list(control.intelligence_configurations())
    intel = _owned(everything, options.name, INTELLIGENCE)
    url = config.server_url + CINTEL_WEBHOOK
    notes = [
        f"the {INTELLIGENCE} {c.get('displayName')!r} ({c.get('id')}) was not made by this command and also posts "
        f"to {url}: once this one works, delete that one in Console, or every result reaches the relay twice"
        for c in everything
        if c is not intel and url in posts_to(c)
    ]
    body = intelligence_body(config, script, options, intel)
    intel_action = CREATE if intel is None else UP_TO_DATE if _same_intelligence(intel, body) else UPDATE
    orch = _owned(control.orchestrator_configurations(), options.name, ORCHESTRATOR)
    orch_body = orchestrator_body(config, options, (intel or {}).get("id"), orch)
    orch_action = CREATE if orch is None else UP_TO_DATE if _same_orchestrator(orch, orch_body) else UPDATE
    return Plan(
        [Change(INTELLIGENCE, intel_action, intel, body), Change(ORCHESTRATOR, orch_action, orch, orch_body)], notes
    )


def delete_plan(control: ControlPlane, options: Options) -> Plan:
    """The configurations the command created under this name, Orchestrator first (it links the other)."""
    orch = _owned(control.orchestrator_configurations(), options.name, ORCHESTRATOR)
    intel = _owned(control.intelligence_configurations(), options.name, INTELLIGENCE)
    return Plan(
        [
            Change(kind, DELETE, current)
            for kind, current in ((ORCHESTRATOR, orch), (INTELLIGENCE, intel))
            if current is not None
        ]
    )


def apply(control: ControlPlane, config, options: Options, planned: Plan) -> dict:
    """Carry the plan out, Intelligence first; the ids of what exists afterwards."""
    ids: Dict[str, Any] = {}
    for change in planned.changes:
        progress = control.progress
        # A change to delete or update has the resource Twilio listed as ``current``, and so its id.
        config_id = cast(str, change.id)
        if change.action == DELETE:
            progress(f"deleting the {change.kind} {change.id}")
            (control.delete_orchestrator if change.kind == ORCHESTRATOR else control.delete_intelligence)(config_id)
        elif change.kind == INTELLIGENCE:
            assert change.body is not None  # plan() gives both of its changes a body
            if change.action == CREATE:
                progress(f"creating the {INTELLIGENCE} {change.body['displayName']!r}")
                change.current = control.create_intelligence(change.body)
            elif change.action == UPDATE:
                progress(f"updating the {INTELLIGENCE} {change.id}")
                change.current = control.update_intelligence(config_id, change.body)
            # Created or updated just now, else up to date: the configuration plan() found.
            assert change.current is not None
            ids["intelligenceConfigurationId"] = change.id
            ids["ruleIds"] = {_role(r) or r["id"]: r["id"] for r in change.current.get("rules") or []}
        else:
            body = orchestrator_body(config, options, ids["intelligenceConfigurationId"], change.current)
            if change.action == CREATE:
                progress(f"creating the {ORCHESTRATOR} {body['displayName']!r}")
                change.current = {"id": control.create_orchestrator(body)}
            elif change.action == UPDATE:
                progress(f"updating the {ORCHESTRATOR} {change.id}")
                control.update_orchestrator(config_id, body)
            ids["orchestratorConfigurationId"] = change.id
    return ids


def ids_of(planned: Plan) -> dict:
    """The ids a plan's resources have now (None for those it would create)."""
    intel, orch = planned.changes
    return {
        "intelligenceConfigurationId": intel.id,
        "orchestratorConfigurationId": orch.id,
        "ruleIds": {_role(r) or r["id"]: r["id"] for r in (intel.current or {}).get("rules") or []},
    }
