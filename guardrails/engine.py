"""The guardrail chain runner used by the gateway.

``compile_chain`` turns a deployment snapshot's attachments into compiled policy instances,
once per snapshot. Per request the data plane calls:

- ``await chain.run_request(body, state)`` with the parsed JSON request body (policies may
  change it in place; ``result.body`` is the body to forward) and a fresh ``state`` dict it
  keeps for the response;
- ``await chain.run_response(answer, state)`` with a successful complete response (see
  ``guardrails.registry.ResponseBody``), which policies may rewrite;
- for a streamed response, ``guard = chain.stream(state)``, then ``await guard.feed(delta)``
  for each text delta and ``await guard.finish()`` at the end of the stream. Each returns
  ``(text_to_release, intervention)``: send only the released text, and on an intervention end
  the stream with an error event built from ``intervention_body``. ``guard.raw_scan`` tells
  which raw events the guard would pass unchanged, so they need not be decoded.

An intervention becomes the 422 body of ``intervention_body`` (400 for the prompt policies'
``*_ERROR`` types). ``result.events`` / ``guard.events`` list what each policy did, for the
usage record.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from guardrails.registry import (
    Action,
    Direction,
    ParameterError,
    Policy,
    RequestContext,
    ResponseBody,
    ResponseContext,
    StreamJudge,
    Verdict,
    get_policy,
)

logger = logging.getLogger(__name__)

GUARDRAIL_INTERVENED = "GUARDRAIL_INTERVENED"


class ChainCompileError(ValueError):
    """An attachment in the snapshot names an unknown policy or carries unusable parameters."""


@dataclass(frozen=True, slots=True)
class Intervention:
    policy: str
    direction: str
    reason: str
    assessments: Any = None
    show_assessment: bool = False
    status: int = 422
    type: str = ""

    @property
    def message(self) -> str:
        """One readable line for SDK error messages and logs."""
        if self.status != 422:
            return self.reason
        where = "request" if self.direction == Direction.REQUEST else "response"
        return f"Guardrail {self.policy} intervened on the {where}: {self.reason}"


@dataclass(slots=True)
class ChainResult:
    body: Any
    intervention: Intervention | None = None
    modified: bool = False
    events: list[dict[str, str]] = field(default_factory=list)


def intervention_body(intervention: Intervention) -> dict[str, Any]:
    """The reference error body: ``{"type", "message": {"action": "GUARDRAIL_INTERVENED", ...}}``
    for a guardrail, ``{"type": "PROMPT_TEMPLATE_ERROR", "message": "..."}`` for a prompt policy
    that could not use the request."""
    if intervention.status != 422:
        return {"type": intervention.type, "message": intervention.reason}
    message: dict[str, Any] = {
        "action": GUARDRAIL_INTERVENED,
        "interveningGuardrail": intervention.policy,
        "direction": intervention.direction,
        "actionReason": intervention.reason,
    }
    if intervention.show_assessment and intervention.assessments is not None:
        message["assessments"] = intervention.assessments
    return {"type": intervention.type, "message": message}


def _intervention(policy: Policy, direction: str, verdict: Verdict) -> Intervention:
    return Intervention(
        policy=policy.name,
        direction=direction,
        reason=verdict.reason,
        assessments=verdict.assessments,
        show_assessment=verdict.show_assessment,
        status=verdict.status,
        type=verdict.error_type or policy.intervention_type,
    )


def _failure(policy: Policy, direction: str) -> Intervention:
    # A policy that breaks must not let the request through unchecked.
    logger.exception("Guardrail %s failed on the %s", policy.name, direction.lower())
    return Intervention(
        policy=policy.name,
        direction=direction,
        reason=f"Guardrail {policy.name} could not be evaluated.",
        status=500,
        type="GUARDRAIL_ERROR",
    )


def _event(policy: Policy, action: str, direction: str) -> dict[str, str]:
    """What one policy did, as the usage record lists it."""
    return {"policy": policy.name, "action": action, "direction": direction}


class Chain:
    """Compiled policies in execution order: requests run the proxy chain then the provider
    chain; responses run the provider chain then the proxy chain."""

    __slots__ = ("has_request", "has_response", "request_policies", "response_policies")

    def __init__(self, request_policies: list[Policy], response_policies: list[Policy]):
        self.request_policies = tuple(request_policies)
        self.response_policies = tuple(response_policies)
        self.has_request = bool(self.request_policies)
        self.has_response = bool(self.response_policies)

    def __bool__(self) -> bool:
        return self.has_request or self.has_response

    async def run_request(self, body: Any, state: dict[str, Any]) -> ChainResult:
        ctx = RequestContext(body, state)
        result = ChainResult(body)
        for policy in self.request_policies:
            if not await self._judge(policy, policy.on_request, ctx, result, Direction.REQUEST):
                break
        result.body = ctx.body
        return result

    async def run_response(self, answer: ResponseBody, state: dict[str, Any]) -> ChainResult:
        """The response phase on a complete response; ``answer`` holds what to send after
        (rewritten when ``result.modified``)."""
        ctx = ResponseContext(answer, state)
        result = ChainResult(None)
        for policy in self.response_policies:
            ctx.raw_replaced = False
            if not await self._judge(policy, policy.on_response, ctx, result, Direction.RESPONSE):
                return result
        ctx.settle()
        return result

    @staticmethod
    async def _judge(policy: Policy, hook, ctx, result: ChainResult, direction: str) -> bool:
        """Run one policy's hook; False when the chain stops there."""
        try:
            verdict = await hook(ctx)
        except Exception:
            result.intervention = _failure(policy, direction)
            result.events.append(_event(policy, Action.INTERVENED, direction))
            return False
        if verdict is None or verdict.action == Action.PASSED:
            result.events.append(_event(policy, Action.PASSED, direction))
            return True
        if verdict.intervened:
            result.intervention = _intervention(policy, direction, verdict)
            result.events.append(_event(policy, Action.INTERVENED, direction))
            return False
        result.modified = True
        if isinstance(ctx, ResponseContext) and not ctx.raw_replaced:
            ctx.dirty = True  # changed in place: serialised before anyone reads the bytes
        result.events.append(_event(policy, Action.MODIFIED, direction))
        return True

    def stream(self, state: dict[str, Any]) -> "StreamGuard":
        ctx = ResponseContext(_NO_BODY, state)
        judges = []
        for policy in self.response_policies:
            judge = policy.stream_judge(ctx)
            if judge is not None:
                judges.append((policy, judge))
        return StreamGuard(judges, self.response_policies)


