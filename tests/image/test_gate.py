"""`boxwise gate`: dive's CI rules, checked against the real dive on the same archive and rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.oracle import run_dive
from support.sarif import validate_sarif

from boxwise.errors import UserError
from boxwise.gate import load_rules, parse_bytes
from boxwise.units import dive_bytes

from .archives import docker_archive

# overwrite: busybox base (1 982 256 B) + 10 000 B file overwritten by 4 000 B: wasted 14 000
OVERWRITE = [[("f", "bin/busybox", 1_982_256)], [("f", "data.bin", 10_000)], [("f", "data.bin", 4_000)]]
ONELAYER = [[("f", "bin/busybox", 1_982_256)]]


@pytest.fixture(scope="module")
def overwrite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docker_archive(tmp_path_factory.mktemp("gate") / "overwrite.tar", OVERWRITE)


def _statuses(stdout: str) -> dict[str, str]:
    return {name: status for status, name in re.findall(r"(PASS|FAIL|SKIP): (\w+)", stdout)}


RULE_CASES = [
    ("rules:\n  highestWastedBytes: 14000\n  highestUserWastedPercent: 1\n", []),  # equality passes
    (
        'rules:\n  highestWastedBytes: 14kB\n  highestUserWastedPercent: "1.0"\n  lowestEfficiency: 0.995\n',
        [],
    ),
    (
        "rules:\n  highestWastedBytes: 13999\n"
        "  highestUserWastedPercent: disabled\n  lowestEfficiency: disabled\n",
        [],
    ),
    (
        "rules:\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: 1\n",
        ["--highestUserWastedPercent", "0.5", "--highestWastedBytes", "1KiB"],  # flags win over the file
    ),
    ("rules:\n  highestWastedBytes:\n", []),  # null falls back to the default (disabled)
    ("rules:\n  lowestefficiency: 0.999\n", []),  # keys are case-insensitive, as viper's
    ("rules:\n  lowestEfficiency: 0.999\n", ["--lowestEfficiency", "0.5"]),
    ("plugins: {}\nlowestEfficiency: 0.999\n", []),  # only `rules:` counts
]


@pytest.mark.parametrize(("rules", "flags"), RULE_CASES)
def test_gate_agrees_with_dive(rules: str, flags: list[str], overwrite: Path, tmp_path: Path) -> None:
    config = tmp_path / ".dive-ci"
    config.write_text(rules)
    dive = run_dive(overwrite, tmp_path, config, *flags)
    ours = run_boxwise(
        "gate", f"docker-archive:{overwrite}", "--ci-config", str(config), *flags, cwd=tmp_path
    )
    dive_statuses = _statuses(re.sub(r"\x1b\[[0-9;]*m", "", dive.ci_stdout))
    our_statuses = _statuses(ours.stdout)
    assert our_statuses.pop("highestImageBytes") == "SKIP"
    assert our_statuses == dive_statuses, ours.stdout
    assert ours.returncode == dive.ci_code, ours.stderr


# dive's current spelling (kebab-case; dive 0.13.1, the oracle here, reads only camelCase).
KEBAB_CASES = [
    "rules:\n  lowest-efficiency: 0.999\n",
    "rules:\n  highest-wasted-bytes: 13999\n  highest-user-wasted-percent: disabled\n",
    'rules:\n  highest-wasted-bytes: 14kB\n  highest-user-wasted-percent: "1.0"\n  Lowest-Efficiency: 0.5\n',
]


@pytest.mark.parametrize("rules", KEBAB_CASES)
def test_kebab_case_rules_mean_what_dive_makes_of_their_camel_case(
    rules: str, overwrite: Path, tmp_path: Path
) -> None:
    camel = re.sub(r"-(\w)", lambda m: m.group(1).upper(), rules)
    camel = camel.replace("Lowest", "lowest")
    assert camel != rules and "-" not in camel.split("rules:")[1].split(":")[0]
    (tmp_path / "camel.yml").write_text(camel)
    (tmp_path / "kebab.yml").write_text(rules)
    dive = run_dive(overwrite, tmp_path, tmp_path / "camel.yml")
    ours = run_boxwise("gate", f"docker-archive:{overwrite}", "--ci-config", "kebab.yml", cwd=tmp_path)
    dive_statuses = _statuses(re.sub(r"\x1b\[[0-9;]*m", "", dive.ci_stdout))
    our_statuses = _statuses(ours.stdout)
    assert our_statuses.pop("highestImageBytes") == "SKIP"
    assert our_statuses == dive_statuses, ours.stdout
    assert ours.returncode == dive.ci_code, ours.stderr
    assert "warning" not in ours.stderr


def test_both_spellings_of_a_rule_the_camel_case_wins_as_in_dive_and_a_warning_says_so(
    overwrite: Path, tmp_path: Path
) -> None:
    (tmp_path / ".dive-ci").write_text(
        "rules:\n  lowestEfficiency: 0.5\n  lowest-efficiency: 0.999\n  highest-user-wasted-percent: 1\n"
    )
    result = run_boxwise(
        "gate", f"docker-archive:{overwrite}", "--ci-config", ".dive-ci", "--format", "json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = {rule["name"]: rule for rule in json.loads(result.stdout)["rules"]}
    assert rules["lowestEfficiency"]["threshold"] == 0.5
    assert (
        "boxwise: warning: .dive-ci rules: both lowestEfficiency (0.5) and lowest-efficiency (0.999) are set;"
        " lowestEfficiency is used" in result.stderr
    )


def test_a_misspelt_rule_warns_with_the_nearest_name_and_the_default_applies(
    overwrite: Path, tmp_path: Path
) -> None:
    (tmp_path / ".dive-ci").write_text("rules:\n  lowest-efficency: 0.5\n  highestWastdBytes: 1\n")
    result = run_boxwise(
        "gate", f"docker-archive:{overwrite}", "--ci-config", ".dive-ci", "--format", "json", cwd=tmp_path
    )
    warnings = result.stderr.strip().splitlines()
    assert warnings == [
        "boxwise: warning: .dive-ci: unknown rule 'rules.lowest-efficency' (ignored);"
        " did you mean 'lowest-efficiency'?",
        "boxwise: warning: .dive-ci: unknown rule 'rules.highestWastdBytes' (ignored);"
        " did you mean 'highestWastedBytes'?",
    ]
    rules = {rule["name"]: rule for rule in json.loads(result.stdout)["rules"]}
    assert rules["lowestEfficiency"]["threshold"] == 0.9  # the default, not the misspelt 0.5
    assert rules["highestWastedBytes"]["status"] == "SKIP"


def test_pyproject_gate_takes_both_spellings_and_warns_on_a_typo(overwrite: Path, make_git_repo) -> None:
    repo = make_git_repo(
        {
            "pyproject.toml": (
                "[tool.boxwise.gate]\nhighest-wasted-bytes = 13999\nhighestUserWastedPercent = 1\n"
                'highest-image-byte = "1MB"\n'
            ),
        }
    )
    result = run_boxwise("gate", f"docker-archive:{overwrite}", "--format", "json", cwd=repo)
    assert result.returncode == 1
    rules = {rule["name"]: rule for rule in json.loads(result.stdout)["rules"]}
    assert rules["highestWastedBytes"]["status"] == "FAIL"  # kebab-case read
    assert rules["highestUserWastedPercent"]["threshold"] == 1  # camelCase read
    assert rules["highestImageBytes"]["status"] == "SKIP"  # the typo is not applied ...
    assert (  # ... and said
        "boxwise: warning: unknown key 'tool.boxwise.gate.highest-image-byte' in pyproject.toml (ignored);"
        " did you mean 'highest-image-bytes'?" in result.stderr
    )


def test_gate_reads_repo_root_dive_ci_and_pyproject(overwrite: Path, make_git_repo) -> None:
    repo = make_git_repo(
        {
            ".dive-ci": "rules:\n  highestWastedBytes: 13999\n",
            "pyproject.toml": (
                "[tool.boxwise.gate]\nhighestUserWastedPercent = 1\nlowestEfficiency = 0.5\n"
                'highestImageBytes = "1MB"\n'
            ),
        }
    )
    (repo / "sub").mkdir()
    result = run_boxwise("gate", f"docker-archive:{overwrite}", "--format", "json", cwd=repo / "sub")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    rules = {rule["name"]: rule for rule in verdict["rules"]}
    assert rules["highestWastedBytes"]["status"] == "FAIL"  # from .dive-ci at the repo root
    assert rules["highestWastedBytes"]["threshold"] == 13_999
    assert rules["highestWastedBytes"]["figure"] == 14_000
    assert rules["highestUserWastedPercent"]["status"] == "PASS"  # 1.0 == 1: equality passes
    assert rules["lowestEfficiency"]["status"] == "PASS"
    assert rules["highestImageBytes"]["status"] == "FAIL"  # 1 996 256 > 1 000 000
    assert verdict["passed"] is False and verdict["accounting"] == "dive"


def test_sarif_points_each_failed_rule_at_the_line_that_set_it(
    overwrite: Path, make_git_repo, tmp_path
) -> None:
    repo = make_git_repo(
        {
            ".dive-ci": "# team rules\nrules:\n  highest-wasted-bytes: 13999\n",
            "pyproject.toml": '[project]\nname = "x"\n\n[tool.boxwise.gate]\nhighestImageBytes = "1MB"\n',
        }
    )
    result = run_boxwise(
        "gate", f"docker-archive:{overwrite}", "--format", "sarif", "--lowestEfficiency", "0.999", cwd=repo
    )
    assert result.returncode == 1, result.stderr
    checked = validate_sarif(result.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        "highestImageBytes",
        "highestUserWastedPercent",
        "highestWastedBytes",
        "lowestEfficiency",
    ]
    where = {
        r["ruleId"]: (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"),
        )
        for r in run["results"]
    }
    assert where == {
        "highestWastedBytes": (".dive-ci", 3),  # the line of the threshold that failed
        "highestImageBytes": ("pyproject.toml", 5),
        "lowestEfficiency": ("pyproject.toml", None),  # a flag: where [tool.boxwise.gate] would set it
        "highestUserWastedPercent": ("pyproject.toml", None),  # the default 0.1 fails this image too
    }
    wasted = next(r for r in run["results"] if r["ruleId"] == "highestWastedBytes")
    assert wasted["level"] == "error"
    assert "wasted-bytes=14000 > threshold=13999" in wasted["message"]["text"]
    assert run["properties"]["boxwise.gate"]["passed"] is False


def test_sarif_of_a_passing_image_has_no_result(overwrite: Path, tmp_path: Path) -> None:
    args = ("--highestUserWastedPercent", "disabled", "--lowestEfficiency", "0.5")
    result = run_boxwise("gate", f"docker-archive:{overwrite}", "--format", "sarif", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"][0]["results"] == []
    checked = validate_sarif(result.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_exact_accounting_changes_the_figures(overwrite: Path, tmp_path: Path) -> None:
    args = ("gate", f"docker-archive:{overwrite}", "--highestWastedBytes", "10000", "--format", "json")
    dive = run_boxwise(*args, "--highestUserWastedPercent", "disabled", cwd=tmp_path)
    exact = run_boxwise(
        *args, "--highestUserWastedPercent", "disabled", "--accounting", "exact", cwd=tmp_path
    )
    assert dive.returncode == 1 and exact.returncode == 0  # dive counts 14 000; 10 000 can be saved
    wasted = {r["name"]: r["figure"] for r in json.loads(exact.stdout)["rules"]}["highestWastedBytes"]
    assert wasted == 10_000


def test_nan_never_fails_and_text_output(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "one.tar", ONELAYER)
    result = run_boxwise(
        "gate", str(archive), "--lowestEfficiency", "1", "--highestUserWastedPercent", "0", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "userWastedPercent: NaN %" in result.stdout
    assert "PASS: highestUserWastedPercent" in result.stdout
    assert "Result:PASS" in result.stdout


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ('rules:\n  highestUserWastedPercent: ""\n', "highestUserWastedPercent"),
        ("rules:\n  highestWastedBytes: 10%\n", "highestWastedBytes"),
        ("rules:\n  lowestEfficiency: 1.5\n", "lowestEfficiency"),
        ("rules:\n  lowestEfficiency: true\n", "lowestEfficiency"),
    ],
)
def test_misconfigured_rule_is_exit_2_naming_the_key(
    rules: str, key: str, overwrite: Path, tmp_path: Path
) -> None:
    config = tmp_path / "rules.yml"
    config.write_text(rules)
    dive = run_dive(overwrite, tmp_path, config)
    assert "CI Misconfigured" in dive.ci_stdout  # dive agrees the value is wrong
    result = run_boxwise("gate", str(overwrite), "--ci-config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and str(config) in lines[0], result.stderr


def test_misconfigured_flag_pyproject_and_missing_file(
    overwrite: Path, tmp_path: Path, make_git_repo
) -> None:
    flag = run_boxwise("gate", str(overwrite), "--highestWastedBytes", "lots", cwd=tmp_path)
    assert flag.returncode == 2 and "--highestWastedBytes" in flag.stderr
    missing = run_boxwise("gate", str(overwrite), "--ci-config", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and "nope" in missing.stderr
    repo = make_git_repo({"pyproject.toml": '[tool.boxwise.gate]\naccounting = "fuzzy"\n'})
    bad = run_boxwise("gate", str(overwrite), cwd=repo)
    assert bad.returncode == 2 and "accounting" in bad.stderr and "Traceback" not in bad.stderr


def test_value_formats() -> None:
    assert parse_bytes("20MB") == parse_bytes("20Mb") == parse_bytes("20 mb") == 20_000_000
    assert parse_bytes("20MiB") == 20 * 1024 * 1024
    assert parse_bytes("1,000") == 1000 and parse_bytes("1.5k") == 1500 and parse_bytes("7") == 7
    for bad in ("", "10%", "-1", "MB"):
        with pytest.raises(ValueError):
            parse_bytes(bad)
    assert [dive_bytes(n) for n in (0, 9, 14_000, 1005, 1_996_256)] == [
        "0 B",
        "9 B",
        "14 kB",
        "1.0 kB",
        "2.0 MB",
    ]
    with pytest.raises(UserError, match="highestUserWastedPercent"):
        load_rules(None, None, {"highestUserWastedPercent": "10%"})


@pytest.mark.engine
def test_gate_on_an_engine_image(engine_archives: dict[str, Path], engine_dive, tmp_path: Path) -> None:
    """docker:// through the gate: the same verdict as dive's CI mode on the saved image."""
    result = run_boxwise("gate", "docker://boxwise-test-image-chmod:latest", cwd=tmp_path)
    dive = engine_dive["chmod"]
    statuses = _statuses(result.stdout)
    assert statuses.pop("highestImageBytes") == "SKIP"
    assert statuses == dive.rule_status()
    assert result.returncode == dive.ci_code == 1
    for figure in ("efficiency", "wastedBytes", "userWastedPercent"):  # the figures dive prints, alike
        pattern = rf"{figure}: ([^\s]+)"
        plain = re.sub(r"\x1b\[[0-9;]*m", "", dive.ci_stdout)
        assert re.search(pattern, result.stdout).group(1) == re.search(pattern, plain).group(1)
