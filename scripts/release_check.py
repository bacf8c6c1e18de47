#!/usr/bin/env python3
"""Refuse a release whose tag, version and component disagree (the release pipeline's first job).

    python3 scripts/release_check.py TAG PROJECT_PATH

- TAG must be `__version__` of src/boxwise/__init__.py (the wheel's version, the catalog version);
- templates/boxwise.yml's `boxwise-project` default must be PROJECT_PATH ($CI_PROJECT_PATH): the
  component installs boxwise from there, so a release published from another path would install
  from a project that is not its own. A fork releasing under its own path edits that default.

Standard library only: it runs in a bare python image before anything is installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def problems(tag: str, project: str) -> list[str]:
    found = []
    init = (REPO / "src" / "boxwise" / "__init__.py").read_text(encoding="utf-8")
    version = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    if version is None or version.group(1) != tag:
        found.append(
            f"tag {tag} is not __version__ ({version and version.group(1)}) of src/boxwise/__init__.py"
        )
    component = (REPO / "templates" / "boxwise.yml").read_text(encoding="utf-8")
    default = re.search(
        r"^    boxwise-project:\n(?:      (?!default:).*\n)*      default: (.*)$", component, re.M
    )
    if default is None or default.group(1).strip().strip("\"'") != project:
        shown = default.group(1).strip() if default else "none"
        found.append(
            f"templates/boxwise.yml: the boxwise-project default is {shown}, not this project ({project}); "
            "the component would install boxwise from another project"
        )
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: release_check.py TAG PROJECT_PATH", file=sys.stderr)
        return 2
    found = problems(*argv)
    for problem in found:
        print(f"release_check: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
