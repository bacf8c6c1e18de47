"""dive's CI rules (plus `highestImageBytes`) → a Verdict: each rule PASS, FAIL or SKIP.

Same rule names, defaults, value formats (`0.9`, `20MB`, `20MiB`, `disabled`), strictness (equality
passes), NaN behaviour (a NaN ratio never fails, +Inf always does) as dive 0.13.1. Precedence, per
rule: command-line flag > rules file (`--ci-config`, default `.dive-ci` at the repo root) >
`[tool.boxwise.gate]` in pyproject.toml > default. A missing or null key falls through to the next
level, as in dive. A misconfigured value is one error line naming the key and why (exit 2).
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from boxwise.config import GATE_RULES, STARTUP_RULES, did_you_mean
from boxwise.errors import UserError
from boxwise.units import dive_bytes, dive_percent

DEFAULTS = {
    "lowestEfficiency": "0.9",
    "highestWastedBytes": "disabled",
    "highestUserWastedPercent": "0.1",
    "highestImageBytes": "disabled",
}
RULE_NAMES = tuple(sorted(DEFAULTS))  # dive prints rules in key order
KEBAB = {camel: kebab for kebab, camel in GATE_RULES.items()}  # lowestEfficiency -> lowest-efficiency
RATIO_RULES = {"lowestEfficiency", "highestUserWastedPercent"}
ACCOUNTINGS = ("dive", "exact")

# go-humanize v1.0.1 ParseBytes units
_UNITS = {"": 1, "b": 1}
for _power, _letter in enumerate("kmgtpe", start=1):
    _UNITS[f"{_letter}b"] = _UNITS[_letter] = 1000**_power
    _UNITS[f"{_letter}ib"] = _UNITS[f"{_letter}i"] = 1024**_power
_GO_FLOAT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_GO_SPECIAL = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}


def parse_float(text: str) -> float:
    """Go's strconv.ParseFloat for the decimal forms a rules file holds."""
    if _GO_FLOAT.match(text):
        return float(text)
    sign, word = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    special = _GO_SPECIAL.get(word.lower())
    if special is None:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    return -special if sign == "-" else special


def parse_bytes(text: str) -> int:
    """go-humanize's ParseBytes: `20MB` = 20 000 000, `20MiB` = 20 971 520, `1,000` = 1000."""
    end = 0
    while end < len(text) and (text[end].isdigit() or text[end] in ".,"):
        end += 1
    number = text[:end].replace(",", "")
    if not _GO_FLOAT.match(number):
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    unit = text[end:].strip().lower()
    if unit not in _UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    value = float(number) * _UNITS[unit]
    if value >= 2.0**64:
        raise ValueError(f"too large: {text}")
    return int(value)


