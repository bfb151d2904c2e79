"""PII masking: finds emails, phone numbers, SSNs and custom entities (RE2 patterns) in the
request and replaces them before the request leaves the gateway.

``redactPII`` false: each distinct value becomes a placeholder such as ``[EMAIL_0000]`` (entity
and a 4-hex-digit counter); the mapping stays in the request's state and the placeholders are
put back in the response, also on streams, where a placeholder split across deltas is held
back (at most 64 characters) until it is complete. ``redactPII`` true: values become ``*****``
for good. The policy does not judge content; but a ``jsonPath`` with nothing at it intervenes,
since the request could otherwise leave with PII unmasked.
"""

import re
from typing import Any

import orjson

from guardrails.catalog.content import REQUEST_JSON_PATH
from guardrails.catalog.regex import compile_re2, regex_error
from guardrails.jsonpath import compile_path, iter_strings, path_error
from guardrails.registry import (
    MODIFIED,
    Phase,
    Policy,
    RequestContext,
    ResponseContext,
    StreamJudge,
    StreamMode,
    StreamStep,
    Verdict,
    register,
)

BUILT_IN_ENTITIES = {
    "email": (
        "EMAIL",
        r"(?i)\b[a-z0-9.!#$%&'*+/=?^_{|}~-]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])\b",
    ),
    "phone": (
        "PHONE",
        r"(?:\+?1[-.\s]?)?(?:\([2-9][0-9]{2}\)|[2-9][0-9]{2})[-.\s]?[2-9][0-9]{2}[-.\s]?[0-9]{4}\b",
    ),
    "ssn": (
        "SSN",
        r"\b(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6(?:[0-57-9][0-9]|6[0-57-9])|[7-8][0-9]{2})"
        r"[- ]?(?:0[1-9]|[1-9][0-9])[- ]?(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})\b",
    ),
}
REDACTED = "*****"
REDACTED_BYTES = REDACTED.encode()
PLACEHOLDER = re.compile(r"\[[A-Z_]+_[0-9a-f]{4}\]")
# The unfinished start of a placeholder at the end of a streamed delta.
_PLACEHOLDER_START = re.compile(r"\[[A-Z_]*[0-9a-f]{0,4}\Z")
LOOK_AHEAD = 64
_ENTITY_NAME_MAX = LOOK_AHEAD - 7  # "[" + name + "_" + 4 hex digits + "]"
# In raw SSE events, where text the placeholder judge may have to touch can start: a "[" that
# could open a placeholder or the start of one (followed by a capital, "_", a hex digit or the
# text's closing quote, so not "[{", "[]" or "[DONE]", the shapes JSON structure and the end
# of a stream take), or a \u escape (``_ESCAPE``), which could spell any text. Two searches,
# not one alternation: ``re`` skips to a pattern's one literal first byte, but tries an
# alternation at every byte (9.6 % of a guarded stream's instructions, under 3 % for the two).
_MAY_OPEN = re.compile(rb'\[(?:[A-CE-Z_0-9a-f"]|D(?!ONE\]))')
_ESCAPE = b"\\u"
_DIGITS = frozenset("0123456789")
_DIGIT_BYTES = frozenset(b"0123456789")


def _detector(title: str) -> dict[str, Any]:
    return {"type": "boolean", "default": False, "title": f"Mask {title}"}


