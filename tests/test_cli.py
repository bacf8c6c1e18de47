"""The command line itself: version, help, and the one-line error contract."""

from __future__ import annotations

import dataclasses
import importlib
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
