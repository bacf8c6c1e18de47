"""The README and the docs site: the site builds with mkdocs in strict mode (every page in the nav,
no broken link or anchor), and what a reader copies out of them works as written."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.docs import DOCS, README, REPO, fenced_blocks, section

from boxwise import __version__
from boxwise.cli import COMMANDS, build_parser
from boxwise.config import load_settings
from boxwise.findings import RULES


def mkdocs_build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_the_site_builds_in_strict_mode_with_the_included_pages(tmp_path: Path) -> None:
    result = mkdocs_build(REPO, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    # SECURITY.md and tests/corpus/README.md live outside docs/ and are included, not copied
    corpus = (tmp_path / "site" / "corpus" / "index.html").read_text()
    assert "boxwise-plain:bookworm" in corpus and "Running it" in corpus
    security = (tmp_path / "site" / "security" / "index.html").read_text()
    assert "Reporting a vulnerability" in security and "--8&lt;--" not in security


def test_the_strict_build_fails_on_a_page_left_out_of_the_nav_and_on_a_broken_link(tmp_path: Path) -> None:
    # The check above is only worth something if mkdocs.yml keeps these checks on.
    root = tmp_path / "repo"
    shutil.copytree(DOCS, root / "docs")
    for name in ("mkdocs.yml", "SECURITY.md", "tests/corpus/README.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, root / name)
    (root / "docs" / "orphan.md").write_text("# Not in the nav\n")
    with (root / "docs" / "ci.md").open("a") as page:
        page.write("\nSee [the gate](inspect-gate.md#no-such-heading) and [this](missing.md).\n")
    result = mkdocs_build(root, tmp_path / "site")
    assert result.returncode != 0
    for expected in ("orphan.md", "no-such-heading", "missing.md"):
        assert expected in result.stderr, result.stderr


def test_every_docs_page_is_in_the_nav() -> None:
    # named here too, so that a page added in docs/ fails with its name, not only inside mkdocs' log
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    listed = set(re.findall(r"[\w-]+\.md", str(nav)))
    assert {page.name for page in DOCS.glob("*.md")} == listed


def test_the_readme_stays_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, "README.md is the front door: put reference text in a docs/*.md page"
    for link in ("SECURITY.md", "CHANGELOG.md", "LICENSE"):
        assert f"]({link})" in README.read_text()
        assert (REPO / link).is_file()
    assert section(README, "## Install")


def test_the_readme_two_commands_are_what_ci_runs() -> None:
    demo, test = (block.strip() for block in fenced_blocks(README, "## Two commands", "sh"))
    assert (demo, test) == ("bash scripts/demo.sh", "bash scripts/test.sh")
    assert (REPO / "scripts" / "demo.sh").is_file() and (REPO / "scripts" / "test.sh").is_file()
    ci_commands = [
        line.partition("#")[0].split() for line in (REPO / ".ci" / "run").read_text().splitlines()
        if "scripts/" in line
    ]  # fmt: skip
    # the README's test command, with pytest options only (quiet, the slowest tests named)
    assert len(ci_commands) == 1 and " ".join(ci_commands[0][:2]) == test, ci_commands
    assert all(arg.startswith("-") for arg in ci_commands[0][2:]), ci_commands


def test_every_command_is_named_in_the_readme_and_described_in_the_reference() -> None:
    readme = section(README, "## Commands")
    table = section(DOCS / "commands.md", "## Commands")
    for command in COMMANDS:
        assert f"`{command}`" in readme or f"`boxwise {command}`" in readme, command
        assert re.search(rf"^\| `boxwise {command}\b", table, re.M), command


def test_the_readme_pre_commit_config_is_valid_and_names_real_hooks(tmp_path: Path) -> None:
    (block,) = fenced_blocks(README, "## pre-commit and git hooks")
    assert fenced_blocks(DOCS / "hooks.md") == [block]
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(block)
    result = subprocess.run(["pre-commit", "validate-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    parsed = yaml.safe_load(block)
    # a release is the tag X.Y.Z (scripts/release_check.py): that is what `rev` must name
    assert [repo["rev"] for repo in parsed["repos"]] == [__version__]
    used = [hook["id"] for repo in parsed["repos"] for hook in repo["hooks"]]
    assert used == ["boxwise-detect", "boxwise-build", "boxwise-gate"]
    assert set(used) <= set(hooks)
    # the build and gate hooks run on push: the config must install that hook type
    for hook_id in used:
        stages = set(hooks[hook_id].get("stages", ["pre-commit"])) - {"manual"}
        assert stages <= set(parsed["default_install_hook_types"]), hook_id


def documented_commands() -> list[tuple[str, str]]:
    """Every `boxwise …` line of the shell blocks a reader copies (continuations joined)."""
    found = []
    for path in (README, *sorted(DOCS.glob("*.md"))):
        for block in fenced_blocks(path, None, "sh"):
            for line in block.replace("\\\n", " ").splitlines():
                if (
                    line.startswith("boxwise ") and "[" not in line
                ):  # `boxwise ci [--apps APP...]`: a synopsis
                    found.append((path.name, line))
    return found


DOCUMENTED_COMMANDS = documented_commands()


@pytest.mark.parametrize(
    ("page", "line"),
    [
        pytest.param(page, line, id=f"{page}-{line.split()[1]}-{n}")
        for n, (page, line) in enumerate(DOCUMENTED_COMMANDS)
    ],
)
def test_every_documented_command_line_is_accepted_by_the_cli(page: str, line: str) -> None:
    argv = shlex.split(line, comments=True)
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exit:
        pytest.fail(f"{page}: `{line}` is refused by the command line (exit {exit.code})")


def test_the_readme_report_example_shows_report_and_ci() -> None:
    commands = {line.split()[1] for page, line in DOCUMENTED_COMMANDS if page == README.name}
    assert {"report", "ci"} <= commands


@pytest.mark.parametrize("page", ["commands.md", "inspect-gate.md", "report.md"])
def test_documented_configuration_loads_without_a_warning(page: str, tmp_path: Path) -> None:
    blocks = [block for block in fenced_blocks(DOCS / page, None, "toml") if "[tool.boxwise" in block]
    assert blocks
    for number, block in enumerate(blocks):
        repo = tmp_path / str(number)
        (repo / ".git").mkdir(parents=True)
        (repo / "pyproject.toml").write_text(block)
        settings = load_settings(repo)
        assert settings.warnings == (), f"{page} block {number}: {settings.warnings}"


def test_the_lint_rules_page_lists_every_rule_with_its_severity() -> None:
    rows = re.findall(r"^\| `([a-z-]+)` \| (error|warning)", section(DOCS / "lint-rules.md"), re.M)
    assert dict(rows) == {rule: severity for rule, (severity, _) in RULES.items()}
