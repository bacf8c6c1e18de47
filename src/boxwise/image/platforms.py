"""Which image of a multi-platform index to use: the one for this machine, the one rule for the
registry and the OCI layout readers (`linux/<architecture>`, in OCI's architecture names)."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

# platform.machine() → the OCI architecture name (Go's GOARCH)
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def host_architecture() -> str:
    return _ARCHITECTURES.get(platform.machine(), platform.machine())


def choose_platform(
    manifests: Sequence[dict[str, Any]], fallbacks: Sequence[str] = ()
) -> tuple[dict[str, Any], str] | None:
    """The index entry for linux on this machine's architecture, else on the first of `fallbacks`
    the index has, with its `os/architecture`; None when there is none of them."""
    for wanted in (host_architecture(), *fallbacks):
        for item in manifests:
            plat = item.get("platform") or {}
            if plat.get("os") == "linux" and plat.get("architecture") == wanted:
                return item, f"linux/{wanted}"
    return None


def offered_platforms(manifests: Sequence[dict[str, Any]]) -> list[str]:
    """The `os/architecture` of each entry of an index, sorted, each once (for an error message)."""
    return sorted(
        {
            f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
            for m in manifests
        }
    )
