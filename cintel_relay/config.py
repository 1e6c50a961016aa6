"""Configuration: one frozen object read from the environment and validated at start-up."""

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple
from urllib.parse import urlsplit

from . import settings
from .alerts import BUILT_IN, Rule, parse_rules
from .catalog import EMPTY, Catalog, load_catalog
from .errors import ConfigError
from .operators import DEFAULT_OPERATORS, OperatorKind

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KINDS = tuple(kind.value for kind in OperatorKind)
#: Twilio's pattern for a Memory Store id (Conversations v2 spec, ``memoryStoreId``).
MEMORY_STORE_ID = r"mem_(store|service)_[0-7][0-9a-z]{25}"


@dataclass(frozen=True)
class Config:
    """Every tunable of the relay; defaults from :mod:`cintel_relay.settings`. Build it with :func:`load_config`."""

    twilio_account_sid: Optional[str] = None
    twilio_auth_token: Optional[str] = field(default=None, repr=False)
    #: Public base URL Twilio calls (``SERVER_URL``); used to rebuild signed URLs.
    server_url: Optional[str] = None
    #: Addresses (phone numbers, client identities) that belong to agents.
    agent_addresses: Tuple[str, ...] = ()
    redis_url: Optional[str] = None
    redis_pool_size: int = settings.default("CINTEL_REDIS_POOL_SIZE")
    redis_ssl_verify: bool = settings.default("CINTEL_REDIS_SSL_VERIFY")
    #: ``standalone`` (one Redis, or a primary with replicas) or ``cluster`` (Redis Cluster, sharded pub/sub).
    redis_mode: str = settings.default("CINTEL_REDIS_MODE")
    #: Replicas that must confirm a webhook's writes (Redis WAIT) before it is acknowledged; 0: none.
    redis_wait_replicas: int = settings.default("CINTEL_REDIS_WAIT_REPLICAS")
    redis_wait_timeout_ms: int = settings.default("CINTEL_REDIS_WAIT_TIMEOUT_MS")
    verify_signatures: bool = settings.default("CINTEL_VERIFY_SIGNATURES")
    #: How many reverse proxies in front of us to trust for X-Forwarded-Proto/Host.
    proxy_count: int = settings.default("CINTEL_PROXY_COUNT")
    session_ttl: int = settings.default("CINTEL_SESSION_TTL")
    completed_ttl: int = settings.default("CINTEL_COMPLETED_TTL")
    log_maxlen: int = settings.default("CINTEL_LOG_MAXLEN")
    heartbeat_seconds: float = settings.default("CINTEL_HEARTBEAT_SECONDS")
    subscriber_queue: int = settings.default("CINTEL_SUBSCRIBER_QUEUE")
    #: A stream whose client has not taken a write for this long is closed (it resumes from the log).
    send_timeout: float = settings.default("CINTEL_SEND_TIMEOUT")
    max_body_bytes: int = settings.default("CINTEL_MAX_BODY_BYTES")
    script_file: Optional[str] = None
    operators: Mapping[str, OperatorKind] = field(default_factory=lambda: dict(DEFAULT_OPERATORS))
    #: ``CINTEL_OPERATORS_FILE``: operators beyond Twilio's own, how their results are shown, alert rules.
    operators_file: Optional[str] = None
    catalog: Catalog = EMPTY
    #: The alert rules the relay evaluates: the two built-in ones, then the catalog's.
    alert_rules: Tuple[Rule, ...] = BUILT_IN
    alert_urls: Tuple[str, ...] = ()
    alert_secret: Optional[str] = field(default=None, repr=False)
    web_concurrency: int = settings.default("WEB_CONCURRENCY")
    log_level: str = settings.default("CINTEL_LOG_LEVEL")
    #: Where gunicorn listens (gunicorn_conf.py reads them here, validated with everything else).
    port: int = settings.default("PORT")
    bind_host: str = settings.default("CINTEL_BIND_HOST")
    worker_connections: int = settings.default("CINTEL_WORKER_CONNECTIONS")
    #: Who may open a stream: ``flex`` (a Flex token, then a ticket) or ``none`` (anyone; local demo only).
    stream_auth: str = "none"
    #: HMAC secrets for stream tickets; the first signs, all verify (so a secret can be rotated).
    ticket_secrets: Tuple[str, ...] = field(default=(), repr=False)
    ticket_ttl: int = settings.default("CINTEL_TICKET_TTL")
    iam_url: str = settings.default("CINTEL_IAM_URL")
    taskrouter_url: str = settings.default("CINTEL_TASKROUTER_URL")
    taskrouter_workspace_sid: Optional[str] = None
    supervisor_roles: Tuple[str, ...] = settings.default("CINTEL_SUPERVISOR_ROLES")
    auth_timeout: float = settings.default("CINTEL_AUTH_TIMEOUT")
    token_cache_seconds: int = settings.default("CINTEL_TOKEN_CACHE_SECONDS")
    access_cache_seconds: int = settings.default("CINTEL_ACCESS_CACHE_SECONDS")
    cors_origins: Tuple[str, ...] = settings.default("CINTEL_CORS_ORIGINS")
    max_streams_per_identity: int = settings.default("CINTEL_MAX_STREAMS_PER_IDENTITY")
    tickets_per_minute: int = settings.default("CINTEL_TICKETS_PER_MINUTE")
    stream_opens_per_minute: int = settings.default("CINTEL_STREAM_OPENS_PER_MINUTE")
    #: Bearer token for ``GET /metrics``; unset, the endpoint answers 404.
    metrics_token: Optional[str] = field(default=None, repr=False)
    #: Webhook Rules' shared keys (``TWILIO_WEBHOOK_SHARED_KEYS``): key id -> secret.
    webhook_shared_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Seconds a whole request body may take to arrive (not per read), at most ``MAX_BODY_SECONDS``.
    body_timeout: float = settings.default("CINTEL_BODY_TIMEOUT")
    #: Failed Flex token checks per client address and minute before the relay stops asking Twilio.
    bad_tokens_per_minute: int = settings.default("CINTEL_BAD_TOKENS_PER_MINUTE")
    #: ``cintel-relay setup``: the Flex number Orchestrator captures calls of, the Memory Store it
    #: resolves profiles in, an API key (preferred to the auth token for API calls), and the two APIs.
    flex_phone_number: Optional[str] = None
    memory_store_id: Optional[str] = None
    twilio_api_key: Optional[str] = None
    twilio_api_secret: Optional[str] = field(default=None, repr=False)
    intelligence_url: str = settings.default("CINTEL_INTELLIGENCE_URL")
    conversations_url: str = settings.default("CINTEL_CONVERSATIONS_URL")
    #: Call reports: how long they are kept, where they are delivered, signed with what, and when.
    report_ttl: int = settings.default("CINTEL_REPORT_TTL")
    report_urls: Tuple[str, ...] = ()
    report_secret: Optional[str] = field(default=None, repr=False)
    report_settle_seconds: float = settings.default("CINTEL_REPORT_SETTLE_SECONDS")
    report_timeout: float = settings.default("CINTEL_REPORT_TIMEOUT")
    report_retry_seconds: float = settings.default("CINTEL_REPORT_RETRY_SECONDS")
    report_retry_max_seconds: float = settings.default("CINTEL_REPORT_RETRY_MAX_SECONDS")
    report_give_up_seconds: float = settings.default("CINTEL_REPORT_GIVE_UP_SECONDS")
    #: How long a replica holds a due item it claimed (longer than a delivery attempt may take).
    due_lease_seconds: float = settings.default("CINTEL_DUE_LEASE_SECONDS")

    @property
    def body_readers(self) -> int:
        """Bodies a worker reads at once: half its connections, so body readers alone never take them all."""
        return max(1, self.worker_connections // 2)

    @property
    def embedded(self) -> bool:
        """True when no Redis URL is configured and the in-process bus is used."""
        return not self.redis_url


def _number(env: Mapping[str, str], name: str, default, minimum, kind=int):
    """A whole number (``kind=int``) or a number (``kind=float``) of at least ``minimum``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {what}: set it to {what} such as {default}.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}: raise it or unset it to use {default}.")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: set it to true or false.")


def _text(env: Mapping[str, str], name: str, default):
    return env.get(name, "").strip() or default


#: How a setting of each type is read when the table gives it a Config field (settings.Setting.field).
_PARSERS = {
    "whole number": lambda env, s: _number(env, s.name, s.default, s.minimum, int),
    "port": lambda env, s: _number(env, s.name, s.default, s.minimum, int),
    "number": lambda env, s: _number(env, s.name, s.default, s.minimum, float),
    "boolean": lambda env, s: _bool(env, s.name, s.default),
    "list": lambda env, s: _list(env, s.name, s.default),
    "URL": lambda env, s: _url(env, s.name, s.default),
    "text": lambda env, s: _text(env, s.name, s.default),
}


def _from_table(env: Mapping[str, str]) -> dict:
    """Every setting the table gives a Config field, parsed by its type (the rules across settings come after)."""
    return {s.field: _PARSERS[s.type](env, s) for s in settings.SETTINGS if s.field}


def _operators(env: Mapping[str, str]) -> Mapping[str, OperatorKind]:
    """Twilio's operator ids plus ``CINTEL_OPERATOR_IDS`` (``kind=id,kind=id``)."""
    operators = dict(DEFAULT_OPERATORS)
    raw = env.get("CINTEL_OPERATOR_IDS", "").strip()
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kind, sep, operator_id = (part.strip() for part in item.partition("="))
        if not sep or not operator_id or kind.lower() not in _KINDS:
            raise ConfigError(
                f"CINTEL_OPERATOR_IDS entry {item!r} is not kind=operator_id: use one of {', '.join(_KINDS)} "
                "as the kind, e.g. CINTEL_OPERATOR_IDS=sentiment=intelligence_operator_01abc"
            )
        operators[operator_id] = OperatorKind(kind.lower())
    return operators


def _list(env: Mapping[str, str], name: str, default: Tuple[str, ...]) -> Tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    url = env.get(name, "").strip().rstrip("/") or default
    if not re.fullmatch(r"https?://[^/\s]+", url):
        raise ConfigError(f"{name}={url!r} is not a base URL: use scheme and host only, e.g. {default}")
    return url


def _stream_auth(env: Mapping[str, str], sid: Optional[str], token: Optional[str]) -> dict:
    """The subscriber-authentication settings; ``flex`` is the default once Twilio credentials are set."""
    mode = env.get("CINTEL_STREAM_AUTH", "").strip().lower() or ("flex" if sid and token else "none")
    if mode not in ("flex", "none"):
        raise ConfigError(f"CINTEL_STREAM_AUTH={mode!r} is not a mode: use flex (production) or none (local demo).")
    secrets = _list(env, "CINTEL_TICKET_SECRET", ())
    workspace = env.get("CINTEL_TASKROUTER_WORKSPACE_SID", "").strip() or None
    if workspace and not re.fullmatch(r"WS[0-9a-fA-F]{32}", workspace):
        raise ConfigError(
            f"CINTEL_TASKROUTER_WORKSPACE_SID={workspace!r} is not a workspace SID: copy the WS... "
            "SID of your Flex workspace from Console > TaskRouter > Workspaces."
        )
    if mode == "flex":
        for name, value in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token)):
            if not value:
                raise ConfigError(
                    f"CINTEL_STREAM_AUTH=flex needs {name} to validate Flex tokens: set it from the "
                    "Twilio Console, or set CINTEL_STREAM_AUTH=none for a local demo (never in production)."
                )
        if not secrets:
            raise ConfigError(
                "CINTEL_STREAM_AUTH=flex needs CINTEL_TICKET_SECRET to sign stream tickets: set it to a "
                "random string of 32+ characters, e.g. the output of `openssl rand -hex 32`, the same on "
                "every replica."
            )
        if not workspace:
            raise ConfigError(
                "CINTEL_STREAM_AUTH=flex needs CINTEL_TASKROUTER_WORKSPACE_SID to check which calls an "
                "agent handles: copy the WS... SID of your Flex workspace from Console > TaskRouter."
            )
    short = [s for s in secrets if len(s) < 32]
    if short:
        raise ConfigError("CINTEL_TICKET_SECRET has a secret shorter than 32 characters: use `openssl rand -hex 32`.")
    origins = _list(env, "CINTEL_CORS_ORIGINS", Config.cors_origins)
    for origin in origins:
        if not re.fullmatch(r"https?://[^/\s*]+", origin):
            raise ConfigError(
                f"CINTEL_CORS_ORIGINS entry {origin!r} is not an origin: list scheme://host[:port] "
                "values, comma-separated, without paths or wildcards, e.g. https://flex.twilio.com"
            )
    return dict(stream_auth=mode, ticket_secrets=secrets, taskrouter_workspace_sid=workspace, cors_origins=origins)


