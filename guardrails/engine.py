"""The guardrail chain runner used by the gateway.

``compile_chain`` turns a deployment snapshot's attachments into compiled policy instances,
once per snapshot. Per request the data plane calls:

- ``await chain.run_request(body, state)`` with the parsed JSON request body (policies may
  change it in place; ``result.body`` is the body to forward) and a fresh ``state`` dict it
  keeps for the response;
- ``await chain.run_response(body, state)`` with a parsed, successful JSON response;
- for a streamed response, ``guard = chain.stream(state)``, then ``await guard.feed(delta)``
  for each text delta and ``await guard.finish()`` at the end of the stream. Each returns
  ``(text_to_release, intervention)``: send only the released text, and on an intervention end
  the stream with an error event built from ``intervention_body``.

An intervention becomes the 422 body of ``intervention_body`` (400 for the prompt policies'
``*_ERROR`` types). ``result.events`` / ``guard.events`` list what each policy did, for the
usage record. An empty chain costs one attribute check: test ``chain.has_request`` /
``has_response`` before parsing any body.
"""

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardrails.registry import (
    Action,
    Direction,
    ParameterError,
    Policy,
    RawCarrier,
    RequestContext,
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


class Chain:
    """Compiled policies in execution order: requests run the proxy chain then the provider
    chain; responses run the provider chain then the proxy chain."""

    __slots__ = (
        "_raw_response_hooks",
        "_request_hooks",
        "_response_hooks",
        "_text_plan",
        "has_request",
        "has_response",
        "request_policies",
        "response_policies",
    )

    def __init__(self, request_policies: list[Policy], response_policies: list[Policy]):
        self.request_policies = tuple(request_policies)
        self.response_policies = tuple(response_policies)
        self.has_request = bool(self.request_policies)
        self.has_response = bool(self.response_policies)
        # Bound hooks looked up once per snapshot rather than per request, each with whether
        # it must be awaited, and each policy's event rows built once.
        request, response = Direction.REQUEST, Direction.RESPONSE
        self._request_hooks = tuple(_hook(p, p.on_request, request) for p in request_policies)
        self._response_hooks = tuple(_hook(p, p.on_response, response) for p in response_policies)
        self._text_plan = _text_plan(self.request_policies, self._request_hooks)
        self._raw_response_hooks = (
            tuple(_hook(p, p.on_response_raw, response) for p in self.response_policies)
            if self.response_policies
            and all(p.on_response_raw is not None for p in self.response_policies)
            else None
        )

    def __bool__(self) -> bool:
        return self.has_request or self.has_response

    async def run_request(self, body: Any, state: dict[str, Any]) -> ChainResult:
        found = self.run_request_now(body, state)
        return found if type(found) is ChainResult else await found

    def run_request_now(
        self, body: Any, state: dict[str, Any]
    ) -> "ChainResult | Awaitable[ChainResult]":
        """``run_request`` with no coroutine when every policy reads the one text (the usual
        chain): the result itself, else an awaitable giving it."""
        plan = self._text_plan
        if plan is not None:
            result = _run_on_text(plan, body, state)
            if result is not None:
                return result
        return self._run(self._request_hooks, RequestContext(body, state))

    async def run_response(self, body: Any, state: dict[str, Any]) -> ChainResult:
        return await self._run(self._response_hooks, ResponseContext(body, state))

    def run_response_raw(self, data: bytes, state: dict[str, Any]) -> ChainResult | None:
        """The response phase on a plain response's raw JSON, when every response policy can
        work on it: ``result.body`` is the bytes to send. None when some policy needs the
        parsed body: then run ``run_response`` on it instead."""
        hooks = self._raw_response_hooks
        if hooks is None:
            return None
        events: list[dict[str, str]] = []
        modified = False
        for policy, hook, _, rows in hooks:
            try:
                out = hook(data, state)
            except Exception:
                events.append(rows[Action.INTERVENED])
                return ChainResult(data, _failure(policy, Direction.RESPONSE), modified, events)
            if out is None:
                return None
            if out is data:
                events.append(rows[Action.PASSED])
            else:
                data, modified = out, True
                events.append(rows[Action.MODIFIED])
        return ChainResult(data, None, modified, events)

    async def _run(self, hooks: tuple["_Hook", ...], ctx: RequestContext) -> ChainResult:
        result = ChainResult(ctx.body)
        if not hooks:
            return result
        events = result.events
        for policy, hook, awaited, rows in hooks:
            try:
                verdict = (await hook(ctx)) if awaited else hook(ctx)
            except Exception:
                result.intervention = _failure(policy, ctx.direction)
                events.append(rows[Action.INTERVENED])
                break
            if verdict is None or verdict.action == Action.PASSED:
                events.append(rows[Action.PASSED])
            elif verdict.intervened:
                result.intervention = _intervention(policy, ctx.direction, verdict)
                events.append(rows[Action.INTERVENED])
                break
            else:
                result.modified = True
                events.append(rows[Action.MODIFIED])
        result.body = ctx.body
        return result

    def stream(self, state: dict[str, Any]) -> "StreamGuard":
        ctx = ResponseContext(None, state)
        judges = []
        for policy in self.response_policies:
            judge = policy.stream_judge(ctx)
            if judge is not None:
                judges.append((policy, judge))
        return StreamGuard(judges, self._response_hooks)


_Hook = tuple[Policy, Callable[[RequestContext], Any], bool, dict[str, dict[str, str]]]


def _hook(policy: Policy, hook: Callable[[RequestContext], Any], direction: str) -> _Hook:
    """A policy's hook with whether it is async and its event rows by action, each a usage
    record row as it is (shared and read only: the usage record keeps them as they are)."""
    rows = {
        action: {"policy": policy.name, "action": action, "direction": direction}
        for action in (Action.PASSED, Action.MODIFIED, Action.INTERVENED)
    }
    return policy, hook, inspect.iscoroutinefunction(hook), rows


# A chain whose request policies all read (or rewrite) the text at one path: the path and,
# per policy, its text hook and event rows.
_TextPlan = tuple[Any, tuple[tuple[Policy, Callable[[str, dict[str, Any]], Any], dict], ...]]


def _text_plan(policies: Sequence[Policy], hooks: Sequence[_Hook]) -> _TextPlan | None:
    """The plan for ``_run_on_text``, when every request policy offers a text hook on the
    same path of names and indexes (the usual chain: all on ``$.messages[-1].content``)."""
    if not policies:
        return None
    path, steps, planned = None, None, []
    for policy, (_, _, _, rows) in zip(policies, hooks, strict=True):
        offered = policy.request_text_hook()
        if offered is None:
            return None
        hook_path, hook = offered
        if steps is None:
            path, steps = hook_path, hook_path.steps
        elif hook_path.steps != steps:
            return None
        planned.append((policy, hook, rows))
    return path, tuple(planned)


def _run_on_text(plan: _TextPlan, body: Any, state: dict[str, Any]) -> ChainResult | None:
    """The request phase on the one text every policy reads: found once, handed from policy
    to policy (rewritten by those that rewrite it) and written back once. None when the
    body has no string at the path: each policy then says what it makes of that."""
    path, hooks = plan
    place = path.place(body)
    if place is None:
        return None
    container, key = place
    text = original = container[key]
    if type(text) is not str:
        return None
    result = ChainResult(body)
    events = result.events
    for policy, hook, rows in hooks:
        try:
            out = hook(text, state)
        except Exception:
            result.intervention = _failure(policy, Direction.REQUEST)
            events.append(rows[Action.INTERVENED])
            break
        if out is None:
            events.append(rows[Action.PASSED])
        elif type(out) is str:
            text, result.modified = out, True
            events.append(rows[Action.MODIFIED])
        elif out.intervened:
            result.intervention = _intervention(policy, Direction.REQUEST, out)
            events.append(rows[Action.INTERVENED])
            break
        elif out.action == Action.PASSED:
            events.append(rows[Action.PASSED])
        else:
            result.modified = True
            events.append(rows[Action.MODIFIED])
    if text is not original:
        container[key] = text
    return result


EMPTY_CHAIN = Chain([], [])
_NO_RAW = StreamJudge.passes_raw


class StreamGuard:
    """Runs a streamed response's text through each policy's judge, in response order: what
    one judge releases (possibly rewritten, e.g. placeholders restored) feeds the next, and
    only what the last one releases reaches the client."""

    __slots__ = ("_hooks", "_judges", "_raw_judges", "_stopped_by", "intervention")

    def __init__(self, judges: list[tuple[Policy, StreamJudge]], hooks: Sequence["_Hook"]):
        self._judges = judges
        self._hooks = hooks  # every response policy's, for its event rows
        self._stopped_by: Policy | None = None
        self.intervention: Intervention | None = None
        # The judges themselves, when every one of them can tell from the raw bytes.
        raw_judges: list[StreamJudge] | None = []
        for _, judge in judges:
            if judge.raw_veto is None and type(judge).passes_raw is _NO_RAW:
                raw_judges = None
                break
            raw_judges.append(judge)
        self._raw_judges = raw_judges

    def raw_judge(self) -> "StreamJudge | StreamGuard | None":
        """Whose ``raw_veto`` attribute a relay loop reads before each read of raw events
        (it changes as the guard is fed): the only judge's when it keeps one, else the
        guard's own (``passes_raw`` of every judge); None when some judge cannot tell from
        raw bytes."""
        judges = self._raw_judges
        if judges is None:
            return None
        if len(judges) == 1 and judges[0].raw_veto is not None:
            return judges[0]
        return self

    def raw_feeder(self) -> "Callable[[str, bytes], bytes] | None":
        """The only judge's ``feed_raw`` (see ``StreamJudge.raw_feeder``), else None.
        Whoever uses it calls ``judge_failed`` when it raises."""
        judges = self._judges
        return judges[0][1].raw_feeder() if len(judges) == 1 else None

    def raw_carrier(self) -> "RawCarrier | None":
        """The only judge's ``raw_carrier`` (see ``StreamJudge.raw_carrier``), else None."""
        judges = self._judges
        return judges[0][1].raw_carrier() if len(judges) == 1 else None

    def judge_failed(self) -> Intervention:
        """Stop the stream: the only judge failed outside ``feed`` (in ``feed_raw``)."""
        policy = self._judges[0][0]
        return self._stop(policy, _failure(policy, Direction.RESPONSE))[1]

    def raw_veto(self, events: bytes, pos: int = 0) -> bool | None:
        return None if self.passes_raw(events[pos:] if pos else events) else True

    def passes_raw(self, events: bytes) -> bool:
        """Whether every judge would release the text of these raw SSE events unchanged and
        stay as it is, so they can be relayed without decoding or feeding them."""
        judges = self._raw_judges
        if judges is None or self.intervention is not None:
            return False
        return all(judge.passes_raw(events) for judge in judges)

    async def feed(self, text: str) -> tuple[str, Intervention | None]:
        found = self.feed_now(text)
        return found if isinstance(found, tuple) else await found

    def feed_now(
        self, text: str
    ) -> "tuple[str, Intervention | None] | Awaitable[tuple[str, Intervention | None]]":
        """``feed`` without a coroutine when no judge has to wait: the answer itself, or an
        awaitable giving it (when a judge is async). The relay calls this once per event
        that carries text."""
        if self.intervention is not None:
            return "", self.intervention
        if len(self._judges) == 1 and text:
            # One judge (the usual case): no loop, and its step is the answer.
            policy, judge = self._judges[0]
            try:
                step = judge.feed(text)
            except Exception:
                return self._stop(policy, _failure(policy, Direction.RESPONSE))
            if not isinstance(step, tuple):  # an async judge's coroutine
                return self._settle(policy, step)
            if step[1] is None:
                return step  # (release, None): the answer as it is
            return self._judged(policy, step)
        return self._feed_all(text)

    def _judged(self, policy: Policy, step: tuple) -> tuple[str, Intervention | None]:
        verdict = step[1]
        if verdict is not None and verdict.intervened:
            return self._stop(policy, _intervention(policy, Direction.RESPONSE, verdict))
        return step[0], None

    async def _settle(self, policy: Policy, pending: Awaitable) -> tuple[str, Intervention | None]:
        try:
            step = await pending
        except Exception:
            return self._stop(policy, _failure(policy, Direction.RESPONSE))
        return self._judged(policy, step)

    async def _feed_all(self, text: str) -> tuple[str, Intervention | None]:
        for policy, judge in self._judges:
            if not text:
                break
            try:
                step = judge.feed(text)
                if not isinstance(step, tuple):
                    step = await step
            except Exception:
                return self._stop(policy, _failure(policy, Direction.RESPONSE))
            if step.verdict is not None and step.verdict.intervened:
                return self._stop(policy, _intervention(policy, Direction.RESPONSE, step.verdict))
            text = step.release
        return text, None

    def finish_now(
        self,
    ) -> "tuple[str, Intervention | None] | Awaitable[tuple[str, Intervention | None]]":
        """``finish`` without a coroutine when no judge has to wait (see ``feed_now``)."""
        if self.intervention is not None or len(self._judges) != 1:
            return self.finish()
        policy, judge = self._judges[0]
        try:
            step = judge.finish()
        except Exception:
            return self._stop(policy, _failure(policy, Direction.RESPONSE))
        if not isinstance(step, tuple):  # an async judge's coroutine
            return self._settle(policy, step)
        if step[1] is None:
            return step
        return self._judged(policy, step)

    async def finish(self) -> tuple[str, Intervention | None]:
        if self.intervention is not None:
            return "", self.intervention
        text = ""
        for policy, judge in self._judges:
            try:
                if text:
                    step = judge.feed(text)
                    if not isinstance(step, tuple):
                        step = await step
                    if step.verdict is not None and step.verdict.intervened:
                        return self._stop(
                            policy, _intervention(policy, Direction.RESPONSE, step.verdict)
                        )
                    text = step.release
                step = judge.finish()
                if not isinstance(step, tuple):
                    step = await step
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
        hooks, judges = self._hooks, self._judges
        if len(hooks) == 1 and len(judges) == 1 and self._stopped_by is None:
            # The usual stream: one response policy, judging it.
            rows = hooks[0][3]
            return [rows[Action.MODIFIED if judges[0][1].modified else Action.PASSED]]
        modified = [policy for policy, judge in judges if judge.modified]
        events = []
        for policy, _, _, rows in self._hooks:
            if policy is self._stopped_by:
                events.append(rows[Action.INTERVENED])
                break
            events.append(rows[Action.MODIFIED if policy in modified else Action.PASSED])
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
