"""The ``cintel-relay`` command."""

import argparse
import os
import sys

from .config import load_config
from .errors import ConfigError
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cintel-relay", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="run the relay (gunicorn, gevent worker); the default")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    serve_cmd.set_defaults(func=serve)
    check_cmd = commands.add_parser("check", help="say what is wrong or missing for a production start")
    check_cmd.set_defaults(func=lambda args: sys.exit(check.run()))
    simulate_cmd = commands.add_parser("simulate", help="replay realistic signed Twilio calls against a relay")
    simulator.add_arguments(simulate_cmd)
    simulate_cmd.set_defaults(func=simulator.main)
    demo_cmd = commands.add_parser("demo", help="run the relay with simulated calls and the live console")
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
    setup_cmd = commands.add_parser(
        "setup",
        help="make Twilio's Intelligence and Orchestrator configurations match "
        "the relay (prints the plan; --yes applies it)",
    )
    setup_command.add_arguments(setup_cmd)
    setup_cmd.set_defaults(func=setup_command.main)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *(argv or [])])
    args.func(args)


if __name__ == "__main__":
    main()
