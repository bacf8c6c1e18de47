"""The command line itself: version, help, and the one-line error contract."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import subprocess
import sys

from boxwise import __version__
from boxwise.cli import COMMANDS, OPTIONS, build_parser


def boxwise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "boxwise", *args], capture_output=True, text=True)


def test_version_prints_the_package_version() -> None:
    result = boxwise("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"boxwise {__version__}"


def test_help_lists_every_subcommand_of_the_design() -> None:
    result = boxwise("--help")
    assert result.returncode == 0
    design = {"detect", "build", "buildpacks", "rebase", "inspect", "gate", "diff", "report", "ci", "plan"}
    for command in design:
        assert command in result.stdout
    assert set(COMMANDS) == design


def test_every_subcommand_names_a_function_that_exists_and_gets_an_options_object() -> None:
    assert set(OPTIONS) == set(COMMANDS)  # no command reads an argparse Namespace itself
    parser = build_parser()
    for command, target in COMMANDS.items():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name, None)), f"{command}: {target}"
        required = {"rebase": ["IMG", "--run-image", "BASE"], "gate": ["REF"], "inspect": ["REF"],
                    "diff": ["OLD", "NEW"], "report": ["REF"]}.get(command, [])  # fmt: skip
        options = OPTIONS[command](parser.parse_args([command, *required]))
        assert dataclasses.is_dataclass(options), command


def test_unknown_option_is_a_usage_error_with_exit_2() -> None:
    result = boxwise("detect", "--no-such-flag")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_command_line_parses_and_helps_as_the_whole_parser_does() -> None:
    # a run builds only its own subcommand's arguments: the others are named for --help alone
    from boxwise.cli import SUBCOMMANDS, command_named

    assert set(SUBCOMMANDS) == set(COMMANDS)
    assert command_named(["-C", "inspect", "gate", "REF"]) == "gate"  # -C's folder is no command
    assert command_named(["--version"]) is None and command_named(["nope"]) is None
    whole = build_parser()
    for command in COMMANDS:
        argv = [command, "--help"]
        assert command_named(argv) == command
        alone = build_parser(command_named(argv))
        assert _subcommand(alone, command).format_help() == _subcommand(whole, command).format_help()
    assert build_parser("inspect").format_help() == whole.format_help()
    result = boxwise("-C", "/", "gate", "--format", "json")  # the gate's own usage error, exit 2
    assert result.returncode == 2 and "the following arguments are required: REF" in result.stderr


def test_help_is_as_wide_as_the_terminal_says() -> None:
    def help_lines(columns: int) -> list[str]:
        env = {**os.environ, "COLUMNS": str(columns)}
        result = subprocess.run(
            [sys.executable, "-m", "boxwise", "report", "--help"], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0
        return result.stdout.splitlines()

    narrow, wide = help_lines(60), help_lines(160)
    assert len(narrow) > len(wide) and max(map(len, wide)) > 60
    # only a word argparse cannot break (a list of choices) runs past the width
    assert all(len(line) <= 60 or "{" in line for line in narrow)


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[name]