#: A slow body may hold a connection this long at most, whatever CINTEL_BODY_TIMEOUT says.
MAX_BODY_SECONDS = 30.0


def _shared_keys(env: Mapping[str, str]) -> Mapping[str, str]:
    """``TWILIO_WEBHOOK_SHARED_KEYS``: comma-separated ``keyid=secret`` pairs (several, to rotate a key)."""
    keys = {}
    for item in filter(None, (part.strip() for part in env.get("TWILIO_WEBHOOK_SHARED_KEYS", "").split(","))):
        key_id, sep, secret = (part.strip() for part in item.partition("="))
        if not sep or not key_id or not secret:
            raise ConfigError(
                "TWILIO_WEBHOOK_SHARED_KEYS has an entry that is not keyid=secret: list each Webhook "
                "Shared Key as <key id>=<secret>, comma-separated."
            )
        keys[key_id] = secret
    return keys


def _check_bounds(values: dict):
    """The rules between settings, and the caps on what one may be, once every setting is parsed."""
    if values["stream_auth"] == "flex" and not values["server_url"]:
        raise ConfigError(
            "CINTEL_STREAM_AUTH=flex needs SERVER_URL, the public base URL Twilio calls, e.g. "
            "SERVER_URL=https://relay.example.com (on Heroku, the web_url of `heroku apps:info -s`): webhook "
            "signatures are checked against it, never against the Host a request names."
        )
    if values["token_cache_seconds"] > 900:
        raise ConfigError(
            f"CINTEL_TOKEN_CACHE_SECONDS={values['token_cache_seconds']} would trust a revoked Flex token too long: "
            "use 900 or less."
        )
    if values["body_timeout"] > MAX_BODY_SECONDS:
        raise ConfigError(
            f"CINTEL_BODY_TIMEOUT={values['body_timeout']:g} would let a slow client hold a connection too long: "
            f"use {MAX_BODY_SECONDS:g} or less."
        )
    if values["port"] > 65535:
        raise ConfigError(f"PORT={values['port']} is not a TCP port: use one from 1 to 65535, e.g. {Config.port}.")
    if not values["redis_url"] and values["web_concurrency"] > 1:
        raise ConfigError(
            f"WEB_CONCURRENCY={values['web_concurrency']} but REDIS_URL is unset: the embedded bus lives in one "
            "process, so several workers would not see each other's events. Set REDIS_URL, or WEB_CONCURRENCY=1."
        )
    if values["due_lease_seconds"] <= values["report_timeout"]:
        raise ConfigError(
            f"CINTEL_DUE_LEASE_SECONDS={values['due_lease_seconds']} must exceed "
            f"CINTEL_REPORT_TIMEOUT={values['report_timeout']}: otherwise another replica could retry a delivery "
            "still in flight. Raise the lease."
        )


