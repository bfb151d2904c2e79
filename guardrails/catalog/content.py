"""Shared shape of the content guardrails: independent ``request`` and ``response`` sections,
each with ``enabled``, ``jsonPath``, ``invert`` and ``showAssessment``, judging the text found
at ``jsonPath`` (or, on a streamed response, the streamed text)."""

from dataclasses import dataclass
from typing import Any, ClassVar

from guardrails.jsonpath import CompiledPath, PathProblem, compile_path, path_error
from guardrails.registry import (
    Phase,
    Policy,
    RequestContext,
    ResponseContext,
    StreamJudge,
    StreamStep,
    Verdict,
)

REQUEST_JSON_PATH = "$.messages[-1].content"
RESPONSE_JSON_PATH = "$.choices[0].message.content"


def json_path_property(default: str) -> dict[str, Any]:
    return {
        "type": "string",
        "default": default,
        "title": "JSON Path",
        "description": "Selects the text to inspect; empty or '$' means the whole body.",
        "x-advanced": True,
    }


def flag_property(title: str, *, default: bool = False, advanced: bool = True) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": "boolean", "default": default, "title": title}
    if advanced:
        prop["x-advanced"] = True
    return prop


def section_schema(
    properties: dict[str, Any],
    *,
    json_path: str,
    enabled: bool,
    required: tuple[str, ...] = (),
    invert: bool = True,
) -> dict[str, Any]:
    """The schema of one direction (request or response) of a content guardrail."""
    props: dict[str, Any] = {"enabled": flag_property("Enabled", default=enabled, advanced=False)}
    props.update(properties)
    props["jsonPath"] = json_path_property(json_path)
    if invert:
        props["invert"] = flag_property("Invert the Guardrail Decision")
    props["showAssessment"] = flag_property("Show Guardrail Assessment")
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def sections_schema(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"request": request, "response": response},
        "anyOf": [{"required": ["request"]}, {"required": ["response"]}],
    }


@dataclass(slots=True)
class Section:
    """One direction's settings, compiled."""

    params: dict[str, Any]
    path: CompiledPath
    invert: bool
    show_assessment: bool
    compiled: Any = None  # whatever the policy pre-compiles for this direction
    finder: Any = None  # a policy's fast path, when its parameters allow one


class ContentGuardrail(Policy):
    """A guardrail that judges text in the request and/or the response."""

    phases = frozenset({Phase.REQUEST, Phase.RESPONSE, Phase.STREAM})
    directions: ClassVar[tuple[str, ...]] = ("request", "response")

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        present = [d for d in cls.directions if params.get(d)]
        for direction in present:
            section = params[direction]
            problem = path_error(section.get("jsonPath", ""))
            if problem:
                errors.append({"field": f"params.{direction}.jsonPath", "message": problem})
            errors.extend(cls.check_section(direction, section))
        if present and not any(params[d].get("enabled") for d in present):
            errors.append(
                {
                    "field": "params",
                    "message": 'Enable the request or the response section ("enabled": true).',
                }
            )
        return errors

    @classmethod
    def check_section(cls, direction: str, section: dict[str, Any]) -> list[dict[str, str]]:
        """Rules for one section the schema cannot express."""
        return []

    def setup(self, params: dict[str, Any]) -> None:
        self.request = self._section(params.get("request"))
        self.response = self._section(params.get("response"))
        self.applies_to_request = self.request is not None
        self.applies_to_response = self.response is not None

    def _section(self, raw: dict[str, Any] | None) -> Section | None:
        if not raw or not raw.get("enabled"):
            return None
        section = Section(
            params=raw,
            path=compile_path(raw.get("jsonPath", "")),
            invert=bool(raw.get("invert", False)),
            show_assessment=bool(raw.get("showAssessment", False)),
        )
        section.compiled = self.prepare(section)
        return section

    def prepare(self, section: Section) -> Any:
        """Pre-compile per-section data (a regex, a schema); stored as ``section.compiled``."""
        return None

    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        return self._judge_body(self.request, ctx.body)

    async def on_response(self, ctx: ResponseContext) -> Verdict | None:
        return self._judge_body(self.response, ctx.body)

    def _judge_body(self, section: Section | None, body: Any) -> Verdict | None:
        if section is None:
            return None
        try:
            text = section.path.text(body)
        except PathProblem as problem:
            return path_violation(section, problem)
        return self.judge_text(section, text)

    def judge_text(self, section: Section, text: str) -> Verdict | None:
        """Judge the whole text of one direction; None when it passes. (A guardrail that
        waits on I/O overrides the hooks with ``async`` ones, as the URL guardrail does.)"""
        raise NotImplementedError

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        if self.response is None:
            return None
        return WholeTextJudge(self, self.response)


def path_violation(section: Section, problem: PathProblem) -> Verdict:
    """JSONPath not found or not text: the guardrail intervenes and says so."""
    return Verdict.intervene(
        problem.reason, problem.reason, show_assessment=section.show_assessment
    )


class WholeTextJudge(StreamJudge):
    """Holds the whole streamed text back and judges it at the end ("end" mode)."""

    def __init__(self, policy: ContentGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.parts: list[str] = []

    async def feed(self, text: str) -> StreamStep:
        self.parts.append(text)
        return StreamStep("")

    async def finish(self) -> StreamStep:
        text = "".join(self.parts)
        self.parts = []
        verdict = self.policy.judge_text(self.section, text)
        if verdict is not None and verdict.intervened:
            return StreamStep("", verdict)
        return StreamStep(text)
