"""Every setting of the relay: its environment variable, type, default and meaning, in one table.

:mod:`cintel_relay.config` takes its defaults from here and validates every value;
``cintel_relay.server.gunicorn_conf`` reads gunicorn's settings through it; README's settings table is
generated from :data:`SETTINGS` (``python3 scripts/settings_table.py``) and a test keeps it current.
"""

import difflib
from typing import List, Mapping, NamedTuple, Optional, Tuple


class Setting(NamedTuple):
    """One environment variable the relay reads."""

    name: str
    type: str
    #: The value when unset (``None``: no value); :func:`default` hands it to :class:`~cintel_relay.config.Config`.
    default: object
    meaning: str
    #: How the README shows a default that is not a plain value (derived, or required).
    shown: Optional[str] = None
    #: The :class:`~cintel_relay.config.Config` field :func:`~cintel_relay.config.load_config` parses it into by
    #: its type alone (None: parsed by a function of its own, with rules that involve other settings).
    field: Optional[str] = None
    #: The smallest value a number may take.
    minimum: Optional[float] = None


#: The deployment's Flex origin; the demo adds the plugin's local origins itself.
FLEX_ORIGIN = "https://flex.twilio.com"

SETTINGS: Tuple[Setting, ...] = (
    Setting(
        "TWILIO_AUTH_TOKEN",
        "secret",
        None,
        "Verifies `X-Twilio-Signature` on every webhook; with the account "
        "SID, authenticates the relay to IAM and TaskRouter.",
        "(required)",
    ),
    Setting("TWILIO_ACCOUNT_SID", "text", None, "Your account SID (`AC...`)."),
    Setting(
        "TWILIO_FLEX_PHONE_NUMBER",
        "E.164 number",
        None,
        "The Flex number; a speaker at this address is the agent, and `cintel-relay setup` captures its calls.",
    ),
    Setting(
        "SERVER_URL",
        "URL",
        None,
        "Public base URL Twilio calls; used to rebuild the signed URL.",
        "from the request; required with `CINTEL_STREAM_AUTH=flex`",
    ),
    Setting(
        "TWILIO_WEBHOOK_SHARED_KEYS",
        "secret list",
        None,
        "Webhook Rules' shared keys, `<key id>=<secret>` comma-separated (several to rotate); a request naming "
        "one in `X-Twilio-Webhooks-Signature-Settings` is checked with its secret.",
    ),
    Setting(
        "TWILIO_API_KEY",
        "text",
        None,
        "API key SID (`SK...`) `cintel-relay setup` and `check` call Twilio with; unset, they use the auth token.",
    ),
    Setting("TWILIO_API_SECRET", "secret", None, "The API key's secret (set both or neither)."),
    Setting(
        "CINTEL_MEMORY_STORE_ID",
        "text",
        None,
        "Memory Store (`mem_store_...`) of the Orchestrator configuration `cintel-relay setup` creates "
        "(or `--memory-store`).",
    ),
    Setting(
        "CINTEL_INTELLIGENCE_URL",
        "URL",
        "https://intelligence.twilio.com",
        "Base URL of the Conversation Intelligence API (tests point it at a fake).",
        field="intelligence_url",
    ),
    Setting(
        "CINTEL_CONVERSATIONS_URL",
        "URL",
        "https://conversations.twilio.com",
        "Base URL of the Conversation Orchestrator API (tests point it at a fake).",
        field="conversations_url",
    ),
    Setting("PORT", "port", 8000, "Port to listen on.", field="port", minimum=1),
    Setting(
        "CINTEL_BIND_HOST",
        "text",
        "0.0.0.0",
        "Address to listen on (`127.0.0.1`: this machine only).",
        field="bind_host",
    ),
    Setting(
        "WEB_CONCURRENCY",
        "whole number",
        1,
        "gunicorn worker processes (more than 1 needs `REDIS_URL`).",
        field="web_concurrency",
        minimum=1,
    ),
    Setting(
        "CINTEL_WORKER_CONNECTIONS",
        "whole number",
        19500,
        "Connections (open streams included) per worker; "
        "keep it under the process's file-descriptor limit (20,000 on Heroku).",
        field="worker_connections",
        minimum=2,
    ),
    Setting(
        "REDIS_URL",
        "URL",
        None,
        "`redis://`, `rediss://` or `unix://`; unset runs an in-process bus for one process.",
        "embedded",
    ),
    Setting(
        "CINTEL_REDIS_MODE",
        "standalone or cluster",
        "standalone",
        "`cluster`: Redis Cluster (sharded pub/sub), with `REDIS_URL` naming any node; see docs/scaling.md.",
    ),
    Setting(
        "CINTEL_REDIS_WAIT_REPLICAS",
        "whole number",
        0,
        "Replicas that must confirm a webhook's writes (Redis `WAIT`) before it is acknowledged; "
        "otherwise 503, and Twilio retries.",
        field="redis_wait_replicas",
        minimum=0,
    ),
    Setting(
        "CINTEL_REDIS_WAIT_TIMEOUT_MS",
        "whole number",
        1000,
        "Milliseconds `WAIT` gives the replicas before the webhook gets 503.",
        field="redis_wait_timeout_ms",
        minimum=1,
    ),
    Setting(
        "CINTEL_REDIS_POOL_SIZE",
        "whole number",
        8,
        "Redis command connections per worker (plus one pub/sub connection).",
        field="redis_pool_size",
        minimum=2,
    ),
    Setting(
        "CINTEL_REDIS_SSL_VERIFY",
        "boolean",
        True,
        "`false` accepts self-signed `rediss://` certificates (Heroku Key-Value Store).",
        field="redis_ssl_verify",
    ),
    Setting(
        "CINTEL_VERIFY_SIGNATURES",
        "boolean",
        True,
        "`false` accepts unsigned webhooks: local tests only, logged loudly.",
        field="verify_signatures",
    ),
    Setting(
        "CINTEL_PROXY_COUNT",
        "whole number",
        0,
        "Reverse proxies to trust for `X-Forwarded-Proto`/`Host` (1 on Heroku).",
        field="proxy_count",
        minimum=0,
    ),
    Setting("CINTEL_AGENT_ADDRESSES", "list", (), "More agent addresses, comma-separated."),
    Setting(
        "CINTEL_OPERATOR_IDS",
        "list",
        (),
        "More operators: `sentiment=intelligence_operator_...,summary=...,script=...`.",
    ),
    Setting(
        "CINTEL_SCRIPT_FILE",
        "path",
        None,
        'JSON script: `{"name", "categories": [{"key", "label", "description", "weight"}]}`.',
        "built-in",
    ),
    Setting(
        "CINTEL_OPERATORS_FILE",
        "path",
        None,
        "JSON catalog of operators beyond Twilio's own (custom ones, each shown by its output format) and alert "
        "rules; see docs/operators.md.",
        "none",
    ),
    Setting(
        "CINTEL_SESSION_TTL",
        "whole number",
        6 * 3600,
        "Seconds a call's data lives in Redis.",
        field="session_ttl",
        minimum=60,
    ),
    Setting(
        "CINTEL_COMPLETED_TTL",
        "whole number",
        15 * 60,
        "Seconds it lives once the call has completed.",
        field="completed_ttl",
        minimum=10,
    ),
    Setting(
        "CINTEL_LOG_MAXLEN",
        "whole number",
        2000,
        "Events kept per call (older ones are trimmed).",
        field="log_maxlen",
        minimum=10,
    ),
    Setting(
        "CINTEL_HEARTBEAT_SECONDS",
        "number",
        15.0,
        "Idle streams get a comment this often (Heroku cuts idle at 55 s).",
        field="heartbeat_seconds",
        minimum=0.1,
    ),
    Setting(
        "CINTEL_SUBSCRIBER_QUEUE",
        "whole number",
        512,
        "Frames buffered per stream before a slow client is disconnected.",
        field="subscriber_queue",
        minimum=8,
    ),
    Setting(
        "CINTEL_SEND_TIMEOUT",
        "number",
        30.0,
        "Seconds a stream's write may block on a client that stopped "
        "reading before it is cut off (it resumes from the log).",
        field="send_timeout",
        minimum=0.5,
    ),
    Setting(
        "CINTEL_MAX_BODY_BYTES",
        "whole number",
        1024 * 1024,
        "Largest webhook body accepted (413 beyond); other routes have their own, smaller limits.",
        field="max_body_bytes",
        minimum=1024,
    ),
    Setting("CINTEL_LOG_LEVEL", "text", "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`."),
    Setting(
        "CINTEL_STREAM_AUTH",
        "text",
        None,
        "Who may stream a call. `flex`: a Flex token, then a ticket; also "
        "needs `CINTEL_TICKET_SECRET` and `CINTEL_TASKROUTER_WORKSPACE_SID`. `none`: anyone (local demo only; "
        "logged at start-up, shown in `/readyz`).",
        "`flex` with Twilio credentials, else `none`",
    ),
    Setting(
        "CINTEL_TICKET_SECRET",
        "secret list",
        (),
        "32+ random characters, the same on every replica: "
        "`openssl rand -hex 32`. Comma-separated to rotate (the first signs, all verify).",
        "(required in `flex`)",
    ),
    Setting(
        "CINTEL_TASKROUTER_WORKSPACE_SID",
        "text",
        None,
        "The Flex TaskRouter workspace (`WS...`, Console > TaskRouter > Workspaces).",
        "(required in `flex`)",
    ),
    Setting(
        "CINTEL_TICKET_TTL",
        "whole number",
        600,
        "Seconds a ticket opens streams, never past its Flex token's expiry; a stream ends when its ticket does.",
        field="ticket_ttl",
        minimum=60,
    ),
    Setting(
        "CINTEL_BODY_TIMEOUT",
        "number",
        10.0,
        "Seconds a whole request body may take to arrive (at most 30); a slower one gets 408.",
        field="body_timeout",
        minimum=0.1,
    ),
    Setting(
        "CINTEL_BAD_TOKENS_PER_MINUTE",
        "whole number",
        10,
        "Flex tokens Twilio may refuse per client address and minute; past it, one unknown token a second is asked.",
        field="bad_tokens_per_minute",
        minimum=1,
    ),
    Setting(
        "CINTEL_IAM_URL",
        "URL",
        "https://iam.twilio.com",
        "Twilio IAM's base URL (tests point it at a fake).",
        field="iam_url",
    ),
    Setting(
        "CINTEL_TASKROUTER_URL",
        "URL",
        "https://taskrouter.twilio.com",
        "TaskRouter's base URL (tests point it at a fake).",
        field="taskrouter_url",
    ),
    Setting(
        "CINTEL_SUPERVISOR_ROLES",
        "list",
        ("supervisor", "admin"),
        "Flex roles that may watch any call.",
        field="supervisor_roles",
    ),
    Setting(
        "CINTEL_AUTH_TIMEOUT",
        "number",
        5.0,
        "Seconds to wait for IAM or TaskRouter before answering 503.",
        field="auth_timeout",
        minimum=0.1,
    ),
    Setting(
        "CINTEL_TOKEN_CACHE_SECONDS",
        "whole number",
        300,
        "Longest a validated Flex token is trusted without asking IAM again (at most 900).",
        field="token_cache_seconds",
        minimum=0,
    ),
    Setting(
        "CINTEL_ACCESS_CACHE_SECONDS",
        "whole number",
        30,
        'How long "this agent handles this call" is remembered.',
        field="access_cache_seconds",
        minimum=0,
    ),
    Setting(
        "CINTEL_CORS_ORIGINS",
        "list",
        (FLEX_ORIGIN,),
        "Origins whose pages may call `/api/*` (scheme://host"
        "[:port], comma-separated; no `*`). Add your Flex domain if you use a custom one.",
    ),
    Setting(
        "CINTEL_MAX_STREAMS_PER_IDENTITY",
        "whole number",
        20,
        "Open streams per Flex identity, across all replicas.",
        field="max_streams_per_identity",
        minimum=1,
    ),
    Setting(
        "CINTEL_TICKETS_PER_MINUTE",
        "whole number",
        60,
        "Tickets minted per identity per minute, across all "
        "replicas (a supervisor opening many calls needs one per call).",
        field="tickets_per_minute",
        minimum=1,
    ),
    Setting(
        "CINTEL_STREAM_OPENS_PER_MINUTE",
        "whole number",
        120,
        "Streams opened (reconnects included) per identity per minute, across all replicas; per client address "
        "with `CINTEL_STREAM_AUTH=none`.",
        field="stream_opens_per_minute",
        minimum=1,
    ),
    Setting(
        "CINTEL_REPORT_TTL",
        "whole number",
        7 * 24 * 3600,
        "Seconds a call's report (`GET /api/calls/<CallSid>/report`) is kept after the call, longer than its "
        "live data; keep long-term records in your own systems (`CINTEL_REPORT_URL`).",
        field="report_ttl",
        minimum=60,
    ),
    Setting(
        "CINTEL_ALERT_URL",
        "list",
        (),
        "URLs each alert (a rule firing or clearing, docs/operators.md) is POSTed to, signed and retried as reports "
        "are, with a Slack-compatible `text`; comma-separated.",
    ),
    Setting(
        "CINTEL_ALERT_SECRET",
        "secret",
        None,
        "Signs alert deliveries (`X-Cintel-Signature`); 32+ random characters, `openssl rand -hex 32`.",
        "(required with `CINTEL_ALERT_URL`)",
    ),
    Setting(
        "CINTEL_REPORT_URL",
        "list",
        (),
        "URLs the settled report of every call is POSTed to, signed (docs/reports.md), comma-separated.",
    ),
    Setting(
        "CINTEL_REPORT_SECRET",
        "secret",
        None,
        "Signs report deliveries (`X-Cintel-Signature`); 32+ random characters, `openssl rand -hex 32`.",
        "(required with `CINTEL_REPORT_URL`)",
    ),
    Setting(
        "CINTEL_REPORT_SETTLE_SECONDS",
        "number",
        60.0,
        "Seconds after a call completes that its report settles (post-call results arrive meanwhile); "
        "sooner once the conversation's post-call results have arrived.",
        field="report_settle_seconds",
        minimum=0,
    ),
    Setting(
        "CINTEL_REPORT_TIMEOUT",
        "number",
        10.0,
        "Seconds a report URL has to answer one delivery attempt before it is retried.",
        field="report_timeout",
        minimum=0.1,
    ),
    Setting(
        "CINTEL_REPORT_RETRY_SECONDS",
        "number",
        10.0,
        "First wait before a failed delivery is retried; each wait doubles, up to `CINTEL_REPORT_RETRY_MAX_SECONDS`.",
        field="report_retry_seconds",
        minimum=0.1,
    ),
    Setting("CINTEL_REPORT_RETRY_MAX_SECONDS", "number", 3600.0, "Longest wait between two delivery attempts."),
    Setting(
        "CINTEL_REPORT_GIVE_UP_SECONDS",
        "number",
        25 * 3600.0,
        "Seconds after its first attempt a delivery is given up (logged and counted in /metrics).",
        field="report_give_up_seconds",
        minimum=1,
    ),
    Setting(
        "CINTEL_DUE_LEASE_SECONDS",
        "number",
        30.0,
        "Seconds a replica holds a due item (a settle, a delivery) before another may take it; must exceed "
        "`CINTEL_REPORT_TIMEOUT`, so two replicas never both deliver.",
        field="due_lease_seconds",
        minimum=0.5,
    ),
    Setting(
        "CINTEL_METRICS_TOKEN",
        "secret",
        None,
        "Bearer token for `GET /metrics`; unset, `/metrics` answers 404.",
        "(off)",
    ),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def default(name: str):
    """The default of the setting ``name`` (a KeyError for a setting missing from the table)."""
    return BY_NAME[name].default


def shown_default(setting: Setting) -> str:
    """The default as README shows it."""
    if setting.shown is not None:
        return setting.shown
    value = setting.default
    if value is None or value == ():
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def markdown_table() -> str:
    """README's settings table."""
    rows = ["| Variable | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.type} | {shown_default(s)} | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


#: ``CINTEL_*`` variables that other tools read, not the relay: docker-compose.yml's host port of the load balancer.
OTHER_TOOLS = frozenset({"CINTEL_PORT"})


def unknown(env: Mapping[str, str]) -> List[str]:
    """A warning for each ``CINTEL_*`` variable set in ``env`` that no setting names (a typo, or one since
    removed), with the setting it most resembles."""
    known = {s.name for s in SETTINGS if s.name.startswith("CINTEL_")}
    warnings = []
    for name in sorted(n for n in env if n.startswith("CINTEL_") and n not in known | OTHER_TOOLS):
        # Compared without the prefix every candidate shares, which would make any name look close.
        close = difflib.get_close_matches(name[7:], sorted(k[7:] for k in known), n=1, cutoff=0.75)
        hint = f"did you mean CINTEL_{close[0]}?" if close else "the settings are listed in README.md"
        warnings.append(f"{name} is set but is not a setting of the relay, so it has no effect: {hint}")
    return warnings
