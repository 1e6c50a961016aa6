"""The ``cintel-relay`` command."""

import argparse
import os
import sys

from . import __version__
from .config import load_config
from .errors import ConfigError
from .settings import unknown
from .setup import check
from .setup import command as setup_command
from .simulator import demo
from .simulator import player as simulator

#: gunicorn with the relay's settings; ``cintel-relay serve`` (the Procfile's command) runs it.
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:cintel_relay.server.gunicorn_conf", "cintel_relay.wsgi:app"]


def serve(args):
    """Validate the configuration, then run gunicorn with the relay's settings."""
    env = dict(os.environ)
    if args.port:
        env["PORT"] = str(args.port)
    try:
        load_config(env)
    except ConfigError as exc:
        sys.exit(f"cintel-relay: {exc}")
    # Validated before gunicorn starts: gunicorn reads WEB_CONCURRENCY itself on import, with a traceback
    # for a value that is not a number.
    os.execvpe(sys.executable, GUNICORN, env)


#: What a bare ``cintel-relay`` prints under the commands: where a new user starts.
START_HERE = (
    "New here? Run `cintel-relay demo`: simulated calls and the live console in your browser, no Twilio "
    "account needed. In production the relay runs as `cintel-relay serve` (the Procfile's command)."
)


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary is both its line in ``--help`` and its own ``--help`` description."""
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="cintel-relay",
        description="Relays Twilio Conversation Intelligence results, live, to the Flex agent desktop.",
        epilog=START_HERE,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_cmd = _command(commands, "demo", "run the relay with simulated calls and the live console (start here)")
    demo_cmd.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    demo_cmd.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help="also let pages from ORIGIN (scheme://host[:port]) call the relay, e.g. the plugin's "
        "harness at http://localhost:8080; repeat for several",
    )
    simulator.add_arguments(demo_cmd, standalone=False)
    demo_cmd.set_defaults(func=demo.main, calls=3)
    serve_cmd = _command(commands, "serve", "run the relay in production (gunicorn, gevent worker)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    serve_cmd.set_defaults(func=serve)
    check_cmd = _command(commands, "check", "say what is wrong or missing for a production start, with the fix")
    check_cmd.set_defaults(func=lambda args: sys.exit(check.run()))
    simulate_cmd = _command(commands, "simulate", "replay realistic signed Twilio calls against a running relay")
    simulator.add_arguments(simulate_cmd)
    simulate_cmd.set_defaults(func=simulator.main)
    setup_cmd = _command(
        commands,
        "setup",
        "make Twilio's Intelligence and Orchestrator configurations match the relay (prints the plan; --yes "
        "applies it)",
    )
    setup_command.add_arguments(setup_cmd)
    setup_cmd.set_defaults(func=setup_command.main)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    for warning in unknown(os.environ):
        print(f"cintel-relay: warning: {warning}", file=sys.stderr, flush=True)
    args.func(args)


if __name__ == "__main__":
    main()
