"""``cintel-relay check``: what stands between this configuration and a production start, each with its fix."""

import os
import sys
from typing import List, NamedTuple, Optional
from urllib.parse import urlsplit

import redis

from ..config import Config, load_config
from ..errors import ConfigError
from ..script import load_script
from .control_plane import ControlPlane, ControlPlaneError, credentials, missing_credentials
from .plan import (
    CINTEL_WEBHOOK,
    MARKER,
    ORCHESTRATOR_WEBHOOK,
    SCRIPT_ADHERENCE,
    created_by_setup,
    operator_body,
    posts_to,
)
from .script_text import differences

#: Heroku's router closes a stream idle for 55 s; heartbeats must come well inside that.
MAX_HEARTBEAT_SECONDS = 20
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


#: The placeholders .env.example ships with, by variable: set as is, they are not configured.
PLACEHOLDERS = {
    "SERVER_URL": "https://relay.example.com",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "CINTEL_TASKROUTER_WORKSPACE_SID": "WS" + "0" * 32,
}


class Finding(NamedTuple):
    """One line of the report: what was checked, whether it is fit for production, and the fix if not."""

    ok: bool
    what: str
    fix: Optional[str] = None


def signatures(config: Config) -> Finding:
    """Webhooks must be authenticated."""
    if not config.verify_signatures:
        return Finding(
            False,
            "CINTEL_VERIFY_SIGNATURES=false: anyone can post fake call data to the webhooks",
            "unset CINTEL_VERIFY_SIGNATURES and set TWILIO_AUTH_TOKEN to your account's auth token",
        )
    return Finding(True, "webhook signatures are checked with TWILIO_AUTH_TOKEN")


def placeholders(config: Config) -> Finding:
    """Values copied from .env.example unchanged are not a configuration."""
    set_as_shipped = [
        f"{name}={value}"
        for name, value in (
            ("SERVER_URL", config.server_url),
            ("TWILIO_ACCOUNT_SID", config.twilio_account_sid),
            ("CINTEL_TASKROUTER_WORKSPACE_SID", config.taskrouter_workspace_sid),
        )
        if value and value == PLACEHOLDERS[name]
    ]
    if set_as_shipped:
        return Finding(
            False,
            f"not configured: {', '.join(set_as_shipped)} (.env.example's placeholder)",
            "replace each with your own: the relay's public URL, and the SIDs from the Twilio Console",
        )
    return Finding(True, "no placeholder from .env.example is left")


def redis_reachable(config: Config) -> Finding:
    """Redis must be configured and answer, with the relay's own connection settings."""
    if config.embedded:
        return Finding(
            False,
            "REDIS_URL is not set: the embedded bus serves one process and keeps nothing",
            "add Redis (heroku addons:create heroku-redis, or the compose redis service) and set REDIS_URL",
        )
    from ..bus.store import open_store  # the relay's own clients, so TLS options are checked exactly as they run

    store = None
    try:
        store = open_store(config)
        store.client.ping()
        short = _without_replicas(store, config.redis_wait_replicas)
    except (redis.RedisError, OSError) as exc:
        hint = ""
        if "certificate" in str(exc).lower():
            hint = (
                "; for a provider's self-signed certificate (Heroku Key-Value Store) set CINTEL_REDIS_SSL_VERIFY=false"
            )
        return Finding(
            False,
            f"Redis at REDIS_URL does not answer ({type(exc).__name__}: {exc})",
            f"check REDIS_URL (host, port, password) and that this machine may reach it{hint}",
        )
    finally:
        if store is not None:
            store.close()
    if short:
        return Finding(
            False,
            f"CINTEL_REDIS_WAIT_REPLICAS={config.redis_wait_replicas} but {', '.join(short)}: every webhook "
            "written there would get 503",
            "add replicas to that Redis (one per CINTEL_REDIS_WAIT_REPLICAS, on every master of a cluster), "
            "or lower CINTEL_REDIS_WAIT_REPLICAS",
        )
    return Finding(True, f"Redis answers at REDIS_URL ({config.redis_mode})")