@register
class PIIMaskingRegex(Policy):
    name = "pii-masking-regex"
    display_name = "PII Masking Regex"
    description = (
        "Masks emails, phone numbers, SSNs and custom entities in prompts, and restores them "
        "in responses (or redacts them for good)."
    )
    phases = frozenset({Phase.REQUEST, Phase.RESPONSE, Phase.STREAM})
    stream_mode = StreamMode.WINDOW
    parameters_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "email": _detector("Email Addresses"),
            "phone": _detector("Phone Numbers"),
            "ssn": _detector("Social Security Numbers"),
            "customPIIEntities": {
                "type": "array",
                "default": [],
                "title": "Custom PII Entities",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "piiEntity": {
                            "type": "string",
                            "pattern": "^[A-Z_]+$",
                            "maxLength": _ENTITY_NAME_MAX,
                            "title": "Entity Name",
                        },
                        "piiRegex": {
                            "type": "string",
                            "minLength": 1,
                            "title": "Regular Expression (RE2)",
                        },
                    },
                    "required": ["piiEntity", "piiRegex"],
                },
            },
            "jsonPath": {
                "type": "string",
                "default": REQUEST_JSON_PATH,
                "title": "JSON Path",
                "description": "What to mask; empty or '$' masks every string in the body.",
                "x-advanced": True,
            },
            "redactPII": {
                "type": "boolean",
                "default": False,
                "title": "Redact PII",
                "description": "Replace with ***** for good instead of reversible placeholders.",
                "x-advanced": True,
            },
        },
    }

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        problem = path_error(params["jsonPath"])
        if problem:
            errors.append({"field": "params.jsonPath", "message": problem})
        seen = {BUILT_IN_ENTITIES[key][0] for key in BUILT_IN_ENTITIES if params[key]}
        for index, entity in enumerate(params["customPIIEntities"]):
            field = f"params.customPIIEntities.{index}"
            problem = regex_error(entity["piiRegex"])
            if problem is None and compile_re2(entity["piiRegex"]).search("") is not None:
                problem = "The pattern must not match empty text."
            if problem:
                errors.append({"field": f"{field}.piiRegex", "message": problem})
            if entity["piiEntity"] in seen:
                errors.append(
                    {"field": f"{field}.piiEntity", "message": "Entity names must be unique."}
                )
            seen.add(entity["piiEntity"])
        if not seen:
            errors.append(
                {
                    "field": "params",
                    "message": "Turn on email, phone or ssn, or add a custom PII entity.",
                }
            )
        return errors

    def setup(self, params: dict[str, Any]) -> None:
        entities = [(e["piiEntity"], e["piiRegex"]) for e in params["customPIIEntities"]]
        entities += [BUILT_IN_ENTITIES[key] for key in BUILT_IN_ENTITIES if params[key]]
        # One pass over the text for every entity: an alternation without capturing groups.
        # Leftmost-first, an entity's alternative wins a match only if no earlier entity
        # matches at its start, so the first entity whose own pattern spans exactly the match
        # is the one that made it (asked only when there is more than one entity).
        # Over UTF-8 bytes: the binding then has no character offsets to convert (half the
        # cost of masking a prompt with str patterns).
        self.pattern = compile_re2("|".join(f"(?:{pattern})" for _, pattern in entities).encode())
        self.entities = [
            (name, compile_re2(f"(?:{pattern})".encode())) for name, pattern in entities
        ]
        self.builtin_only = not params["customPIIEntities"]
        # Most prompts hold no PII: with built-in entities only, text that has neither an "@"
        # (every email) nor a digit (every phone number and SSN) is passed without RE2.
        needs = set()
        if params["email"]:
            needs.add("@")
        if params["phone"] or params["ssn"]:
            needs |= _DIGITS
        self.needs = frozenset(needs) if self.builtin_only else None
        self.path = compile_path(params["jsonPath"])
        self.redact = params["redactPII"]
        self.applies_to_response = not self.redact

    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        matches = self.path.find(ctx.body)
        if not matches:
            reason = f"No value found at JSONPath '{self.path.expression}'."
            return Verdict.intervene(reason, reason)
        changed = False
        for match in matches:
            targets = [match] if isinstance(match.value, str) else list(iter_strings(match.value))
            for target in targets:
                masked, found = self.mask(target.value, ctx.state)
                if found:
                    target.replace(masked)
                    changed = True
        return MODIFIED if changed else None

    def mask(self, text: str, state: dict[str, Any]) -> tuple[str, bool]:
        """``text`` with its PII replaced, and whether any was found; placeholders are kept in
        ``state`` (a ``PlaceholderMap`` made at the first one)."""
        if not text or (self.needs is not None and self.needs.isdisjoint(text)):
            return text, False
        data = text.encode()
        pieces: list[bytes] = []
        done = 0
        for match in self.pattern.finditer(data):
            start, end = match.span()
            pieces.append(data[done:start])
            pieces.append(self.replacement(data[start:end], state))
            done = end
        if not pieces:
            return text, False
        pieces.append(data[done:])
        return b"".join(pieces).decode(), True

    def scrub(self, data: bytes) -> tuple[bytes, int]:
        """UTF-8 ``data`` with each PII match replaced by its entity's name (``[EMAIL]``), and
        how many there were: for copies kept for inspection (the payload log), where no
        placeholder has to come back."""
        pieces: list[bytes] = []
        done = 0
        for match in self.pattern.finditer(data):
            start, end = match.span()
            pieces += (data[done:start], b"[%s]" % self.entity_of(data[start:end]).encode())
            done = end
        if not pieces:
            return data, 0
        pieces.append(data[done:])
        return b"".join(pieces), len(pieces) // 2

    def replacement(self, found: bytes, state: dict[str, Any]) -> bytes:
        """What a match becomes: ``*****``, or its placeholder (kept in ``state``)."""
        if self.redact:
            return REDACTED_BYTES
        original = found.decode()
        if PLACEHOLDER.fullmatch(original):
            return found  # already a placeholder: it stays as it is
        mapping = state.get(self.key)
        if mapping is None:
            mapping = state[self.key] = PlaceholderMap()
        return mapping.placeholder(original, self.entity_of(found)).encode()

    def entity_of(self, found: bytes) -> str:
        """The entity whose pattern made the match ``found``."""
        if len(self.entities) == 1:
            return self.entities[0][0]
        if self.builtin_only:
            # Built-in matches tell themselves apart: only an email holds an "@"; an SSN
            # has exactly 9 digits, a phone number 10 or 11.
            if b"@" in found:
                return "EMAIL"
            names = {name for name, _ in self.entities}
            if "SSN" not in names or "PHONE" not in names:
                return "SSN" if "SSN" in names else "PHONE"
            return "SSN" if sum(byte in _DIGIT_BYTES for byte in found) == 9 else "PHONE"
        for name, pattern in self.entities:
            if pattern.fullmatch(found) is not None:
                return name
        return self.entities[0][0]

    async def on_response(self, ctx: ResponseContext) -> Verdict | None:
        mapping = ctx.state.get(self.key)
        if not mapping:
            return None
        raw = ctx.raw
        if mapping.raw is not None and b"\\u" not in raw:
            # Restored in the bytes, without parsing the answer or serialising it again.
            restored, changed = mapping.restore_raw(raw)
            if changed:
                ctx.replace_raw(restored)
                return MODIFIED
            return None
        body = ctx.body
        if not isinstance(body, dict | list):
            return None
        return MODIFIED if _restore_all(body, mapping.originals) else None

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        mapping = ctx.state.get(self.key)
        return PlaceholderJudge(mapping) if mapping else None