def _control_plane(env: Mapping[str, str]) -> dict:
    """The settings ``cintel-relay setup`` and ``check`` use to configure Twilio."""
    number = env.get("TWILIO_FLEX_PHONE_NUMBER", "").strip() or None
    if number and not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        raise ConfigError(f"TWILIO_FLEX_PHONE_NUMBER={number!r} is not an E.164 number: write it as +18005550199.")
    store = env.get("CINTEL_MEMORY_STORE_ID", "").strip() or None
    if store and not re.fullmatch(MEMORY_STORE_ID, store):
        raise ConfigError(
            f"CINTEL_MEMORY_STORE_ID={store!r} is not a Memory Store id: copy the mem_store_... id from "
            "Console > Conversation Memory > Memory stores."
        )
    key = env.get("TWILIO_API_KEY", "").strip() or None
    secret = env.get("TWILIO_API_SECRET", "").strip() or None
    if key and not re.fullmatch(r"SK[0-9a-fA-F]{32}", key):
        raise ConfigError(f"TWILIO_API_KEY={key!r} is not an API key SID: copy the SK... SID from Console > API keys.")
    if bool(key) != bool(secret):
        raise ConfigError(
            "TWILIO_API_KEY and TWILIO_API_SECRET go together: set both (an API key and its secret) "
            "or neither (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are used then)."
        )
    return dict(flex_phone_number=number, memory_store_id=store, twilio_api_key=key, twilio_api_secret=secret)


