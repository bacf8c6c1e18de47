"""Typed reads of a JSON document boxwise did not write itself (a saved analysis from the merge
request, the result file of a build container): each value checked as it is taken, a failure one
JsonFormatError naming the field's place (`layers[2].size_bytes`) for the caller's one-line error.
"""

from __future__ import annotations

from typing import Any, TypeVar

_T = TypeVar("_T")

_TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}


class JsonFormatError(ValueError):
    """A document not of the expected shape; the message names the first wrong field."""


class JsonReader:
    """One JSON object of a document, and where it is in it ("" for the document itself)."""

    def __init__(self, data: object, where: str = "") -> None:
        if not isinstance(data, dict):
            raise JsonFormatError(f"'{where}' is not an object" if where else "the document is not an object")
        self.data: dict[str, Any] = data
        self.where = where

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise JsonFormatError(f"'{self.name(key)}' is missing")
        return self.data[key]

    def wrong(self, key: str, what: str) -> JsonFormatError:
        return JsonFormatError(f"'{self.name(key)}' is not {what}")

    def field(self, key: str, kind: type[_T]) -> _T:
        value = self.get(key)
        # bool is an int to Python, never to JSON
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.wrong(key, _TYPE_WORDS.get(kind, kind.__name__))
        return value

    def optional(self, key: str, kind: type[_T]) -> _T | None:
        return None if self.get(key) is None else self.field(key, kind)

    def number(self, key: str) -> float:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong(key, "a number")
        return value  # an int stays one: written back as it was read

    def child(self, key: str) -> JsonReader:
        return JsonReader(self.get(key), self.name(key))

    def items(self, key: str) -> list[JsonReader]:
        """A list of objects."""
        name = self.name(key)
        return [JsonReader(item, f"{name}[{n}]") for n, item in enumerate(self.field(key, list))]

    def entries(self, key: str) -> dict[str, JsonReader]:
        """An object of objects, by key."""
        name = self.name(key)
        return {k: JsonReader(v, f"{name}.{k}") for k, v in self.field(key, dict).items()}

    def strings(self, key: str) -> list[str]:
        values = self.field(key, list)
        for n, value in enumerate(values):
            if not isinstance(value, str):
                raise JsonFormatError(f"'{self.name(key)}[{n}]' is not a string")
        return list(values)
