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
from collections.abc import Callable
from typing import Any

import orjson
from re2._re2 import RE2, CharLenToBytes

from guardrails.catalog.content import REQUEST_JSON_PATH
from guardrails.catalog.regex import NO_MATCH, UNANCHORED, compile_re2, regex_error
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
_REDACTED_BYTES = REDACTED.encode()
_new_tuple = tuple.__new__
ANCHOR_BOTH = RE2.Anchor.ANCHOR_BOTH
PLACEHOLDER = re.compile(r"\[[A-Z_]+_[0-9a-f]{4}\]")
# The unfinished start of a placeholder at the end of a streamed delta.
_PLACEHOLDER_START = re.compile(r"\[[A-Z_]*[0-9a-f]{0,4}\Z")
LOOK_AHEAD = 64
# Up to this many placeholders in a request, streamed text is restored by plain replacement.
_FEW = 8
# In raw SSE events: a "[" that could open a placeholder or the unfinished start of one: one
# followed by a capital, "_", a hex digit or the text's closing quote (so not "[{", "[]" or
# "[DONE]", the shapes JSON structure and the stream's end take).
_TEXT_BRACKET = re.compile(rb'\[(?:[A-CE-Z_0-9a-f"]|D(?!ONE\]))').search
# In raw bytes, from a "[" the veto found: what ``_hold_tail`` would hold back if the text
# ended after it (``_PLACEHOLDER_START`` without the end: capitals and "_" are never hex
# digits, so the longest run is the only one that can reach the end).
_HELD_RUN = re.compile(rb"\[[A-Z_]*[0-9a-f]{0,4}").match
_ENTITY_NAME_MAX = LOOK_AHEAD - 7  # "[" + name + "_" + 4 hex digits + "]"
# The ends of the first placeholders ("_0000]" ...), formatted once.
_SUFFIXES = tuple(f"_{count:04x}]" for count in range(_FEW))
_DIGITS = b"0123456789"
_BACKSLASH = ord("\\")


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
        # One pass over the text for every entity: an alternation without capturing groups
        # (RE2 finds its matches several times faster than with groups). Leftmost-first, an
        # entity's alternative wins a match only if no earlier entity matches at its start,
        # so the first entity whose own pattern spans exactly the match is the one that made
        # it (tried only when there is more than one entity).
        self.pattern = compile_re2("|".join(f"(?:{pattern})" for _, pattern in entities))
        self._regexp = self.pattern._regexp
        self._entities = tuple(
            (name, compile_re2(f"(?:{pattern})")._regexp.Match) for name, pattern in entities
        )
        self._only_entity = entities[0][0] if len(entities) == 1 else None
        # Most prompts hold no PII: without custom entities, text that has neither an "@"
        # (every email) nor a digit (every phone number and SSN) is passed without RE2.
        self._needs: tuple[str, ...] | None = None
        self._marks: bytes | None = None
        # With only one of phone numbers and SSNs on, a match without an "@" is that one.
        digit_entities = [BUILT_IN_ENTITIES[key][0] for key in ("phone", "ssn") if params[key]]
        self._digit_entity = digit_entities[0] if len(digit_entities) == 1 else None
        if not params["customPIIEntities"]:
            needs = []
            if params["email"]:
                needs.append("@")
            if params["phone"] or params["ssn"]:
                needs.extend("0123456789")
            self._needs = tuple(needs)
            # After a match, a rest of the text without any of them holds no further match:
            # knowing where the last of them stands spares the last (fruitless) pass of RE2.
            # (A translation table marking them "!": the last mark is one reverse search.)
            wanted = {ord(char) for char in needs}
            self._marks = bytes(33 if byte in wanted else 32 for byte in range(256))
        self.path = compile_path(params["jsonPath"])
        self.redact = params["redactPII"]
        self.applies_to_response = not self.redact

    def on_request(self, ctx: RequestContext) -> Verdict | None:
        matches = self.path.find(ctx.body)
        if not matches:
            reason = f"No value found at JSONPath '{self.path.expression}'."
            return Verdict.intervene(reason, reason)
        state = ctx.state
        changed = False
        for match in matches:
            value = match.value
            if isinstance(value, str):  # the usual case: the path selects the text itself
                masked = self.mask(value, state)
                if masked is not value:
                    match.replace(masked)
                    changed = True
                continue
            for target in list(iter_strings(value)):
                masked = self.mask(target.value, state)
                if masked is not target.value:
                    target.replace(masked)
                    changed = True
        return MODIFIED if changed else None

    def request_text_hook(self) -> "tuple[Any, Any] | None":
        return (self.path, self._mask_text) if self.path.steps else None

    def _mask_text(self, text: str, state: dict[str, Any]) -> str | None:
        masked = self.mask(text, state)
        return None if masked is text else masked

    def mask(self, text: str, state: dict[str, Any]) -> str:
        """``text`` with PII replaced (the same object when there is none); the placeholders
        are kept in ``state`` (a ``PlaceholderMap`` made at the first one).

        Equivalent to ``pattern.sub`` with a callback, but one call into RE2 per match over
        the UTF-8 bytes instead of the binding's match objects (several µs each)."""
        if not text:
            return text
        needs = self._needs
        if needs is not None:
            for char in needs:
                if char in text:
                    break
            else:
                return text
        data = text.encode()
        end = len(data)
        match = self._regexp.Match
        spans = match(UNANCHORED, data, 0, end)
        if spans[0] == NO_MATCH:
            return text
        pieces = []
        last = pos = 0
        marks = self._marks
        last_needed = end if marks is None else data.translate(marks).rfind(b"!")
        mapping = None
        if not self.redact:
            mapping = state.get(self.key)
            if mapping is None:
                mapping = state[self.key] = PlaceholderMap()
        while True:
            start, stop = spans[0]
            pieces.append(data[last:start])
            if mapping is None:
                pieces.append(_REDACTED_BYTES)
            else:
                pieces.append(self._placeholder(data, start, stop, mapping))
            last = stop
            # As the binding does: after an empty match, step over one character.
            if pos == end or stop > last_needed:
                break
            pos = pos + CharLenToBytes(data, pos, 1) if pos == stop else stop
            spans = match(UNANCHORED, data, pos, end)
            if spans[0] == NO_MATCH:
                break
        pieces.append(data[last:])
        masked = b"".join(pieces).decode()
        # A match means "modified", even when the text comes out equal; decoding may hand back
        # the shared object of a one-character string, so make it a distinct one.
        return masked if masked is not text else "".join(("", masked))

    def _placeholder(self, data: bytes, start: int, stop: int, mapping: "PlaceholderMap") -> bytes:
        """The placeholder's bytes for the match ``data[start:stop]``, kept in ``mapping``
        when it is a new one (a match that already is a placeholder stays as it is)."""
        span = data[start:stop]
        original = span.decode()
        placeholder = mapping.placeholders.get(original)
        if placeholder is not None:
            return placeholder.encode()
        if not original or (original[0] == "[" and PLACEHOLDER.fullmatch(original)):
            return span
        entity = self._only_entity
        if entity is None:
            entity = self._entity_at(data, start, stop, span)
        originals = mapping.originals
        count = len(originals)
        placeholder = "[" + entity + (_SUFFIXES[count] if count < _FEW else f"_{count:04x}]")
        mapping.placeholders[original] = placeholder
        originals[placeholder] = original
        encoded = placeholder.encode()
        raw = mapping.raw
        if raw is not None:
            if 91 in span:  # "[": see ``PlaceholderMap.raw``
                mapping.raw = None
            else:
                # As JSON text: the same bytes unless it holds what JSON escapes (printable
                # text escapes only quotes and backslashes; the rest is left to orjson).
                plain = original.isprintable() and '"' not in original and "\\" not in original
                raw[encoded] = span if plain else orjson.dumps(original)[1:-1]
        return encoded

    def _entity_at(self, data: bytes, start: int, stop: int, span: bytes) -> str:
        """The entity whose pattern made the match ``span`` (``data[start:stop]``), when
        there are several."""
        if self._needs is not None:
            # Built-in entities only: their matches tell themselves apart without another
            # pass through RE2 (each costs microseconds once its tables left the CPU cache):
            # only an email holds an "@", an SSN has exactly 9 digits, a phone number 10 or 11.
            if 64 in span:  # "@"
                return "EMAIL"
            if self._digit_entity is not None:  # phone numbers or SSNs, not both
                return self._digit_entity
            digits = len(span) - len(span.translate(None, _DIGITS))
            return "SSN" if digits == 9 else "PHONE"
        entities = self._entities
        for name, match in entities:
            if match(ANCHOR_BOTH, data, start, stop)[0] != NO_MATCH:
                return name
        return entities[0][0]

    def on_response(self, ctx: ResponseContext) -> Verdict | None:
        mapping = ctx.state.get(self.key)
        if not mapping or not isinstance(ctx.body, dict | list):
            return None
        return MODIFIED if _restore_all(ctx.body, mapping.originals) else None

    def on_response_raw(self, data: bytes, state: dict[str, Any]) -> bytes | None:
        """The raw JSON response with its placeholders restored, without parsing it or
        serialising it again; None when only the parsed body will do: a ``\\u`` escape
        could spell a placeholder, or an original holding a ``[`` could make one."""
        mapping = state.get(self.key)
        if mapping is None:
            return data
        pairs = mapping.raw
        if pairs is None or (_BACKSLASH in data and b"\\u" in data):
            return None
        for placeholder, original in pairs.items():
            # ``bytes.replace`` hands back the very object when there is nothing to replace,
            # so an answer without placeholders still reads as unchanged.
            data = data.replace(placeholder, original)
        return data

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        mapping = ctx.state.get(self.key)
        return PlaceholderJudge(mapping) if mapping is not None and mapping.originals else None


