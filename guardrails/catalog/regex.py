"""Regex guardrail: the selected text must match a pattern (or, inverted, must not).

Every user-supplied pattern is compiled with RE2, which runs in time linear in the input, so
a crafted prompt cannot stall a gateway worker (no backtracking; no backreferences or
lookaround either, as in Go's regexp, which the reference product uses).
"""

import re
from collections.abc import Callable
from typing import Any

import re2

from guardrails.catalog.content import (
    REQUEST_JSON_PATH,
    RESPONSE_JSON_PATH,
    ContentGuardrail,
    Section,
    section_schema,
    sections_schema,
)
from guardrails.registry import (
    ResponseContext,
    StreamJudge,
    StreamMode,
    StreamStep,
    Verdict,
    register,
)

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

# How much streamed text a blocklist holds back so a match split across deltas is caught
# before any of it is released. Longer matches spanning deltas are caught only if they
# start within this window.
STREAM_WINDOW = 1024


def compile_re2(pattern: str) -> Any:
    """Compile ``pattern`` with RE2; raises ``ValueError`` with a readable message."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise ValueError(f"Invalid regular expression: {detail}.") from None


def re2_found(compiled: Any, text: str) -> bool:
    """Whether ``compiled`` (from ``compile_re2``) matches anywhere in ``text``."""
    return compiled.search(text) is not None


# A pattern that is plain text, optionally case-insensitive: no character in it means anything
# to RE2 outside a character class.
_LITERAL = re.compile(r"(\(\?i\))?([A-Za-z0-9 ,:;'\"!@#%&=<>/~_-]+)")


def literal_finder(pattern: str, compiled: Any) -> Callable[[str], bool] | None:
    """For a pattern that is plain text (``(?i)ignore previous instructions``), a substring
    test giving ``re2_found``'s answer without the call into RE2; None for any other pattern.
    A case-insensitive pattern is tested on ASCII text only: RE2 folds a few other characters
    onto ASCII letters (the Kelvin sign onto k), so other text still goes to RE2."""
    match = _LITERAL.fullmatch(pattern)
    if match is None:
        return None
    literal = match.group(2)
    if match.group(1) is None:
        return lambda text: literal in text
    folded = literal.lower()

    def found(text: str) -> bool:
        if text.isascii():
            return folded in text.lower()
        return re2_found(compiled, text)

    return found


def regex_error(pattern: str) -> str | None:
    try:
        compile_re2(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def _regex_section(json_path: str, enabled: bool) -> dict[str, Any]:
    return section_schema(
        {
            "regex": {
                "type": "string",
                "minLength": 1,
                "title": "Regular Expression",
                "description": "RE2 syntax; prefix with (?i) for a case-insensitive match.",
            }
        },
        json_path=json_path,
        enabled=enabled,
        required=("regex",),
    )


@register
class RegexGuardrail(ContentGuardrail):
    name = "regex-guardrail"
    display_name = "Regex Guardrail"
    description = (
        "Requires the text to match a regular expression, or with invert, blocks text that "
        "matches it."
    )
    stream_mode = StreamMode.WINDOW
    parameters_schema = sections_schema(
        _regex_section(REQUEST_JSON_PATH, True), _regex_section(RESPONSE_JSON_PATH, False)
    )

    @classmethod
    def check_section(cls, direction: str, section: dict[str, Any]) -> list[dict[str, str]]:
        problem = regex_error(section["regex"])
        return [{"field": f"params.{direction}.regex", "message": problem}] if problem else []

    def prepare(self, section: Section) -> Any:
        compiled = compile_re2(section.params["regex"])
        section.finder = literal_finder(section.params["regex"], compiled)
        return compiled

    def judge_text(self, section: Section, text: str) -> Verdict | None:
        finder = section.finder
        matched = finder(text) if finder is not None else re2_found(section.compiled, text)
        return None if matched != section.invert else self.violation(section)

    def violation(self, section: Section) -> Verdict:
        return Verdict.intervene(
            "Violation of regular expression detected.",
            "Violation of regular expression detected. "
            f"Violated regular expression: {section.params['regex']}",
            show_assessment=section.show_assessment,
        )

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        if self.response is None:
            return None
        if self.response.invert:
            return BlocklistJudge(self, self.response)
        return AllowlistJudge(self, self.response)


class BlocklistJudge(StreamJudge):
    """Inverted regex on a stream: releases text once it is ``STREAM_WINDOW`` characters
    behind the newest delta without a match; a match stops the stream before any of it is
    released. A match touching the end of what arrived so far may still depend on what follows
    (``$``, ``\\b``), so it is held, not judged, until more text or the end arrives."""

    def __init__(self, policy: RegexGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.pattern = section.compiled
        self.held = ""
        self.context = ""  # the last released character, so ^ and \b read correctly

    async def feed(self, text: str) -> StreamStep:
        buf = self.context + self.held + text
        start = len(self.context)
        cut = max(start, len(buf) - STREAM_WINDOW)
        match = self.pattern.search(buf, start)
        if match is not None:
            if match.end() < len(buf):
                return StreamStep("", self.policy.violation(self.section))
            cut = min(cut, match.start())
        released = buf[start:cut]
        self.held = buf[cut:]
        if released:
            self.context = released[-1]
        return StreamStep(released)

    async def finish(self) -> StreamStep:
        buf = self.context + self.held
        if self.pattern.search(buf, len(self.context)) is not None:
            return StreamStep("", self.policy.violation(self.section))
        released, self.held = self.held, ""
        return StreamStep(released)


class AllowlistJudge(StreamJudge):
    """Regex that must match, on a stream: text is held until a match is certain, then
    everything flows; the end of the stream settles it with one search of the whole text."""

    def __init__(self, policy: RegexGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.pattern = section.compiled
        self.parts: list[str] = []
        # The latest text, searched again with each delta; once trimmed, its first character
        # is context only, so ^ cannot match mid-text and \b reads correctly.
        self.window = ""
        self.window_start = 0
        self.matched = False

    async def feed(self, text: str) -> StreamStep:
        if self.matched:
            return StreamStep(text)
        self.parts.append(text)
        buf = self.window + text
        match = self.pattern.search(buf, self.window_start)
        if match is not None and match.end() < len(buf):
            self.matched = True
            released = "".join(self.parts)
            self.parts = []
            return StreamStep(released)
        if len(buf) > STREAM_WINDOW:
            self.window, self.window_start = buf[-(STREAM_WINDOW + 1) :], 1
        else:
            self.window = buf
        return StreamStep("")

    async def finish(self) -> StreamStep:
        if self.matched:
            return StreamStep("")
        text = "".join(self.parts)
        self.parts = []
        if self.pattern.search(text) is None:
            return StreamStep("", self.policy.violation(self.section))
        return StreamStep(text)