class PlaceholderMap:
    """One request's placeholders, kept in its state between the request and the response."""

    __slots__ = ("originals", "placeholders", "raw")

    def __init__(self) -> None:
        self.placeholders: dict[str, str] = {}  # original -> placeholder
        self.originals: dict[str, str] = {}  # placeholder -> original
        # Each placeholder's bytes and its original as JSON text, for restoring raw JSON; None
        # once an original holds a "[" (replacing one after another could then restore a
        # placeholder that an earlier original brought in, where one pass over text does not).
        self.raw: dict[bytes, bytes] | None = {}

    def __bool__(self) -> bool:
        return bool(self.originals)

    def placeholder(self, original: str, entity: str) -> str:
        """The placeholder of ``original``, made the first time it is seen."""
        placeholder = self.placeholders.get(original)
        if placeholder is None:
            placeholder = f"[{entity}_{len(self.originals):04x}]"
            self.placeholders[original] = placeholder
            self.originals[placeholder] = original
            if self.raw is not None:
                if "[" in original:
                    self.raw = None
                else:
                    self.raw[placeholder.encode()] = orjson.dumps(original)[1:-1]
        return placeholder

    def restore_raw(self, data: bytes) -> tuple[bytes, bool]:
        """JSON bytes with the placeholders restored (``raw`` must not be None), and whether
        any was found."""
        changed = False
        for placeholder, original in self.raw.items():
            if placeholder in data:
                data = data.replace(placeholder, original)
                changed = True
        return data, changed


def restore(text: str, originals: dict[str, str]) -> str:
    """``text`` with known placeholders replaced by the originals."""
    if "[" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: originals.get(m.group(), m.group()), text)


def _restore_all(value: dict | list, originals: dict[str, str]) -> bool:
    """Restore placeholders in every string inside ``value``, in place; True if any changed."""
    changed = False
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str):
            if "[" in item:
                restored = restore(item, originals)
                if restored != item:
                    value[key] = restored
                    changed = True
        elif isinstance(item, dict | list) and _restore_all(item, originals):
            changed = True
    return changed


class PlaceholderJudge(StreamJudge):
    """Restores placeholders in streamed text, holding back an unfinished one at the end."""

    def __init__(self, mapping: PlaceholderMap):
        self.originals = mapping.originals
        self.held = ""

    def raw_scan(self, events: bytes, start: int) -> int:
        # While the start of a placeholder is held, the next text must be seen; otherwise
        # only events where a placeholder could stand (see ``_MAY_OPEN``).
        if self.held:
            return start
        found = _MAY_OPEN.search(events, start)
        end = len(events) if found is None else found.start()
        escape = events.find(_ESCAPE, start, end)
        return end if escape == -1 else escape

    async def feed(self, text: str) -> StreamStep:
        if not self.held and "[" not in text:
            return StreamStep(text)
        buf = self.held + text
        cut = self._hold_tail(buf)
        return StreamStep(self._restore(buf[:cut]))

    async def finish(self) -> StreamStep:
        held, self.held = self.held, ""
        return StreamStep(self._restore(held) if held else "")

    def _restore(self, text: str) -> str:
        restored = restore(text, self.originals)
        if restored != text:
            self.modified = True
        return restored

    def _hold_tail(self, buf: str) -> int:
        """Hold back an unfinished placeholder at the end of ``buf`` (what was held before
        plus the new text): how much of ``buf`` goes out now."""
        # (A negative start counts from the end, down to 0: within the last LOOK_AHEAD.)
        start = buf.rfind("[", len(buf) - LOOK_AHEAD)
        if start != -1 and _PLACEHOLDER_START.match(buf, start):
            self.held = buf[start:]
            return start
        self.held = ""
        return len(buf)