def _without_replicas(store, wanted: int) -> List[str]:
    """The primaries that have fewer connected replicas than WAIT asks for, as readable phrases."""
    if not wanted:
        return []
    if store.mode == "cluster":
        nodes = store.client.get_primaries()
        counts = {n.name: store.client.get_redis_connection(n).info("replication")["connected_slaves"] for n in nodes}
    else:
        counts = {"Redis": store.client.info("replication")["connected_slaves"]}
    return [f"{name} has {count} replica(s)" for name, count in sorted(counts.items()) if count < wanted]


def redis_tls(config: Config) -> Finding:
    """Certificate checks may be off only on a ``rediss://`` URL (a provider's self-signed certificate)."""
    tls = (config.redis_url or "").startswith("rediss://")
    if config.redis_ssl_verify:
        return Finding(True, "Redis TLS certificates are verified" if tls else "Redis TLS: not used")
    if not tls:
        return Finding(
            False,
            "CINTEL_REDIS_SSL_VERIFY=false without a rediss:// REDIS_URL: it has no effect and hides a mistake",
            "unset CINTEL_REDIS_SSL_VERIFY, or use the rediss:// URL your provider gives",
        )
    return Finding(True, "Redis over TLS without certificate checks (CINTEL_REDIS_SSL_VERIFY=false, as Heroku needs)")


def public_url(config: Config) -> Finding:
    """The public URL must be set, and https (Flex is an https page)."""
    if not config.server_url:
        return Finding(
            False,
            "SERVER_URL is not set: signatures are checked against whatever host the request names",
            "set SERVER_URL to the public https URL Twilio calls (on Heroku: heroku apps:info -s | grep web_url)",
        )
    url = urlsplit(config.server_url)
    if url.scheme != "https" and url.hostname not in _LOCAL_HOSTS:
        return Finding(
            False,
            f"SERVER_URL={config.server_url} is not https: Flex (an https page) cannot open its streams",
            "serve the relay over https and set SERVER_URL=https://...",
        )
    return Finding(True, f"public URL is {config.server_url}")


def stream_auth(config: Config) -> Finding:
    """Streams must want a Flex identity."""
    mode = config.stream_auth
    if mode != "flex":
        return Finding(
            False,
            "streams are open to anyone who knows a Call SID (stream auth: none)",
            "set CINTEL_STREAM_AUTH=flex with TWILIO_ACCOUNT_SID, CINTEL_TICKET_SECRET "
            "(openssl rand -hex 32) and CINTEL_TASKROUTER_WORKSPACE_SID",
        )
    return Finding(True, "streams need a Flex token (stream auth: flex)")


def cors(config: Config) -> Finding:
    """Only https origins (Flex's) may read streams from a browser."""
    origins = config.cors_origins
    if not origins:
        return Finding(
            False,
            "no CORS origin is allowed: the Flex plugin cannot read streams from another origin",
            "set CINTEL_CORS_ORIGINS=https://flex.twilio.com",
        )
    insecure = [o for o in origins if not o.startswith("https://")]
    if insecure:
        return Finding(
            False,
            f"CINTEL_CORS_ORIGINS allows {', '.join(insecure)}: a development origin in production",
            "list only https origins, e.g. CINTEL_CORS_ORIGINS=https://flex.twilio.com",
        )
    return Finding(True, f"CORS allows {', '.join(origins)}")


def heartbeat(config: Config) -> Finding:
    """Idle streams must send heartbeats well inside proxies' idle timeouts."""
    if config.heartbeat_seconds > MAX_HEARTBEAT_SECONDS:
        return Finding(
            False,
            f"CINTEL_HEARTBEAT_SECONDS={config.heartbeat_seconds:g}: proxies cut idle streams (Heroku at 55 s)",
            "unset CINTEL_HEARTBEAT_SECONDS to use 15",
        )
    return Finding(True, f"idle streams get a heartbeat every {config.heartbeat_seconds:g} s")