def go_float(value: float) -> str:
    """Go's %v of a float64 (shortest round-trip form: `1`, `0.9949906224452174`, `+Inf`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True)
class GateFlags:
    """The gate's command-line flags (None: not given): rule values as written, `--accounting`
    and `--ci-config`. `boxwise gate`, `report` and `ci` take the same ones."""

    thresholds: Mapping[str, str | None] = field(default_factory=dict)  # lowestEfficiency -> "0.95"
    accounting: str | None = None
    ci_config: str | None = None

    def overrides(self) -> dict[str, str | None]:
        """The flags as `load_rules` reads them: rule name (or `accounting`) -> value."""
        return {**self.thresholds, "accounting": self.accounting}


@dataclass(frozen=True)
class GateOptions:
    """`boxwise gate REF`: the image, the output format and the rule flags."""

    ref: str
    format: str = "text"  # text | json | sarif
    flags: GateFlags = field(default_factory=GateFlags)


@dataclass
class Rule:
    name: str
    value: str  # as written (`0.9`, `20MB`, `disabled`)
    source: str  # where the value came from: a flag, a file, pyproject.toml or the default
    threshold: float | None = None  # None: disabled
    file: Path | None = None  # the file that set it (a rules file or pyproject.toml), if one did
    key: str | None = None  # the key as written in that file


@dataclass
class Rules:
    rules: list[Rule]
    accounting: str = "dive"
    config_path: str | None = None  # the rules file read, if any
    warnings: list[str] = field(default_factory=list)  # unknown or doubly spelt keys, for stderr


@dataclass
class RuleResult:
    name: str
    status: str  # PASS | FAIL | SKIP
    figure: float | None
    threshold: float | None
    message: str

    @property
    def outcome(self) -> str:
        """`pass`, `fail` or `skip`: the word a report shows."""
        return self.status.lower()

    def figure_json(self) -> float | str | None:
        """The figure as JSON holds it: null for NaN (or no figure), "+Inf" for x/0."""
        from boxwise.analyze.efficiency import ratio_json

        return None if self.figure is None else ratio_json(self.figure)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "figure": self.figure_json(),
            "threshold": self.threshold,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleResult:
        """A rule of a saved verdict (`PASS`, also the older `pass`/`passed` spellings)."""
        status = str(data.get("status", "")).upper()
        status = {"PASSED": "PASS", "FAILED": "FAIL", "SKIPPED": "SKIP"}.get(status, status)
        figure, threshold = data.get("figure"), data.get("threshold")
        # numbers stay as written (an int stays an int: the JUnit text shows it as it came)
        return cls(
            name=str(data.get("name", "?")),
            status=status,
            figure=math.inf if figure == "+Inf" else figure if isinstance(figure, (int, float)) else None,
            threshold=threshold if isinstance(threshold, (int, float)) else None,
            message=str(data.get("message") or ""),
        )


@dataclass
class Verdict:
    ref: str
    accounting: str
    results: list[RuleResult] = field(default_factory=list)
    config_path: str | None = None

    @property
    def passed(self) -> bool:
        return all(result.status != "FAIL" for result in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "passed": self.passed,
            "status": "PASS" if self.passed else "FAIL",
            "accounting": self.accounting,
            "config_path": self.config_path,
            "rules": [result.to_json() for result in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        """A verdict as `boxwise gate --format json` writes it (schemas/gate.schema.json)."""
        rules = [RuleResult.from_json(rule) for rule in data.get("rules") or [] if isinstance(rule, Mapping)]
        config_path = data.get("config_path")
        return cls(
            ref=str(data.get("ref") or ""),
            accounting=str(data.get("accounting") or "dive"),
            results=rules,
            config_path=None if config_path is None else str(config_path),
        )

    @property
    def failed(self) -> list[RuleResult]:
        return [result for result in self.results if result.status == "FAIL"]

    def with_results(self, more: list[RuleResult]) -> Verdict:
        """This verdict with more rules judged (the startup rules `boxwise ci` adds)."""
        return replace(self, results=[*self.results, *more])


def _as_text(value: Any) -> str | None:
    """A rules-file or pyproject value as dive's config layer reads it: a string; None if absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_rules_file(path: Path) -> dict[str, Any]:
    """The `rules:` mapping of a `.dive-ci` file (YAML); keys matched case-insensitively later."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the rules file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; a .dive-ci file is YAML") from None
    import yaml  # a declared dependency; imported only when a rules file exists

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise UserError(f"{path}: not valid YAML{where}; fix the .dive-ci file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with a `rules:` key, as dive's .dive-ci")
    for key, value in data.items():
        if str(key).lower() == "rules":
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise UserError(f"{path}: `rules:` must be a mapping of rule names to values")
            return value
    return {}


def _find(table: Mapping[str, Any], key: str, fold: bool) -> tuple[str | None, Any]:
    for written, value in table.items():
        if (str(written).lower() == key.lower()) if fold else written == key:
            return str(written), value
    return None, None


def _either_spelling(
    table: Mapping[str, Any], name: str, where: str, fold: bool, warnings: list[str]
) -> tuple[Any, str]:
    """A rule's value in a table that may spell it dive's current way (kebab-case) or its old way
    (camelCase), and the key as written. A set camelCase key wins, as it does in dive."""
    old_key, old = _find(table, name, fold)
    new_key, new = _find(table, KEBAB[name], fold)
    if old is not None and new is not None and _as_text(old) != _as_text(new):
        warnings.append(
            f"{where}: both {old_key} ({old}) and {new_key} ({new}) are set; {old_key} is used, as in dive"
        )
    if old is not None:
        return old, str(old_key)
    return new, new_key or KEBAB[name]


def _unknown_rules(file_rules: Mapping[str, Any], origin: str) -> list[str]:
    known = [*RULE_NAMES, *KEBAB.values(), *STARTUP_RULES, *STARTUP_RULES.values()]
    folded = {name.lower() for name in known}
    return [
        f"{origin}: unknown rule 'rules.{key}' (ignored){did_you_mean(str(key), known)}"
        for key in file_rules
        if str(key).lower() not in folded
    ]


def _threshold(name: str, value: str) -> float | None:
    if value == "disabled":
        return None
    if name in RATIO_RULES:
        number = parse_float(value)
        if not 0 <= number <= 1:
            raise ValueError(f"{name} config value is outside allowed range (0-1), given '{value}'")
        return number
    return float(parse_bytes(value))


def load_rules(settings: Any, ci_config_path: str | Path | None, flags: Mapping[str, Any]) -> Rules:
    """The rules in force: flag > rules file > [tool.boxwise.gate] > default, checked."""
    root = Path(getattr(settings, "root", None) or Path.cwd())
    gate_table: Mapping[str, Any] = getattr(settings, "gate", None) or {}
    path: Path | None
    if ci_config_path is not None:
        path = Path(ci_config_path)
        if not path.is_file():
            raise UserError(f"{ci_config_path}: no such rules file; fix --ci-config or create it")
    else:
        path = root / ".dive-ci"
        if not path.is_file():
            path = None
    file_rules = read_rules_file(path) if path is not None else {}
    origin = str(path) if path is not None else ""
    rules, errors = [], []
    warnings = _unknown_rules(file_rules, origin)
    for name in RULE_NAMES:
        in_file, file_key = _either_spelling(file_rules, name, f"{origin} rules", True, warnings)
        where = "pyproject.toml [tool.boxwise.gate]"
        in_pyproject, pyproject_key = _either_spelling(gate_table, name, where, False, warnings)
        candidates: tuple[tuple[str | None, str, Path | None, str | None], ...] = (
            (_as_text(flags.get(name)), f"--{name}", None, None),
            (_as_text(in_file), f"{origin} rules.{file_key}", path, file_key),
            (_as_text(in_pyproject), f"{where} {pyproject_key}", root / "pyproject.toml", pyproject_key),
        )
        value, source, file, key = next(
            ((v, s, f, k) for v, s, f, k in candidates if v is not None),
            (DEFAULTS[name], "default", None, None),
        )
        try:
            rules.append(Rule(name, value, source, _threshold(name, value), file, key))
        except ValueError as exc:
            errors.append(f"{source}: invalid value '{value}' ({exc})")
    accounting = _as_text(flags.get("accounting")) or _as_text(gate_table.get("accounting")) or "dive"
    if accounting not in ACCOUNTINGS:
        errors.append(f"pyproject.toml [tool.boxwise.gate] accounting: '{accounting}' is not dive or exact")
    if errors:
        raise UserError("misconfigured gate rules: " + "; ".join(errors))
    return Rules(rules, accounting, str(path) if path else None, warnings)


def print_rule_warnings(rules: Rules) -> None:
    for warning in rules.warnings:
        print(f"boxwise: warning: {warning}", file=sys.stderr)


def _figures(analysis: Any, accounting: str) -> dict[str, float]:
    from boxwise.analyze.efficiency import Analysis, ratio_from_json

    data = analysis.to_json() if isinstance(analysis, Analysis) else analysis
    block = data if accounting == "dive" else data["exact"]
    return {
        "lowestEfficiency": float(block["efficiency"]),
        "highestWastedBytes": float(block["wasted_bytes"]),
        "highestUserWastedPercent": ratio_from_json(block["user_wasted_percent"]),
        "highestImageBytes": float(data["size_bytes"]),
    }


_FAIL_MESSAGES = {
    "lowestEfficiency": "image efficiency is too low (efficiency={f} < threshold={t})",
    "highestWastedBytes": "too many bytes wasted (wasted-bytes={f} > threshold={t})",
    "highestUserWastedPercent": (
        "too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={f} > threshold={t})"
    ),
    "highestImageBytes": "image is too large (size-bytes={f} > threshold={t})",
}


def evaluate(analysis: Any, rules: Rules) -> Verdict:
    """Each rule against the analysis (an Analysis or its JSON dict). Equality passes."""
    figures = _figures(analysis, rules.accounting)
    ref = analysis.ref if hasattr(analysis, "ref") else str(analysis.get("ref", ""))
    verdict = Verdict(ref=ref, accounting=rules.accounting, config_path=rules.config_path)
    for rule in rules.rules:
        figure = figures[rule.name]
        if rule.threshold is None:
            verdict.results.append(RuleResult(rule.name, "SKIP", figure, None, "rule disabled"))
            continue
        # NaN compares false: a NaN figure never fails, as in dive
        failed = rule.threshold > figure if rule.name == "lowestEfficiency" else figure > rule.threshold
        shown = {"f": go_float(figure), "t": go_float(rule.threshold)}
        if failed:
            message = _FAIL_MESSAGES[rule.name].format(**shown)
        else:
            op = ">=" if rule.name == "lowestEfficiency" else "<="
            label = {"lowestEfficiency": "efficiency", "highestWastedBytes": "wasted-bytes"}.get(
                rule.name, "size-bytes" if rule.name == "highestImageBytes" else "%-user-wasted-bytes"
            )
            message = f"{label}={shown['f']} {op} threshold={shown['t']}"
        verdict.results.append(
            RuleResult(rule.name, "FAIL" if failed else "PASS", figure, rule.threshold, message)
        )
    return verdict


def render_text(verdict: Verdict, analysis: Any) -> str:
    from boxwise.analyze.efficiency import Analysis

    data = analysis.to_json() if isinstance(analysis, Analysis) else analysis
    figures = _figures(data, verdict.accounting)
    lines = [
        f"Image: {verdict.ref} ({verdict.accounting} accounting)",
        f"  rules: {verdict.config_path or 'defaults, pyproject.toml and flags'}",
        f"  efficiency: {figures['lowestEfficiency'] * 100:2.4f} %",
        f"  wastedBytes: {int(figures['highestWastedBytes'])} bytes"
        f" ({dive_bytes(int(figures['highestWastedBytes']))})",
        f"  userWastedPercent: {dive_percent(figures['highestUserWastedPercent'])}",
        f"  imageBytes: {data['size_bytes']} bytes ({dive_bytes(data['size_bytes'])})",
        "Results:",
    ]
    for result in verdict.results:
        lines.append(f"  {result.status}: {result.name}: {result.message}")
    counts = {status: sum(r.status == status for r in verdict.results) for status in ("PASS", "FAIL", "SKIP")}
    lines.append(
        f"Result:{'PASS' if verdict.passed else 'FAIL'} [Total:{len(verdict.results)}] "
        f"[Passed:{counts['PASS']}] [Failed:{counts['FAIL']}] [Skipped:{counts['SKIP']}]"
    )
    return "\n".join(lines)


# What each rule asks of an image, for SARIF's rule descriptions.
_DESCRIPTIONS = {
    "lowestEfficiency": "the image's efficiency (dive's score) is at least the threshold",
    "highestWastedBytes": "bytes of files that later layers overwrite or delete stay within the threshold",
    "highestUserWastedPercent": "wasted bytes, as a fraction of what the layers above the base add, "
    "stay within the threshold",
    "highestImageBytes": "the image's size stays within the threshold",
}


def _line_of(path: Path, key: str) -> int | None:
    """The line that sets `key` in a YAML or TOML file (first match, case-insensitive), if any."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[:=]""", re.IGNORECASE)
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if number > 10_000:  # a rules file or pyproject.toml is small; never read a huge one
                    return None
                if pattern.match(line):
                    return number
    except OSError:
        return None
    return None