def _alerts(env: Mapping[str, str], catalog: Catalog) -> dict:
    """The alert rules (validated against the catalog's operators) and where alerts are delivered."""
    operators = {}
    for entry in catalog.entries:
        operators[entry.key] = entry.operator_id or entry.key
        if entry.operator_id:
            operators[entry.operator_id] = entry.operator_id
    urls, secret = _signed_urls(env, "CINTEL_ALERT_URL", "CINTEL_ALERT_SECRET")
    return dict(alert_rules=parse_rules(catalog.alerts, operators), alert_urls=urls, alert_secret=secret)


def _signed_urls(env: Mapping[str, str], urls_name: str, secret_name: str) -> Tuple[Tuple[str, ...], Optional[str]]:
    """The http(s) URLs ``urls_name`` lists, and ``secret_name``, the secret that signs what is sent to them: 32
    characters or more once any URL is set."""
    urls = _list(env, urls_name, ())
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{urls_name} has {url!r}, not an http(s) URL: write https://host/path.")
    secret = env.get(secret_name, "").strip() or None
    if urls and (secret is None or len(secret) < 32):
        raise ConfigError(
            f"{urls_name} is set but {secret_name} is missing or shorter than 32 characters: "
            "set it to `openssl rand -hex 32` and give the same secret to the receiver."
        )
    return urls, secret