CHECKS = (signatures, placeholders, redis_reachable, redis_tls, public_url, stream_auth, cors, heartbeat)
SETUP_FIX = "cintel-relay setup --yes (run it without --yes first to see what it will change)"


def _ours(resources, url: str, urls_of) -> Optional[dict]:
    """The configuration serving this relay: made by ``cintel-relay setup`` (posting here first), else one made in
    Console that posts here."""
    resources = list(resources)
    marked = [r for r in resources if MARKER in (r.get("description") or "")]
    here = [r for r in resources if url in urls_of(r)]
    return next((r for r in marked if r in here), (marked or here or [None])[0])


def _intelligence_drift(config: Config, control: ControlPlane) -> List[Finding]:
    assert config.server_url is not None  # twilio_configuration calls this only once SERVER_URL is set
    url = config.server_url + CINTEL_WEBHOOK
    intel = _ours(control.intelligence_configurations(), url, posts_to)
    if intel is None:
        return [
            Finding(
                False,
                f"Twilio has no Conversation Intelligence configuration posting to {url} (nor one made "
                "by cintel-relay setup): no adherence, sentiment or summary will reach the relay",
                SETUP_FIX,
            )
        ]
    found = []
    elsewhere = sorted({u for u in posts_to(intel) if u != url})
    if elsewhere:
        found.append(
            Finding(False, f"rules of {intel['displayName']!r} post to {', '.join(elsewhere)}, not {url}", SETUP_FIX)
        )
    else:
        found.append(Finding(True, f"Conversation Intelligence rules post to {url}"))
    scripts = [
        (o.get("parameters") or {}).get("script", "")
        for rule in intel.get("rules") or []
        for o in rule.get("operators") or []
        if o.get("id") == SCRIPT_ADHERENCE
    ]
    if not scripts:
        return found + [Finding(False, f"{intel['displayName']!r} has no Script Adherence rule", SETUP_FIX)]
    problems = differences(load_script(config.script_file), scripts[0])
    if problems:
        found.append(
            Finding(
                False,
                "Twilio's Script Adherence script and the relay's script disagree, so the checklist "
                f"cannot tick: {'; '.join(problems)}",
                SETUP_FIX,
            )
        )
    else:
        found.append(Finding(True, "Twilio's Script Adherence script has the relay's categories and weights"))
    return found


def _operator_drift(config: Config, control: ControlPlane) -> List[Finding]:
    """Each catalog operator exists in Twilio, and one setup creates still has the catalog's definition."""
    if not config.catalog.entries:
        return []
    operators = list(control.operators())
    found = []
    for entry in config.catalog.entries:
        twilio = next((o for o in operators if entry.operator_id and o.get("id") == entry.operator_id), None)
        twilio = twilio or (created_by_setup(operators, entry) if entry.definition else None)
        if twilio is None:
            fix = SETUP_FIX if entry.definition else f"create it in Console, or correct operatorId of {entry.key!r}"
            found.append(Finding(False, f"operator {entry.name!r} ({entry.key}) is not in Twilio", fix))
            continue
        if entry.definition is not None:
            wanted = operator_body(entry)
            drift = [
                f for f in ("prompt", "outputFormat", "outputSchema", "description") if twilio.get(f) != wanted.get(f)
            ]
            if drift:
                found.append(
                    Finding(
                        False,
                        f"operator {entry.name!r} ({twilio.get('id')}) differs from the catalog in {', '.join(drift)}",
                        SETUP_FIX,
                    )
                )
                continue
        learned = "" if entry.operator_id else "; the relay learns its id by name at start"
        found.append(
            Finding(True, f"operator {entry.name!r} is in Twilio ({twilio.get('id')}) as the catalog has it{learned}")
        )
    return found


