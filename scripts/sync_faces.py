#!/usr/bin/env python3
"""Write the CI faces that are copies of another, or check that they still agree (`--check`).

Each has one source, edited by hand; its copy is generated here:

- gitlab-ci/boxwise.yml, the classic include (`include: project:`/`remote:`/`local:`), from
  templates/boxwise.yml, the CI/CD component. A classic include has no component context: the
  `spec:component` line goes, and `$[[ component.sha ]]` becomes the input `boxwise-ref`, whose
  default is this version's tag (the ref a team includes).
- action/action.yml (`uses: OWNER/boxwise/action@REF`) from action.yml, the action the Marketplace
  lists (it must sit at the repository root): only the path of boxwise's source differs.

    python3 scripts/sync_faces.py           # regenerate after editing a source
    python3 scripts/sync_faces.py --check   # exit 1 naming each copy that drifted (tests/faces runs it)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMPONENT = REPO / "templates" / "boxwise.yml"
INCLUDE = REPO / "gitlab-ci" / "boxwise.yml"
ACTION = REPO / "action.yml"
ACTION_COPY = REPO / "action" / "action.yml"

INCLUDE_HEADER = """\
# boxwise for GitLab CI, the classic include (include: project: / remote: / local:): lint the apps,
# build the ones a change touches into lean images, gate them and report on the merge request.
# Every input has a default; boxwise installs from the project and ref that `boxwise-project` and
# `boxwise-ref` name (the ref defaults to this file's own release: set it when you include another).
# GENERATED from templates/boxwise.yml (the CI/CD component) by scripts/sync_faces.py: edit that file.
"""
BOXWISE_REF_INPUT = """\
    boxwise-ref:
      description: The ref of that project boxwise is installed from (the ref in your include line).
      default: "{version}"
"""
ACTION_COPY_HEADER = """\
# GENERATED from ../action.yml (the action the Marketplace lists) by scripts/sync_faces.py: edit that
# file. This copy serves `uses: OWNER/boxwise/action@REF`.
"""


def version() -> str:
    text = (REPO / "src" / "boxwise" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if match is None:
        raise SystemExit("sync_faces: no __version__ in src/boxwise/__init__.py")
    return match.group(1)


def _replace_once(text: str, old: str, new: str, what: str) -> str:
    if text.count(old) != 1:
        raise SystemExit(
            f"sync_faces: expected {what} exactly once in the source; update scripts/sync_faces.py"
        )
    return text.replace(old, new)


def classic_include(component: str) -> str:
    body = component[component.index("spec:\n") :]  # the component's own comment header goes
    body = _replace_once(body, "  component: [sha]\n", "", "`  component: [sha]`")
    project_input = re.search(r"^    boxwise-project:\n(?:      .*\n)+", body, re.M)
    if project_input is None:
        raise SystemExit("sync_faces: no boxwise-project input in templates/boxwise.yml")
    end = project_input.end()
    body = body[:end] + BOXWISE_REF_INPUT.format(version=version()) + body[end:]
    if "$[[ component.sha ]]" not in body:
        raise SystemExit("sync_faces: templates/boxwise.yml no longer uses $[[ component.sha ]]")
    body = body.replace("$[[ component.sha ]]", "$[[ inputs.boxwise-ref ]]")
    if "$[[ component." in body:
        raise SystemExit("sync_faces: a component context field without a classic-include stand-in")
    return INCLUDE_HEADER + body


def action_copy(action: str) -> str:
    source = "BOXWISE_SOURCE: ${{ github.action_path }}\n"
    return ACTION_COPY_HEADER + _replace_once(
        action, source, "BOXWISE_SOURCE: ${{ github.action_path }}/..\n", f"`{source.strip()}`"
    )


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print("usage: sync_faces.py [--check]", file=sys.stderr)
        return 2
    drifted = []
    for source, copy, make in ((COMPONENT, INCLUDE, classic_include), (ACTION, ACTION_COPY, action_copy)):
        wanted = make(source.read_text(encoding="utf-8"))
        current = copy.read_text(encoding="utf-8") if copy.exists() else None
        if current == wanted:
            continue
        if check:
            drifted.append(f"{copy.relative_to(REPO)} differs from what {source.relative_to(REPO)} makes")
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(wanted, encoding="utf-8")
            print(f"sync_faces: wrote {copy.relative_to(REPO)}")
    for line in drifted:
        print(f"sync_faces: {line}; run python3 scripts/sync_faces.py", file=sys.stderr)
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
