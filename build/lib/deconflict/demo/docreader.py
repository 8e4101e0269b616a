"""Typed reading of a decoded JSON document, with errors that name the file and the field.

``Reader(source, path, data)`` wraps one JSON object; each accessor checks a field's type and
raises :class:`~deconflict.errors.InvalidDocument` as ``<source>: <path.to.field>: <what is
wrong>`` (``raqqa-2015.json: steps[12].notice.volumes[0].lower_m: must be a number, got a
string``). Used by the scenario loader; any importer of JSON documents can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from deconflict.errors import InvalidDocument
from deconflict.geo.units import parse_rfc3339

__all__ = ["Reader", "kind_of"]

T = TypeVar("T")


class Reader:
    """Typed access to one JSON object, raising InvalidDocument with the file and field path."""

    def __init__(self, source: str, path: str, data: object) -> None:
        self.source = source
        self.path = path
        if not isinstance(data, Mapping):
            self.fail(f"must be an object, got {kind_of(data)}")
        self.data: Mapping[str, Any] = data

    def fail(self, message: str, field: str | None = None) -> NoReturn:
        where = self.field(field) if field else self.path
        raise InvalidDocument(f"{self.source}: {where or '(top level)'}: {message}")

    def field(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str, required: bool = True) -> Any:
        if name not in self.data:
            if required:
                self.fail("is missing", name)
            return None
        return self.data[name]

    def typed(self, name: str, kind: type[T] | tuple[type, ...], what: str) -> Any:
        value = self.raw(name)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            self.fail(f"must be {what}, got {kind_of(value)}", name)
        return value

    def text(self, name: str) -> str:
        value: str = self.typed(name, str, "a string")
        if not value.strip():
            self.fail("must not be empty", name)
        return value

    def optional_text(self, name: str, default: str = "") -> str:
        return default if self.raw(name, required=False) is None else self.text(name)

    def number(self, name: str) -> float:
        value = self.typed(name, (int, float), "a number")
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits (JSON allows them)
            self.fail(f"is too large: {len(str(value))} digits", name)

    def duration(self, name: str) -> float:
        value = self.number(name)
        if value < 0:
            self.fail(f"must be >= 0, got {value:g}", name)
        return value

    def time(self, name: str) -> float:
        try:
            return parse_rfc3339(self.typed(name, str, "an RFC 3339 time"))
        except ValueError as error:
            self.fail(str(error), name)

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in options:
            self.fail(f"must be one of {', '.join(options)}; got {value!r}", name)
        return value

    def items(self, name: str, required: bool = True) -> list[Any]:
        value = self.raw(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"must be a list, got {kind_of(value)}", name)
        return list(value)

    def child(self, name: str) -> Reader:
        return Reader(self.source, self.field(name), self.raw(name))

    def children(self, name: str, required: bool = True) -> list[Reader]:
        return [
            Reader(self.source, f"{self.field(name)}[{i}]", item)
            for i, item in enumerate(self.items(name, required))
        ]

    def strings(self, name: str, required: bool = True) -> tuple[str, ...]:
        values = self.items(name, required)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.fail(f"must be a string, got {kind_of(value)}", f"{name}[{i}]")
        return tuple(values)


def kind_of(value: object) -> str:
    """How a JSON value is named in error messages: "a string", "null", "an object"..."""
    return {type(None): "null", bool: "a boolean", str: "a string", list: "a list"}.get(
        type(value), "an object" if isinstance(value, Mapping) else type(value).__name__
    )
