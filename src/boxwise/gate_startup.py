"""The gate's startup rules: an image that cannot start cannot pass.

Two rules beside dive's, fed by the smoke check (boxwise.builder.smoke → Startup):
- `requireAnswer`: the web process must answer HTTP on PORT, with a status below 500. On by
  default in `boxwise ci` (which runs the check), off elsewhere; `false` turns it off.
- `highestStartupSeconds`: the seconds from starting the container to the first answer
  (default disabled), e.g. `5` or `2.5`.
Both come from `[tool.boxwise.gate]` (or `.dive-ci` `rules:`), as dive's rules do. When the check
did not run, both are SKIP and say why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from boxwise.errors import UserError
from boxwise.gate import RuleResult
from boxwise.startup import Startup

NAMES = ("highestStartupSeconds", "requireAnswer")


@dataclass(frozen=True)
class StartupRules:
    highest_seconds: float | None  # None: disabled
    require_answer: bool


def _value(tables: list[Mapping[str, Any]], name: str) -> Any:
    kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
    for table in tables:
        for key, value in table.items():
            if str(key).lower() in (name.lower(), kebab) and value is not None:
                return value
    return None


def load_startup_rules(tables: list[Mapping[str, Any]], *, in_ci: bool) -> StartupRules:
    """The startup rules from the first table that sets each (flags, rules file, pyproject)."""
    seconds = _value(tables, "highestStartupSeconds")
    answer = _value(tables, "requireAnswer")
    highest: float | None = None
    if seconds is not None and str(seconds).strip().lower() != "disabled":
        try:
            highest = float(str(seconds).strip().removesuffix("s"))
        except ValueError:
            raise UserError(
                f"highestStartupSeconds: invalid value '{seconds}'; give seconds (5, 2.5) or disabled"
            ) from None
        if not highest >= 0:
            raise UserError(f"highestStartupSeconds: invalid value '{seconds}'; it must be 0 or more")
    if answer is None:
        required = in_ci
    elif isinstance(answer, bool) or str(answer).lower() in ("true", "false"):
        required = answer if isinstance(answer, bool) else str(answer).lower() == "true"
    else:
        raise UserError(f"requireAnswer: invalid value '{answer}'; use true or false")
    return StartupRules(highest, required)


def evaluate_startup(startup: Startup | None, rules: StartupRules) -> list[RuleResult]:
    """RuleResults for the two rules (SKIP when disabled or when the check did not run)."""
    if startup is None or not startup.checked:
        why = startup.reason if startup is not None else "no smoke check ran (boxwise build --check)"
        return [
            RuleResult("highestStartupSeconds", "SKIP", None, rules.highest_seconds, why),
            RuleResult("requireAnswer", "SKIP", None, None, why),
        ]
    results = []
    if rules.highest_seconds is None:
        results.append(RuleResult("highestStartupSeconds", "SKIP", startup.seconds, None, "rule disabled"))
    elif startup.seconds is None:
        results.append(
            RuleResult(
                "highestStartupSeconds",
                "FAIL",
                None,
                rules.highest_seconds,
                f"never answered: {startup.reason}",
            )
        )
    else:
        slow = startup.seconds > rules.highest_seconds
        shown = (
            f"startup-seconds={startup.seconds:g} {'>' if slow else '<='} threshold={rules.highest_seconds:g}"
        )
        results.append(
            RuleResult(
                "highestStartupSeconds",
                "FAIL" if slow else "PASS",
                startup.seconds,
                rules.highest_seconds,
                ("image starts too slowly (" + shown + ")") if slow else shown,
            )
        )
    healthy = startup.answered and startup.status is not None and startup.status < 500
    if not rules.require_answer:
        results.append(RuleResult("requireAnswer", "SKIP", None, None, "rule disabled"))
    elif healthy:
        results.append(RuleResult("requireAnswer", "PASS", None, None, startup.headline()))
    else:
        why = startup.reason if not startup.answered else f"the web process answers {startup.status}"
        results.append(RuleResult("requireAnswer", "FAIL", None, None, f"the image does not start: {why}"))
    return results