class PlaceholderMap:
    """One request's placeholders, kept in its state between the request and the response
    (filled in by ``PIIMaskingRegex._placeholder``)."""

    __slots__ = ("originals", "placeholders", "raw")

    def __init__(self) -> None:
        self.placeholders: dict[str, str] = {}  # original -> placeholder
        self.originals: dict[str, str] = {}  # placeholder -> original
        # Each placeholder's original as they appear in JSON text (bytes), or None once an
        # original holds a "[" (replacing one after another could then restore a placeholder
        # that an earlier original brought in, where one pass over the text does not).
        self.raw: dict[bytes, bytes] | None = {}

    def __bool__(self) -> bool:
        return bool(self.originals)

    def replaceable(self) -> bool:
        """Whether text can be restored pair by pair: no original holds a ``[`` (see
        ``raw``) and there are few enough for a loop over them to beat one regex pass."""
        return self.raw is not None and len(self.originals) <= _FEW

    def text_pairs(self) -> list[tuple[str, str]] | None:
        """Each placeholder and its original, when ``replaceable``; else None."""
        return list(self.originals.items()) if self.replaceable() else None


_NOTHING_HELD = StreamStep("")
_UNMADE = object()


def _held(events: bytes, pos: int = 0) -> bool:
    """A judge holding the start of a placeholder must see the next text."""
    return True