def _reports(env: Mapping[str, str]) -> dict:
    """The call reports' settings: retention, delivery URLs and secret, settling, retries and the due lease."""
    urls, secret = _signed_urls(env, "CINTEL_REPORT_URL", "CINTEL_REPORT_SECRET")
    retry = _number(env, "CINTEL_REPORT_RETRY_SECONDS", Config.report_retry_seconds, 0.1, float)
    return dict(
        report_urls=urls,
        report_secret=secret,
        # At least the first wait: the waits grow from it up to this cap.
        report_retry_max_seconds=_number(
            env, "CINTEL_REPORT_RETRY_MAX_SECONDS", Config.report_retry_max_seconds, retry, float
        ),
    )


def load_config(env: Optional[Mapping[str, str]] = None, **overrides) -> Config:
    """Read and validate the configuration from ``env`` (default: ``os.environ``).

    :raises ConfigError: naming the variable and the fix, for any bad or missing value.
    """
    env = os.environ if env is None else env
    values = _from_table(env)
    token = env.get("TWILIO_AUTH_TOKEN", "").strip() or None
    if values["verify_signatures"] and not token:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN is not set, so Twilio's webhook signatures cannot be checked: set it to your "
            "account's auth token, or set CINTEL_VERIFY_SIGNATURES=false for a local test (never in production)."
        )
    sid = env.get("TWILIO_ACCOUNT_SID", "").strip() or None
    if sid and not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
        raise ConfigError(
            f"TWILIO_ACCOUNT_SID={sid!r} is not an account SID: copy the AC... SID from the Twilio Console."
        )
    server_url = env.get("SERVER_URL", "").strip().rstrip("/") or None
    if server_url and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", server_url):
        raise ConfigError(
            f"SERVER_URL={server_url!r} is not an http(s) URL: set it to the public base URL Twilio calls, "
            "e.g. https://relay.example.com"
        )
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and not re.match(r"(redis|rediss|unix)://", redis_url):
        raise ConfigError(
            "REDIS_URL must start with redis://, rediss:// or unix://: fix it or unset it for the embedded bus."
        )
    redis_mode = env.get("CINTEL_REDIS_MODE", "").strip().lower() or Config.redis_mode
    if redis_mode not in ("standalone", "cluster"):
        raise ConfigError(
            f"CINTEL_REDIS_MODE={redis_mode!r} is not a mode: use standalone (one Redis) or cluster "
            "(Redis Cluster, with REDIS_URL naming any of its nodes)."
        )
    if redis_mode == "cluster" and not redis_url:
        raise ConfigError(
            "CINTEL_REDIS_MODE=cluster needs REDIS_URL naming a node of the cluster, e.g. "
            "redis://10.0.0.5:6379: set it, or unset CINTEL_REDIS_MODE for the embedded bus."
        )
    agents = [env.get("TWILIO_FLEX_PHONE_NUMBER", "").strip()]
    agents += env.get("CINTEL_AGENT_ADDRESSES", "").split(",")
    level = env.get("CINTEL_LOG_LEVEL", "").strip().upper() or Config.log_level
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"CINTEL_LOG_LEVEL={level!r} is not a level: use DEBUG, INFO, WARNING or ERROR.")
    script_file = env.get("CINTEL_SCRIPT_FILE", "").strip() or None
    if script_file and not os.path.isfile(script_file):
        raise ConfigError(
            f"CINTEL_SCRIPT_FILE={script_file!r} does not exist: point it at a script JSON file or unset it."
        )
    operators_file = env.get("CINTEL_OPERATORS_FILE", "").strip() or None
    catalog = load_catalog(operators_file)
    metrics_token = env.get("CINTEL_METRICS_TOKEN", "").strip() or None
    if metrics_token and len(metrics_token) < 16:
        raise ConfigError(
            "CINTEL_METRICS_TOKEN is shorter than 16 characters: use a random one, e.g. the output of "
            "`openssl rand -hex 24`, or unset it to turn /metrics off."
        )
    values.update(
        twilio_account_sid=sid,
        twilio_auth_token=token,
        server_url=server_url,
        agent_addresses=tuple(a.strip() for a in agents if a.strip()),
        redis_url=redis_url,
        redis_mode=redis_mode,
        script_file=script_file,
        operators=_operators(env),
        operators_file=operators_file,
        catalog=catalog,
        **_alerts(env, catalog),
        log_level=level,
        metrics_token=metrics_token,
        webhook_shared_keys=_shared_keys(env),
        **_stream_auth(env, sid, token),
        **_control_plane(env),
        **_reports(env),
    )
    _check_bounds(values)
    values.update(overrides)
    return Config(**values)
