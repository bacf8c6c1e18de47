"""The one check every digest passes before it names a file, a tar member or a URL path.

Digests come from manifests, indexes and configs: the merge request's (its base image, its
baseline) or a registry's. Only `sha256:` + 64 lowercase hex is a digest; anything else
(`sha256:../../etc/passwd`) is refused in one line before it is used.
"""

from __future__ import annotations

import re

from boxwise.errors import DamagedImage

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def is_digest(value: object) -> bool:
    return isinstance(value, str) and DIGEST.match(value) is not None


def checked(value: object, where: str) -> str:
    """`value` if it is a sha256 digest, else the DamagedImage (a UserError) naming `where` it came from."""
    if not is_digest(value):
        shown = repr(value)[:80]
        raise DamagedImage(f"{where}: {shown} is not a sha256 digest (sha256:<64 hex>); the image is corrupt")
    return str(value)


def hex_part(value: str) -> str:
    """The 64 hex characters of a digest, checked: what a file or member is named by."""
    return checked(value, "digest")[len("sha256:") :]
