"""``cintel-relay setup``: make Twilio's Intelligence and Orchestrator configurations match the relay; plan first.

Without ``--yes`` it prints the plan and changes nothing. Progress goes to stderr, so ``--json`` leaves
stdout to the JSON of the resulting ids. Exit status: 0 done (or planned), 1 refused or failed.
"""

import argparse
import json
import os
import re
import sys
import unicodedata

from ..config import load_config
from ..errors import ConfigError
from ..script import load_script
from .control_plane import ControlPlane, ControlPlaneError
from .plan import CREATE, DEFAULT_NAME, GROUPINGS, OPERATOR, Options, apply, delete_plan, ids_of, missing, plan
from .report import render_plan


def _name(value: str) -> str:
    """Both APIs take the name: Orchestrator's rule (32 characters of letters, digits, space, - and _) is the stricter."""
    if not re.fullmatch(r"[a-zA-Z0-9_ -]{1,32}", value):
        raise argparse.ArgumentTypeError(f"{value!r}: use up to 32 letters, digits, spaces, - or _")
    return value


def _every(value: str) -> int:
    """Twilio's trigger count is 1 to 20."""
    if not value.isdigit() or not 1 <= int(value) <= 20:
        raise argparse.ArgumentTypeError(f"{value!r}: Twilio runs a rule every 1 to 20 communications")
    return int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument("--yes", action="store_true", help="apply the plan (without it, only print it)")
    parser.add_argument(
        "--delete", action="store_true", help="remove the configurations (and catalog operators) this command created"
    )
    parser.add_argument("--json", action="store_true", help="print the resulting ids as JSON on stdout")
    parser.add_argument("--name", type=_name, default=DEFAULT_NAME, help=f"display name (default {DEFAULT_NAME})")
    parser.add_argument(
        "--summary-every",
        type=_every,
        default=5,
        metavar="N",
        help="run Sentiment + Summary every N communications (default 5)",
    )
    parser.add_argument("--suggestions", action="store_true", help="add Twilio's Next Best Response operator")
    parser.add_argument(
        "--grouping",
        choices=GROUPINGS,
        default=GROUPINGS[0],
        help=f"how Orchestrator groups communications into conversations (default {GROUPINGS[0]})",
    )
    parser.add_argument(
        "--memory-store", metavar="mem_store_...", help="Memory Store id (default $CINTEL_MEMORY_STORE_ID)"
    )


def printable(text: str) -> str:
    """``text`` with control and format characters escaped (line breaks kept): names, messages and statuses come
    from the control plane, and an escape sequence in one must not reach the operator's terminal."""
    return "".join(
        c
        if c == "\n" or unicodedata.category(c)[0] != "C"
        else f"\\u{ord(c):04x}"
        if ord(c) > 0xFF
        else f"\\x{ord(c):02x}"
        for c in text
    )


def run(args, out=sys.stdout, err=sys.stderr) -> int:
    """Plan, and with ``--yes`` apply; every failure is one line naming the fix, never a traceback."""

    def say(line: str) -> None:
        print(printable(line), file=err if args.json else out, flush=True)

    applying = False
    lacking = missing(os.environ, deleting=args.delete)
    if lacking:
        for line in lacking:
            print(f"cintel-relay setup: {line}", file=err)
        return 1
    try:
        config = load_config()
        if args.memory_store and not re.fullmatch(r"mem_(store|service)_[0-7][0-9a-z]{25}", args.memory_store):
            raise ConfigError(f"--memory-store {args.memory_store!r} is not a Memory Store id (mem_store_...)")
        options = Options(
            name=args.name,
            summary_every=args.summary_every,
            suggestions=args.suggestions,
            grouping=args.grouping,
            memory_store=args.memory_store,
            catalog=config.catalog,
        )
        control = ControlPlane(config, progress=lambda line: print(printable(f"... {line}"), file=err, flush=True))
        planned = (
            delete_plan(control, options)
            if args.delete
            else plan(control, config, load_script(config.script_file), options)
        )
        say(render_plan(planned))
        ids = ids_of(planned) if not args.delete else {}
        if planned.writes and args.yes:
            applying = True
            ids = apply(control, config, options, planned)
            say("Done: Twilio matches the relay." if not args.delete else "Done: deleted.")
            if any(c.kind == OPERATOR and c.action == CREATE for c in planned.changes):
                say(
                    "Restart the relay (heroku restart, or docker compose restart relay): it learns the ids Twilio "
                    "assigned to the new operators by their names when it starts."
                )
        elif planned.writes:
            say(f"Nothing was changed. Run `cintel-relay setup{' --delete' if args.delete else ''} --yes` to apply it.")
    except (ConfigError, ControlPlaneError) as exc:
        again = " (the steps before this one were applied: fix it and run the same command again)" if applying else ""
        print(printable(f"cintel-relay setup: {exc}{again}"), file=err)
        return 1
    if args.json:
        print(json.dumps(ids, indent=2, sort_keys=True), file=out)
    return 0


def main(args) -> None:
    """Entry point for the subcommand."""
    sys.exit(run(args))
