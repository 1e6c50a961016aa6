"""The ``cintel-relay`` command as a new user meets it: help, version, where to start, and typos named."""

from cintel_relay import __version__
from cintel_relay.settings import unknown

from .support import (
    base_env,
    run_command,
)

COMMANDS = ["demo", "serve", "check", "simulate", "setup"]


def cli(*args, **env):
    return run_command(*args, env=base_env(**env))


def test_a_bare_call_prints_the_help_pointing_to_the_demo_and_serves_nothing():
    done = cli()
    assert done.returncode == 2 and done.stderr == ""
    assert "New here? Run `cintel-relay demo`" in done.stdout and "usage: cintel-relay" in done.stdout


def test_version():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout == f"cintel-relay {__version__}\n"


def test_every_command_has_a_line_in_the_help_and_a_description_of_its_own():
    listing = cli("--help").stdout
    for command in COMMANDS:
        line = next(line for line in listing.splitlines() if line.strip().startswith(command + " "))
        assert len(line.split(None, 1)[1]) > 20, line
        own = cli(command, "--help").stdout.split("\n\n")
        assert own[0].startswith(f"usage: cintel-relay {command}") and own[1][0].isupper(), own[:2]


def test_a_set_but_unknown_cintel_variable_is_named_with_the_setting_it_resembles():
    done = cli("check", CINTEL_HEARTBEAT_SECOND="5", CINTEL_PORT="8080", CINTEL_VERIFY_SIGNATURES="false")
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "cintel-relay: warning: CINTEL_HEARTBEAT_SECOND is set but is not a setting of the relay, so it has no "
        "effect: did you mean CINTEL_HEARTBEAT_SECONDS?"
    ]
    assert unknown({"CINTEL_LOG_LEVEL": "INFO", "CINTEL_PORT": "8080", "PATH": "/bin"}) == []
    assert unknown({"CINTEL_QWERTY": "1"}) == [
        "CINTEL_QWERTY is set but is not a setting of the relay, so it has no effect: the settings are listed "
        "in README.md"
    ]
