"""`boxwise buildpacks`: the buildpacks boxwise builds with, their versions, and the groups in the
order detection tries them (what `pack builder inspect` shows of a builder)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from boxwise.builder.builder_toml import load_builder


@dataclass(frozen=True)
class BuildpacksOptions:
    format: str = "text"  # text | json


def run_buildpacks(args: BuildpacksOptions) -> int:
    builder = load_builder()
    if args.format == "json":
        document = {
            "buildpacks": [
                {"id": bp.id, "version": bp.version, "api": bp.api} for bp in builder.buildpacks.values()
            ],
            "order": [
                [{"id": item["id"], "optional": item["optional"]} for item in group]
                for group in builder.order
            ],
        }
        print(json.dumps(document, indent=2))
        return 0
    print("Buildpacks:")
    width = max(len(bp.id) for bp in builder.buildpacks.values())
    for bp in builder.buildpacks.values():
        print(f"  {bp.id:<{width}}  {bp.version}  (buildpack API {bp.api})")
    print("Detection order:")
    for number, group in enumerate(builder.order, 1):
        members = ", ".join(item["id"] + (" (optional)" if item["optional"] else "") for item in group)
        print(f"  group {number}: {members}")
    return 0