def restore(text: str, originals: dict[str, str]) -> str:
    """``text`` with known placeholders replaced by the originals (same object if none)."""
    if "[" not in text:
        return text
    restored = PLACEHOLDER.sub(lambda m: originals.get(m.group(), m.group()), text)
    return text if restored == text else restored


def _restore_all(value: dict | list, originals: dict[str, str]) -> bool:
    """Restore placeholders in every string inside ``value``, in place; True if any changed.
    (``iter_strings`` without a ``Match`` per string: most strings hold no placeholder.)"""
    changed = False
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str):
            if "[" in item:
                restored = restore(item, originals)
                if restored is not item:
                    value[key] = restored
                    changed = True
        elif isinstance(item, dict | list) and _restore_all(item, originals):
            changed = True
    return changed


class PlaceholderJudge(StreamJudge):
    """Restores placeholders in streamed text, holding back an unfinished one at the end."""

    def __init__(self, mapping: PlaceholderMap):
        self.mapping = mapping
        self.originals = mapping.originals
        # ``mapping.text_pairs()``, made when text is first restored: a stream that only
        # goes through ``feed_raw`` never needs it.
        self.pairs: list[tuple[str, str]] | object | None = _UNMADE
        self.held = ""
        # The text in a raw event can hold a "[" only as a literal "[" (followed by the text's
        # next character or its closing quote) or as a \u escape (never asked about, see
        # ``StreamJudge.raw_veto``). A placeholder, or the start of one this judge holds back,
        # follows its "[" with a capital, "_" or a hex digit, or ends the text (a closing
        # quote in the raw event): events without such a "[" are released unchanged. While a
        # placeholder's start is held, every event must be fed.
        self.raw_veto = _TEXT_BRACKET
        # Text restored by plain replacement can also be restored in raw events' bytes: each
        # placeholder's raw bytes and its original's (see ``RawCarrier``).
        self.rewrites = mapping.raw if mapping.replaceable() else None

    held_run = staticmethod(_HELD_RUN)  # see ``RawCarrier``

    def raw_feeder(self) -> "Callable[[str, bytes], bytes] | None":
        # (Handed out, never kept on the judge: a bound method there would make a cycle.)
        return self._feed_raw if self.rewrites is not None else None

    def raw_carrier(self) -> "PlaceholderJudge | None":
        return self if self.rewrites is not None else None

    def release_raw(self, events: bytes) -> bytes:
        restored = events
        for placeholder, original in self.rewrites.items():
            restored = restored.replace(placeholder, original)
        if restored is not events:
            self.modified = True
        return restored

    def _feed_raw(self, text: str, span: bytes) -> bytes:
        """``feed`` straight into a raw event (see ``StreamJudge.raw_feeder``): what is held
        is the ASCII start of a placeholder, so it is as many bytes as characters."""
        held = self.held
        buf = held + text if held else text
        out = held.encode() + span if held else span
        kept = len(buf) - self._hold_tail(buf)
        if kept:
            out = out[: len(out) - kept]
        return self.release_raw(out)

    def _restore(self, text: str) -> str:
        if "[" not in text:
            return text
        pairs = self.pairs
        if pairs is _UNMADE:
            pairs = self.pairs = self.mapping.text_pairs()
        if pairs is None:
            restored = restore(text, self.originals)
        else:
            # A few placeholders whose originals hold no "[": one replacement each, the
            # same result as the regex pass. ``str.replace`` hands back the very object
            # when there is nothing to replace, so ``restored is text`` means unchanged.
            restored = text
            for placeholder, original in pairs:
                restored = restored.replace(placeholder, original)
        if restored is not text:
            self.modified = True
        return restored

    def feed(self, text: str) -> StreamStep:
        if not self.held and "[" not in text:
            # Nothing held and no placeholder can start here: the text goes out unchanged.
            # (``StreamStep(text)``, minus the named tuple's Python-level constructor.)
            return _new_tuple(StreamStep, (text, None))
        buf = self.held + text
        buf = buf[: self._hold_tail(buf)]
        return _new_tuple(StreamStep, (self._restore(buf), None))

    def _hold_tail(self, buf: str) -> int:
        """Hold back an unfinished placeholder at the end of ``buf`` (what was held before
        plus the new text): how much of ``buf`` goes out now."""
        # (A negative start counts from the end, down to 0: within the last LOOK_AHEAD.)
        start = buf.rfind("[", len(buf) - LOOK_AHEAD)
        if start != -1 and _PLACEHOLDER_START.match(buf, start):
            self.held = buf[start:]
            self.raw_veto = _held
            return start
        if self.held:
            self.held = ""
            self.raw_veto = _TEXT_BRACKET
        return len(buf)

    def finish(self) -> StreamStep:
        held = self.held
        if not held:
            return _NOTHING_HELD
        self.held = ""
        self.raw_veto = _TEXT_BRACKET
        return _new_tuple(StreamStep, (self._restore(held), None))
