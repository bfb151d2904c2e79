"""JSONPath selection over parsed JSON bodies, compiled once per deployment snapshot.

A thin wrapper over ``python-jsonpath`` (RFC 9535, negative indexes such as
``$.messages[-1].content``). Paths made only of names and indexes, which is what nearly every
guardrail uses, are walked directly: a dict lookup per step instead of the library's generic
matcher, since this runs on every request. An empty path or ``$`` selects the whole body.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonpath as _library
import orjson
from jsonpath.exceptions import JSONPathError as _LibraryError
from jsonpath.segments import JSONPathChildSegment
from jsonpath.selectors import IndexSelector, NameSelector

_ENVIRONMENT = _library.JSONPathEnvironment(strict=True)


class InvalidJSONPath(ValueError):
    """The expression is not valid JSONPath."""


class PathProblem(Exception):
    """The body has no usable value at the path; ``reason`` reads well in an error body."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Match:
    """One selected value and where it lives, so a policy can replace it in place."""

    value: Any
    container: Any  # the dict or list holding the value; None for the root
    key: str | int | None

    def replace(self, value: Any) -> None:
        self.container[self.key] = value
        self.value = value


class CompiledPath:
    """A JSONPath expression parsed once; ``find`` runs it against a parsed body."""

    __slots__ = ("_compiled", "_head", "_steps", "expression", "is_root")

    def __init__(self, expression: str):
        self.expression = expression.strip()
        self.is_root = self.expression in ("", "$")
        self._steps: tuple[str | int, ...] | None = ()
        self._head: tuple[str | int, ...] = ()
        self._compiled = None
        if self.is_root:
            return
        try:
            self._compiled = _ENVIRONMENT.compile(self.expression)
        except _LibraryError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else "invalid expression"
            raise InvalidJSONPath(f"Invalid JSONPath '{self.expression}': {first_line}") from None
        self._steps = _simple_steps(self._compiled)
        self._head = self._steps[:-1] if self._steps else ()

    def __repr__(self) -> str:
        return f"CompiledPath({self.expression!r})"

    def find(self, data: Any) -> list[Match]:
        """Every match, in document order (at most one for a path of names and indexes)."""
        if self.is_root:
            return [Match(data, None, None)]
        if self._steps is not None:
            place = self.place(data)
            if place is None:
                return []
            container, key = place
            return [Match(container[key], container, key)]
        return [
            Match(m.obj, m.parent.obj if m.parent is not None else None, m.parts[-1])
            for m in self._compiled.finditer(data)
        ]

    @property
    def steps(self) -> tuple[str | int, ...] | None:
        """The names and indexes this path is made of; None when it uses anything else, and
        empty for the whole body."""
        return self._steps

    def place(self, data: Any) -> tuple[Any, str | int] | None:
        """Where the value at this path of names and indexes lives: ``(container, key)``,
        a negative index resolved, so that ``container[key]`` reads it and can replace it.
        None when there is no value there (or the path is not one of names and indexes)."""
        steps = self._steps
        if not steps:
            return None
        container = data
        try:
            # Parsed JSON: a name reads only an object's member (a list or a string refuses
            # it), an index reads a list's item or a string's character, and a string is
            # never the container of the last step (checked below).
            for step in self._head:
                container = container[step]
        except (KeyError, IndexError, TypeError):
            return None
        key = steps[-1]
        if type(key) is str:
            if isinstance(container, dict) and key in container:
                return container, key
            return None
        if isinstance(container, list):
            index = key + len(container) if key < 0 else key
            if 0 <= index < len(container):
                return container, index
        return None

    def text(self, data: Any) -> str:
        """The text to inspect at this path; raises ``PathProblem`` when there is none.

        The whole body (empty path or ``$``) reads as its JSON text. A list of content parts
        (``[{"type": "text", "text": ...}]``, as the Anthropic and OpenAI SDKs send) reads as
        its text parts joined with newlines; several matches are joined the same way.
        """
        if self.is_root:
            return orjson.dumps(data).decode()
        if self._steps is not None:
            # The common case: one value, read without building a Match.
            place = self.place(data)
            if place is None:
                raise PathProblem(f"No value found at JSONPath '{self.expression}'.")
            value = place[0][place[1]]
            text = value if isinstance(value, str) else _as_text(value)
            if text is None:
                raise PathProblem(f"The value at JSONPath '{self.expression}' is not a string.")
            return text
        matches = self.find(data)
        if not matches:
            raise PathProblem(f"No value found at JSONPath '{self.expression}'.")
        texts = [_as_text(m.value) for m in matches]
        if any(t is None for t in texts):
            raise PathProblem(f"The value at JSONPath '{self.expression}' is not a string.")
        return texts[0] if len(texts) == 1 else "\n".join(texts)


def compile_path(expression: str) -> CompiledPath:
    """Parse ``expression`` once; raises ``InvalidJSONPath``."""
    return CompiledPath(expression)


def path_error(expression: str) -> str | None:
    """Why ``expression`` is not valid JSONPath, or None when it is (for schema checks)."""
    try:
        CompiledPath(expression)
    except InvalidJSONPath as exc:
        return str(exc)
    return None


def iter_strings(value: Any) -> Iterator[Match]:
    """Every string inside ``value`` (recursively), as replaceable matches."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield Match(item, value, key)
            elif isinstance(item, dict | list):
                yield from iter_strings(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield Match(item, value, index)
            elif isinstance(item, dict | list):
                yield from iter_strings(item)


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        parts = []
        for item in value:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict):
                if isinstance(item.get("text"), str):
                    parts.append(item["text"])
                elif "type" not in item:
                    return None
            else:
                return None
        return "\n".join(parts)
    return None


def _simple_steps(compiled) -> tuple[str | int, ...] | None:
    steps: list[str | int] = []
    for segment in compiled.segments:
        if type(segment) is not JSONPathChildSegment or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        if type(selector) is NameSelector:
            steps.append(selector.name)
        elif type(selector) is IndexSelector:
            steps.append(selector.index)
        else:
            return None
    return tuple(steps)