class _NoBody:
    """What a stream judge's context holds instead of a complete response."""

    body = b""
    parsed = None

    def replace(self, body: bytes) -> None:
        raise TypeError("A streamed response has no complete body.")

    def changed(self) -> None:
        raise TypeError("A streamed response has no complete body.")


_NO_BODY = _NoBody()

EMPTY_CHAIN = Chain([], [])


class StreamGuard:
    """Runs a streamed response's text through each policy's judge, in response order: what
    one judge releases (possibly rewritten, e.g. placeholders restored) feeds the next, and
    only what the last one releases reaches the client."""

    __slots__ = ("_judges", "_policies", "_stopped_by", "intervention")

    def __init__(self, judges: list[tuple[Policy, StreamJudge]], policies: tuple[Policy, ...]):
        self._judges = judges
        self._policies = policies  # every response policy, for the usage record
        self._stopped_by: Policy | None = None
        self.intervention: Intervention | None = None

    def raw_scan(self, events: bytes, start: int) -> int:
        """The first byte from ``start`` some judge may need to see (see
        ``StreamJudge.raw_scan``); ``start`` after an intervention."""
        if self.intervention is not None:
            return start
        found = len(events)
        for _, judge in self._judges:
            found = min(found, judge.raw_scan(events, start))
            if found == start:
                break
        return found

    async def feed(self, text: str) -> tuple[str, Intervention | None]:
        """Judge the next text delta: the text released now, or the intervention."""
        if self.intervention is not None:
            return "", self.intervention
        for policy, judge in self._judges:
            if not text:
                break
            try:
                step = await judge.feed(text)
            except Exception:
                return self._stop(policy, _failure(policy, Direction.RESPONSE))
            if step.verdict is not None and step.verdict.intervened:
                return self._stop(policy, _intervention(policy, Direction.RESPONSE, step.verdict))
            text = step.release
        return text, None

    async def finish(self) -> tuple[str, Intervention | None]:
        """The end of the stream: what every judge still held, judged to the end."""
        if self.intervention is not None:
            return "", self.intervention
        text = ""
        for policy, judge in self._judges:
            try:
                if text:
                    step = await judge.feed(text)
                    if step.verdict is not None and step.verdict.intervened:
                        return self._stop(
                            policy, _intervention(policy, Direction.RESPONSE, step.verdict)
                        )
                    text = step.release
                step = await judge.finish()
            except Exception:
                return self._stop(policy, _failure(policy, Direction.RESPONSE))
            if step.verdict is not None and step.verdict.intervened:
                return self._stop(policy, _intervention(policy, Direction.RESPONSE, step.verdict))
            text += step.release
        return text, None

    def _stop(self, policy: Policy, intervention: Intervention) -> tuple[str, Intervention]:
        self._stopped_by = policy
        self.intervention = intervention
        return "", intervention

    @property
    def events(self) -> list[dict[str, str]]:
        """What each response policy did to this stream so far, for the usage record."""
        modified = {policy for policy, judge in self._judges if judge.modified}
        events = []
        for policy in self._policies:
            if policy is self._stopped_by:
                events.append(_event(policy, Action.INTERVENED, Direction.RESPONSE))
                break
            action = Action.MODIFIED if policy in modified else Action.PASSED
            events.append(_event(policy, action, Direction.RESPONSE))
        return events


def compile_policy(attachment: dict[str, Any]) -> Policy:
    """One snapshot attachment ``{"id", "policy", "version", "params"}`` as a ready instance."""
    name = attachment.get("policy")
    policy_class = get_policy(name)
    if policy_class is None:
        raise ChainCompileError(f"Unknown policy '{name}' (attachment {attachment.get('id')}).")
    version = attachment.get("version") or policy_class.version
    if version != policy_class.version:
        raise ChainCompileError(
            f"Policy '{name}' {version} is not available; this gateway runs "
            f"{policy_class.version} (attachment {attachment.get('id')})."
        )
    try:
        return policy_class.compile(
            attachment.get("params"), key=f"{name}:{attachment.get('id', '')}"
        )
    except ParameterError as exc:
        raise ChainCompileError(
            f"Invalid parameters for '{name}' (attachment {attachment.get('id')}): {exc}"
        ) from None


def compile_chain(
    proxy_attachments: list[dict[str, Any]], provider_attachments: list[dict[str, Any]]
) -> Chain:
    """Compile both chains of a deployment snapshot (each already in attachment order)."""
    if not proxy_attachments and not provider_attachments:
        return EMPTY_CHAIN
    proxy = [compile_policy(a) for a in proxy_attachments]
    provider = [compile_policy(a) for a in provider_attachments]
    return Chain(
        request_policies=[p for p in proxy + provider if p.applies_to_request],
        response_policies=[p for p in provider + proxy if p.applies_to_response],
    )
