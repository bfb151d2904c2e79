"""Counting guardrails (word count, sentence count, content length in UTF-8 bytes): pass when
the selected text's count lies in [min, max] (inverted: outside it).

On a stream the count only grows, so a count above ``max`` stops the stream at once and a
count that reached ``min`` releases the text held so far: with ``min`` 0 nothing is held back.
An inverted range is only decided at the end, or as soon as the count passes ``max``.
"""

import re
from typing import Any, ClassVar

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


def counting_section(unit: str, json_path: str, enabled: bool) -> dict[str, Any]:
    """The schema of one direction (request or response) of a counting guardrail."""
    title = unit.title()
    return section_schema(
        {
            "min": {"type": "integer", "minimum": 0, "default": 0, "title": f"Minimum {title}"},
            "max": {"type": "integer", "minimum": 1, "title": f"Maximum {title}"},
        },
        json_path=json_path,
        enabled=enabled,
        required=("max",),
    )


def counting_schema(unit: str) -> dict[str, Any]:
    return sections_schema(
        counting_section(unit, REQUEST_JSON_PATH, True),
        counting_section(unit, RESPONSE_JSON_PATH, False),
    )


# ASCII bytes to b" " where ``str.split`` splits (it counts \x1c-\x1f as whitespace too)
# and to b"x" elsewhere: a word then starts wherever b" x" stands in b" " + translated text.
_WORD_BYTES = bytes(32 if chr(b).isspace() else 120 for b in range(256))


class WordCounter:
    """Counts whitespace-separated words incrementally; a word split across deltas counts once."""

    __slots__ = ("in_word", "value")

    @staticmethod
    def count(text: str) -> int:
        """The count of one whole text (what a fresh counter's ``add`` returns): for ASCII
        text, ``len(text.split())`` without making a string per word."""
        if text.isascii():
            return (b" " + text.encode().translate(_WORD_BYTES)).count(b" x")
        return len(text.split())

    @staticmethod
    def longest_within(count: int) -> int:
        """The most characters a text can have and still count no more than ``count``
        (words are separated by at least one character)."""
        return 2 * count

    def __init__(self) -> None:
        self.value = 0
        self.in_word = False

    def add(self, text: str) -> int:
        words = text.split()
        if words:
            self.value += len(words) - (1 if self.in_word and not text[0].isspace() else 0)
            self.in_word = not text[-1].isspace()
        elif text:
            self.in_word = False
        return self.value


_SENTENCE_END = re.compile(r"[.!?]")


class SentenceCounter:
    """Counts non-blank segments between ``.``, ``!`` and ``?``, incrementally."""

    __slots__ = ("closed", "open")

    @classmethod
    def count(cls, text: str) -> int:
        return cls().add(text)

    @staticmethod
    def longest_within(count: int) -> int:
        # A sentence is at least one character and each but the last ends in one more.
        return 2 * count

    def __init__(self) -> None:
        self.closed = 0
        self.open = False  # the current segment has non-blank text

    @property
    def value(self) -> int:
        return self.closed + (1 if self.open else 0)

    def add(self, text: str) -> int:
        pieces = _SENTENCE_END.split(text)
        self.open = self.open or (not pieces[0].isspace() and pieces[0] != "")
        for piece in pieces[1:]:
            if self.open:
                self.closed += 1
            self.open = piece != "" and not piece.isspace()
        return self.value


class ByteCounter:
    """Counts UTF-8 bytes."""

    __slots__ = ("value",)

    @staticmethod
    def count(text: str) -> int:
        return len(text.encode())

    @staticmethod
    def longest_within(count: int) -> int:
        return count // 4  # at most 4 UTF-8 bytes per character

    def __init__(self) -> None:
        self.value = 0

    def add(self, text: str) -> int:
        self.value += len(text.encode())
        return self.value


