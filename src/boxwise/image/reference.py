"""Docker image references: the grammar of distribution/reference (what `docker tag` accepts).

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component [ "/" path-component ]*   (at most 255 characters)
    domain    := host [ ":" port ], a host of [a-zA-Z0-9-] parts joined by "." (or [IPv6])
    path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}

The first part of a name is its domain when it has a "." or ":", is "localhost", or has an
upper-case letter, as Docker splits it (splitDockerDomain). Checked before a build starts, so a
bad --tag costs nothing.
"""

from __future__ import annotations

import re

from boxwise.errors import UserError

PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DOMAIN = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$"
)
_MAX_NAME = 255
EXAMPLE = "write NAME[:TAG] such as boxwise/app:dev or registry.example.com:5000/team/app:1.2"


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if slash and (any(ch in first for ch in ".:") or first == "localhost" or first.lower() != first):
        return first, rest
    return "", name


def tag_problem(text: str) -> str | None:
    """Why `text` is not an image name to tag with, or None when `docker tag` would take it."""
    if not text or text != text.strip():
        return "an empty name, or spaces around it"
    if "@" in text:
        return "a digest (@sha256:...) names an existing image; a new image gets a tag"
    name, tag = text, None
    if ":" in text.rpartition("/")[2]:
        name, _, tag = text.rpartition(":")
    if tag is not None and not TAG.match(tag):
        return f"the tag {tag[:40]!r} may only hold letters, digits, '_', '.' and '-' (128 at most)"
    domain, path = _split_domain(name)
    if domain and not _DOMAIN.match(domain):
        return f"{domain[:60]!r} is not a registry host[:port]"
    if not path or not PATH.match(path):
        if path.lower() != path:
            return f"the repository {path[:60]!r} must be lower-case"
        return (
            f"the repository {path[:60]!r} may only hold lower-case letters, digits and '.', '_', '-' "
            "between them, in parts joined by '/'"
        )
    if len(name) > _MAX_NAME:
        return f"the name is {len(name)} characters; {_MAX_NAME} at most"
    return None


def check_tag(text: str, flag: str = "--tag") -> None:
    """UserError with one line when `text` is no image name to tag with."""
    problem = tag_problem(text)
    if problem:
        raise UserError(f"{flag} {text[:120]!r}: not a valid image name: {problem}; {EXAMPLE}")
