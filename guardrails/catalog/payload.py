"""The payload log: what a proxy's callers sent and got back, kept for inspection with PII
redacted (by the PII masking policy's patterns) and each body cut to a size.

An opt-in per proxy (or per provider, for all its proxies): attaching it is the switch. Like
the routing policies it has no request or response hooks of its own, so the guardrail chain
skips it; the gateway reads its parameters from the deployment snapshot and adds a step that
copies the bodies (``gateways.dataplane.filters.payload``).
"""

import re
from typing import Any

from guardrails.catalog.pii import BUILT_IN_ENTITIES, PIIMaskingRegex
from guardrails.registry import Policy, register

PAYLOAD_CATEGORY = "logging"
DESTINATIONS = ("details", "log")
# A JSON escape: an escaped backslash (kept: JSON's "\\u0040" is the text \u0040) or \uXXXX.
JSON_ESCAPE = re.compile(rb"\\(\\|u[0-9a-fA-F]{4})")
# Escaped characters that stay escaped: controls, the quote and the backslash (the copy stays
# JSON) and surrogates (no PII pattern needs them).
KEPT_ESCAPED = frozenset(range(0x20)) | {0x22, 0x5C} | frozenset(range(0xD800, 0xE000))


def unescaped(match: re.Match[bytes]) -> bytes:
    """A ``\\uXXXX`` escape as the UTF-8 character it stands for, where that is safe."""
    escape = match.group(1)
    if escape == b"\\":
        return match.group(0)
    code = int(escape[1:], 16)
    return match.group(0) if code in KEPT_ESCAPED else chr(code).encode()


def _redact_detector(title: str) -> dict[str, Any]:
    return {"type": "boolean", "default": True, "title": f"Redact {title}"}


@register
class PayloadLog(Policy):
    name = "payload-log"
    display_name = "Payload Log"
    description = (
        "Keeps each request's and response's body, PII redacted and cut to a size, in the "
        "usage record's details or on a log."
    )
    category = PAYLOAD_CATEGORY
    phases = frozenset()
    parameters_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "destination": {
                "enum": list(DESTINATIONS),
                "default": "details",
                "title": "Write to",
                "description": "details: the usage record's details (the admin and the usage "
                "API show them); log: one JSON line per call on the gatehouse.payload logger, "
                "for a log pipeline.",
            },
            "request": {"type": "boolean", "default": True, "title": "Keep request bodies"},
            "response": {"type": "boolean", "default": True, "title": "Keep response bodies"},
            "maxBytes": {
                "type": "integer",
                "minimum": 256,
                "maximum": 65_536,
                "default": 4096,
                "title": "Largest body kept (bytes)",
                "description": "Longer bodies (a stream's events together) are cut; the size "
                "they had is kept.",
            },
            "email": _redact_detector("Email Addresses"),
            "phone": _redact_detector("Phone Numbers"),
            "ssn": _redact_detector("Social Security Numbers"),
            "customPIIEntities": {
                **PIIMaskingRegex.parameters_schema["properties"]["customPIIEntities"],
                "title": "Custom PII Entities to redact",
                "x-advanced": True,
            },
        },
    }

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        if not (params["request"] or params["response"]):
            errors.append(
                {"field": "params", "message": "Keep request bodies, response bodies or both."}
            )
        if params["customPIIEntities"]:
            for problem in PIIMaskingRegex.check(cls.masking_params(params)):
                errors.append(problem)
        return errors

    @staticmethod
    def masking_params(params: dict[str, Any]) -> dict[str, Any]:
        """The PII masking parameters that find what this log redacts."""
        return {
            **{entity: params[entity] for entity in BUILT_IN_ENTITIES},
            "customPIIEntities": params["customPIIEntities"],
            "jsonPath": "$",
            "redactPII": True,
        }

    def setup(self, params: dict[str, Any]) -> None:
        self.destination = params["destination"]
        self.keep_request = params["request"]
        self.keep_response = params["response"]
        self.max_bytes = params["maxBytes"]
        masking = self.masking_params(params)
        redacts = any(masking[entity] for entity in BUILT_IN_ENTITIES)
        self.masker = PIIMaskingRegex(masking) if redacts or params["customPIIEntities"] else None

    def redact(self, data: bytes) -> tuple[bytes, int]:
        """``data`` with the PII this log redacts replaced by entity names, and the count."""
        if self.masker is None:
            return data, 0
        if b"\\u" in data:
            # JSON's "jane\u0040example.com" is an email address as much as "jane@example.com".
            data = JSON_ESCAPE.sub(unescaped, data)
        return self.masker.scrub(data)