class CountingGuardrail(ContentGuardrail):
    noun: ClassVar[str]  # "word count"
    unit: ClassVar[str]  # "words"
    counter: ClassVar[type]
    stream_mode = StreamMode.CHUNK  # when min is 0 and not inverted; else the text is held

    @classmethod
    def check_section(cls, direction: str, section: dict[str, Any]) -> list[dict[str, str]]:
        if section["min"] > section["max"]:
            return [
                {
                    "field": f"params.{direction}.min",
                    "message": f"Minimum {cls.noun} must not exceed the maximum.",
                }
            ]
        return []

    def setup(self, params: dict[str, Any]) -> None:
        super().setup(params)
        response = self.response
        if response is not None and (response.invert or response.params["min"] > 0):
            self.stream_mode = StreamMode.END

    def judge_text(self, section: Section, text: str) -> Verdict | None:
        low, high = section.params["min"], section.params["max"]
        if low == 0 and not section.invert and len(text) <= self.counter.longest_within(high):
            return None  # too short to count past the maximum (most prompts): no counting
        inside = low <= self.counter.count(text) <= high
        return None if inside != section.invert else self.violation(section)

    def violation(self, section: Section) -> Verdict:
        low, high = section.params["min"], section.params["max"]
        if section.invert:
            assessment = (
                f"Violation of {self.noun} detected. Expected {self.noun} to be outside the "
                f"range of {low} to {high} {self.unit}."
            )
        else:
            assessment = (
                f"Violation of {self.noun} detected. Expected between {low} and {high} {self.unit}."
            )
        return Verdict.intervene(
            f"Violation of applied {self.noun} constraints detected.",
            assessment,
            show_assessment=section.show_assessment,
        )

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        if self.response is None:
            return None
        return RangeJudge(self, self.response)


class RangeJudge(StreamJudge):
    """Streams a counting guardrail: see the module docstring."""

    def __init__(self, policy: CountingGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.counter = policy.counter()
        self.low = section.params["min"]
        self.high = section.params["max"]
        self.held: list[str] = []
        self.decided = False  # an inverted range already passed for good

    def _release(self, text: str) -> StreamStep:
        if self.held:
            self.held.append(text)
            text = "".join(self.held)
            self.held = []
        return StreamStep(text)

    async def feed(self, text: str) -> StreamStep:
        if self.decided:
            return StreamStep(text)
        n = self.counter.add(text)
        if self.section.invert:
            if n > self.high:
                self.decided = True
                return self._release(text)
        else:
            if n > self.high:
                return StreamStep("", self.policy.violation(self.section))
            if n >= self.low:
                return self._release(text)
        self.held.append(text)
        return StreamStep("")

    async def finish(self) -> StreamStep:
        if self.decided:
            return StreamStep("")
        n = self.counter.value
        if (self.low <= n <= self.high) == self.section.invert:
            return StreamStep("", self.policy.violation(self.section))
        return self._release("")


@register
class WordCountGuardrail(CountingGuardrail):
    name = "word-count-guardrail"
    display_name = "Word Count Guardrail"
    description = "Blocks prompts or responses whose word count falls outside a range."
    noun = "word count"
    unit = "words"
    counter = WordCounter
    parameters_schema = counting_schema("word count")


@register
class SentenceCountGuardrail(CountingGuardrail):
    name = "sentence-count-guardrail"
    display_name = "Sentence Count Guardrail"
    description = "Blocks prompts or responses whose sentence count falls outside a range."
    noun = "sentence count"
    unit = "sentences"
    counter = SentenceCounter
    parameters_schema = counting_schema("sentence count")


@register
class ContentLengthGuardrail(CountingGuardrail):
    name = "content-length-guardrail"
    display_name = "Content Length Guardrail"
    description = "Blocks prompts or responses whose size in UTF-8 bytes falls outside a range."
    noun = "content length"
    unit = "bytes"
    counter = ByteCounter
    parameters_schema = counting_schema("content length (bytes)")