def _location(rule: Rule, root: Path) -> tuple[str, int | None]:
    """Where a failed rule's threshold is set, repo-relative; pyproject.toml when no file set it
    (a flag or the default): there is where [tool.boxwise.gate] would change it."""
    if rule.file is not None and rule.key is not None:
        relative = Path(os.path.relpath(rule.file.resolve(), root.resolve())).as_posix()
        if not relative.startswith("../"):
            return relative, _line_of(rule.file, rule.key)
    return "pyproject.toml", None


def render_sarif(verdict: Verdict, rules: Rules, root: Path) -> str:
    """SARIF 2.1.0: the gate's rules, and each failed one as an error at the file that set it."""
    from boxwise.sarif import SarifResult, SarifRule, dumps, sarif_log

    by_name = {rule.name: rule for rule in rules.rules}
    sarif_rules = [SarifRule(name, _DESCRIPTIONS.get(name, name), "error") for name in by_name]
    results = []
    for result in verdict.results:
        if result.status != "FAIL":
            continue
        rule = by_name[result.name]
        path, line = _location(rule, root)
        message = f"{verdict.ref}: {result.message} (threshold {rule.value} from {rule.source})"
        results.append(SarifResult(rule.name, "error", message, path, line, f"{rule.name}:{verdict.ref}"))
    return dumps(sarif_log(sarif_rules, results, {"boxwise.gate": verdict.to_json()}))


def run_gate(options: GateOptions) -> int:
    import json

    from boxwise.analyze.command import read_analysis
    from boxwise.config import load_settings, print_warnings

    settings = load_settings()
    print_warnings(settings)
    rules = load_rules(settings, options.flags.ci_config, options.flags.overrides())
    print_rule_warnings(rules)
    analysis = read_analysis(options.ref)
    verdict = evaluate(analysis, rules)
    if options.format == "json":
        print(json.dumps(verdict.to_json(), indent=2))
    elif options.format == "sarif":
        print(render_sarif(verdict, rules, settings.root), end="")
    else:
        print(render_text(verdict, analysis))
    sys.stdout.flush()
    return 0 if verdict.passed else 1
