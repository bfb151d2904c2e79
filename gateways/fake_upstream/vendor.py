"""The interface every vendor of the fake upstream implements: the routes it answers (matched at
the end of the path, so a provider URL may add any prefix), how it checks the caller's
credential, and its error shape."""

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from gateways.fake_upstream.exchange import Exchange, Reply, json_reply

Handler = Callable[[Exchange, re.Match], Awaitable[None]]


def route(method: str, pattern: str) -> tuple[str, re.Pattern]:
    """A route: ``pattern`` must match the end of the decoded path."""
    return method, re.compile(pattern + r"\Z")


class Vendor:
    """One vendor's API. Subclasses list ``routes`` as ``(method, pattern, handler name)``."""

    name: ClassVar[str] = ""
    routes: ClassVar[list[tuple[tuple[str, re.Pattern], str]]] = []
    # Whether request bodies are JSON objects (refused with ``bad_request`` otherwise).
    json_body: ClassVar[bool] = True

    def match(self, method: str, path: str) -> tuple[Handler, re.Match] | None:
        for (allowed, pattern), handler in self.routes:
            if allowed != method:
                continue
            found = pattern.search(path)
            if found is not None:
                return getattr(self, handler), found
        return None

    def refuse(self, exchange: Exchange, found: re.Match) -> Reply | None:
        """The vendor's answer to a caller it does not let in, or None."""
        return None

    def bad_request(self, message: str) -> Reply:
        """The vendor's answer to a body it cannot read."""
        return json_reply(400, {"error": {"message": message, "type": "invalid_request_error"}})

    def error(self, status: int, payload: Any) -> Reply:
        return json_reply(status, payload)
