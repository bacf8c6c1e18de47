"""SARIF 2.1.0 logs, for GitHub code scanning and GitLab's SARIF import.

`detect` (lint findings) and `gate` (failed rules) each describe their rules and results with the two
small values below; `sarif_log` lays them out as one run of the `boxwise` tool. Only the standard
library: this runs on the `detect` path. tests/sarif holds the OASIS schema the output is checked with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from boxwise import __version__

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# SARIF levels for boxwise's severities.
LEVELS = {"error": "error", "warning": "warning", "note": "note"}


@dataclass(frozen=True)
class SarifRule:
    id: str
    description: str
    level: str  # error | warning | note: the level a result of this rule has unless it says otherwise


@dataclass(frozen=True)
class SarifResult:
    rule_id: str
    level: str
    message: str
    path: str  # repo-relative, POSIX style; code scanning rejects a result without a file
    line: int | None = None
    fingerprint: str | None = None  # stable across runs, so an alert is not reopened by a line move


def _result(item: SarifResult, index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(item.path), "uriBaseId": "%SRCROOT%"}}
    if item.line:
        physical["region"] = {"startLine": item.line}
    result: dict[str, Any] = {
        "ruleId": item.rule_id,
        "ruleIndex": index,
        "level": LEVELS[item.level],
        "message": {"text": item.message},
        "locations": [{"physicalLocation": physical}],
    }
    if item.fingerprint:
        result["partialFingerprints"] = {"boxwise/v1": item.fingerprint}
    return result


def sarif_log(
    rules: Sequence[SarifRule], results: Sequence[SarifResult], properties: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One SARIF log with one run; every result's rule must be among `rules`."""
    index = {rule.id: number for number, rule in enumerate(rules)}
    driver = {
        "name": "boxwise",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [
            {
                "id": rule.id,
                "shortDescription": {"text": rule.description},
                "defaultConfiguration": {"level": LEVELS[rule.level]},
            }
            for rule in rules
        ],
    }
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": [_result(item, index[item.rule_id]) for item in results],
    }
    if properties:
        run["properties"] = properties
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2) + "\n"
