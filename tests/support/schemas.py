"""Validate a JSON output against its published schema in schemas/ (JSON Schema 2020-12)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@cache
def _registry() -> Registry:
    """Every schema under its file URI, so `report` can refer to `inspect.schema.json` as a file would."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.as_uri(), Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def errors(document: Any, name: str) -> list[str]:
    """Why `document` does not match `schemas/<name>.schema.json` (empty: it matches)."""
    uri = (SCHEMAS / f"{name}.schema.json").as_uri()
    schema = _registry().contents(uri)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator({"$ref": uri}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