def _orchestrator_drift(config: Config, control: ControlPlane) -> Finding:
    assert config.server_url is not None  # twilio_configuration calls this only once SERVER_URL is set
    url = config.server_url + ORCHESTRATOR_WEBHOOK
    orch = _ours(
        control.orchestrator_configurations(), url, lambda r: [c.get("url") for c in r.get("statusCallbacks") or []]
    )
    if orch is None:
        return Finding(
            False,
            f"Twilio has no Conversation Orchestrator configuration posting to {url} (nor one made "
            "by cintel-relay setup): calls are not captured, so no transcript reaches the relay",
            SETUP_FIX,
        )
    callbacks = [c.get("url") for c in orch.get("statusCallbacks") or []]
    if url not in callbacks:
        return Finding(
            False,
            f"Orchestrator configuration {orch.get('displayName')!r} posts its events to "
            f"{', '.join(callbacks) or 'nowhere'}, not {url}",
            SETUP_FIX,
        )
    if not orch.get("intelligenceConfigurationIds"):
        return Finding(
            False,
            f"Orchestrator configuration {orch.get('displayName')!r} links no Intelligence "
            "configuration, so no operator runs",
            SETUP_FIX,
        )
    return Finding(True, f"Conversation Orchestrator posts events to {url}")


def twilio_configuration(config: Config) -> List[Finding]:
    """Twilio's configurations exist and agree with the relay's script and SERVER_URL; skipped without credentials."""
    if credentials(config) is None:
        skipped = Finding(
            True,
            "Twilio configuration: not checked (no TWILIO_API_KEY/TWILIO_API_SECRET or "
            "TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN; the local demo needs none)",
        )
        unknown = [entry.key for entry in config.catalog.entries if entry.operator_id is None]
        if not unknown:
            return [skipped]
        return [
            skipped,
            Finding(
                False,
                f"catalog operator(s) {', '.join(unknown)} have no known id: the relay learns the id Twilio assigned "
                "by name at start, which needs Twilio credentials; without them it recognizes only results whose "
                "webhook names the operator",
                "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY/TWILIO_API_SECRET), or give each "
                "entry its operatorId (cintel-relay setup --json prints them)",
            ),
        ]
    if not config.server_url:
        return [
            Finding(
                False,
                "Twilio configuration: not checked, SERVER_URL is not set",
                "set SERVER_URL, then run cintel-relay setup --yes",
            )
        ]
    try:
        control = ControlPlane(config, progress=lambda line: None, timeout=config.auth_timeout)
        return (
            _intelligence_drift(config, control)
            + _operator_drift(config, control)
            + [_orchestrator_drift(config, control)]
        )
    except (ControlPlaneError, ConfigError) as exc:
        return [
            Finding(
                False,
                f"Twilio configuration cannot be checked: {exc}",
                "fix the credentials or network named above, then run cintel-relay check again",
            )
        ]


def findings(config: Config) -> List[Finding]:
    """Every check's finding, in report order; Twilio's configuration last (it asks Twilio)."""
    return [check(config) for check in CHECKS] + twilio_configuration(config)


def run(env=None, out=sys.stdout) -> int:
    """Print the report; 0 when the configuration is fit for production, 1 otherwise."""
    no_credentials = missing_credentials(os.environ if env is None else env)
    if no_credentials:
        print(f"FAIL  {no_credentials}", file=out)
        return 1
    try:
        config = load_config(env)
    except ConfigError as exc:
        print(f"FAIL  the configuration does not load: {exc}", file=out)
        return 1
    report = findings(config)
    for finding in report:
        print(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.what}", file=out)
        if not finding.ok:
            print(f"      fix: {finding.fix}", file=out)
    failed = sum(not f.ok for f in report)
    print(f"{failed} problem(s): fix them before a production start." if failed else "ready for production.", file=out)
    return 1 if failed else 0
